"""Checking a block result from an environment process before the parent scores it.

The environment process is trusted code, but it is a separate process that talks to an untrusted one;
its results are JSON (never pickle) and every field is checked for type and shape against the block
the parent asked for, so a defect anywhere on the way is a recorded failure, not a wrong score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..evaluation.runner import Block

FAILURE_KINDS = frozenset({"error", "violation", "memory", "crash", "protocol"})


class ProtocolError(ValueError):
    """A worker's message does not have the shape the parent asked for."""


def parse_block(message: dict, job: dict, questions: int) -> tuple[Block, list[dict]]:
    """A :class:`Block` (without failures) and the failure records, from a worker's block message."""
    if message.get("id") != job["id"]:
        raise ProtocolError(f"the worker answered block {message.get('id')!r}, not {job['id']}")
    seeds = job["seed_hi"] - job["seed_lo"]
    answers = _matrix(message.get("answers"), seeds, questions, "answers", _is_answer)
    tokens = _matrix(message.get("tokens"), seeds, questions, "tokens", _is_count)
    latency = _matrix(message.get("latency"), seeds, questions, "latency", _is_count)
    failures = message.get("failures")
    if not isinstance(failures, list) or not all(_is_failure(f) for f in failures):
        raise ProtocolError("the worker sent malformed failure records")
    traces = message.get("traces")
    if not isinstance(traces, list) or not all(isinstance(t, dict) for t in traces):
        raise ProtocolError("the worker sent malformed traces")
    block = Block(
        job["cell"],
        job["seed_lo"],
        job["seed_hi"],
        answers,
        np.array(tokens, dtype=np.int64).reshape(seeds, questions),
        np.array(latency, dtype=np.int64).reshape(seeds, questions),
        [],
        traces if job["want_traces"] else [],
    )
    return block, failures


def _matrix(value: Any, rows: int, cols: int, name: str, ok: Any) -> list[list]:
    if not isinstance(value, list) or len(value) != rows:
        raise ProtocolError(f"the worker sent {name} of the wrong shape")
    for row in value:
        if not isinstance(row, list) or len(row) != cols or not all(ok(x) for x in row):
            raise ProtocolError(f"the worker sent malformed {name}")
    return value


def _is_answer(x: Any) -> bool:
    return x is None or type(x) is str


def _is_count(x: Any) -> bool:
    return type(x) is int and 0 <= x < 1 << 62


def _is_failure(f: Any) -> bool:
    return (
        isinstance(f, dict)
        and f.get("kind") in FAILURE_KINDS
        and type(f.get("seed")) is int
        and type(f.get("question")) is int
        and isinstance(f.get("error"), str)
    )
