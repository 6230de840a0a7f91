"""The policy <-> environment protocol (version 1): how a controller and an environment talk when
they live in different processes. The full specification is ``docs/protocol.md``.

A **frame** is ``<u32 header length><u32 payload length>``, then the header, a UTF-8 JSON object,
then raw payload bytes (numpy arrays named in the header's ``"arrays"``; empty for most messages).
Every header carries ``"v"`` (the protocol version) and ``"t"`` (the message type). Headers are
encoded and parsed with ``orjson``, a strict and fast JSON library: this is the hot path of
sandboxed evaluation.

The environment side treats everything the policy side sends as untrusted input: frames have size
limits, JSON is the only encoding it decodes (never pickle), arrays are read with the dtype and shape
the environment expects, and every action is checked by the environment's own rules.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

import numpy as np
import orjson

VERSION = 1
_HEAD = struct.Struct("<II")
MAX_HEADER_BYTES = 16 << 20  # one message of a 750-episode block is well under 1 MB
MAX_PAYLOAD_BYTES = 256 << 20

# message types, policy -> environment
LOADED, FAILED, INSPECTED, ACT, BATCH_OP, PLAYED = "loaded", "failed", "inspected", "act", "batch_op", "played"
# message types, environment -> policy
LOAD, INSPECT, PLAY, OBS, BATCH_OBS, STOP = "load", "inspect", "play", "obs", "batch_obs", "stop"


class ProtocolError(ValueError):
    """A frame or message that does not follow the protocol."""


def write_frame(stream: BinaryIO, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
    """Send one message (``header`` gains ``v`` and, with arrays, their names, dtypes and shapes)."""
    header = {"v": VERSION, **header}
    payload = b""
    if arrays:
        parts, specs = [], []
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            specs.append([name, array.dtype.str, list(array.shape)])
            parts.append(array.tobytes())
        header["arrays"] = specs
        payload = b"".join(parts)
    text = orjson.dumps(header, default=_jsonable)
    stream.write(_HEAD.pack(len(text), len(payload)) + text + payload)
    stream.flush()


def read_frame(stream: BinaryIO, *, max_header: int = MAX_HEADER_BYTES) -> tuple[dict, dict[str, np.ndarray]] | None:
    """One message as ``(header, arrays)``, or None at end of stream. Raises :class:`ProtocolError`
    for anything malformed (sizes, JSON, version, array specifications)."""
    head = _read_exact(stream, _HEAD.size)
    if head is None:
        return None
    header_len, payload_len = _HEAD.unpack(head)
    if header_len > max_header or payload_len > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"a frame of {header_len + payload_len:,} bytes is over the protocol's limits")
    text = _read_exact(stream, header_len)
    payload = _read_exact(stream, payload_len) if payload_len else b""
    if text is None or payload is None:
        raise ProtocolError("the stream ended inside a frame")
    try:
        header = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"a frame's header is not JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("v") != VERSION or not isinstance(header.get("t"), str):
        raise ProtocolError(f"a message without protocol version {VERSION} and a type")
    return header, _arrays(header.get("arrays"), payload)


def _arrays(specs: Any, payload: bytes) -> dict[str, np.ndarray]:
    if specs is None:
        if payload:
            raise ProtocolError("payload bytes without array specifications")
        return {}
    if not isinstance(specs, list):
        raise ProtocolError("'arrays' must be a list")
    out: dict[str, np.ndarray] = {}
    offset = 0
    for spec in specs:
        if not (isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str) and spec[1] in ALLOWED_DTYPES):
            raise ProtocolError(f"a malformed array specification: {str(spec)[:80]}")
        shape = spec[2]
        if not (isinstance(shape, list) and len(shape) <= 2 and all(type(n) is int and 0 <= n < 2**31 for n in shape)):
            raise ProtocolError(f"array {spec[0]!r} has a malformed shape")
        dtype = np.dtype(spec[1])
        size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        if offset + size > len(payload):
            raise ProtocolError(f"array {spec[0]!r} runs past the payload")
        out[spec[0]] = np.frombuffer(payload, dtype=dtype, count=size // dtype.itemsize, offset=offset).reshape(shape)
        offset += size
    if offset != len(payload):
        raise ProtocolError("payload bytes left over after the arrays")
    return out


ALLOWED_DTYPES = frozenset({"<i8", "<i4", "|i1", "|b1", "<f8"})


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            if left == size:
                return None
            raise ProtocolError("the stream ended inside a frame")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
