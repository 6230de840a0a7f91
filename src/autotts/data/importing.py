"""Installing a store of one's own (e.g. from ``autotts collect``) into the data directory.

An imported store sits beside the published ones as ``ROOT/MODEL/BENCH.json.gz`` with a checksum
file ``ROOT/MODEL/BENCH.json.gz.sha256`` (SHA-256 of the JSON content, as for the published stores),
so ``--store MODEL/BENCH`` finds it in every command.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .catalog import ALL_STORES, CONTENT_SHA256
from .fetch import FetchError, installed_path
from .store import Store, StoreError, load_store_file


@dataclass(frozen=True)
class Imported:
    name: str
    path: Path
    sha256: str
    store: Store


def content_sha256(path: Path) -> tuple[str, bytes]:
    """SHA-256 of a store file's JSON content; a truncated or corrupt gzip file is a
    :class:`FetchError` naming it."""
    raw = path.read_bytes()
    try:
        content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (EOFError, OSError) as exc:
        raise FetchError(f"{path}: not a complete gzip file ({exc})") from None
    return hashlib.sha256(content).hexdigest(), content


def _check_name(name: str) -> None:
    parts = name.split("/")
    if len(parts) != 2 or not all(parts) or any(p in (".", "..") or p.startswith(".") for p in parts):
        raise FetchError(f"--name must be MODEL/BENCH (two plain names), got {name!r}")


def import_store(path: str | Path, name: str, root: Path, *, force: bool = False) -> Imported:
    """Check ``path`` (schema, and its ``.sha256`` sidecar when there is one), then install it as
    store ``name``. A published store's name only takes that store's exact content; another store
    already installed under ``name`` is replaced only with ``force``."""
    path = Path(path)
    _check_name(name)
    if not path.is_file():
        raise FetchError(f"{path}: no such file")
    digest, content = content_sha256(path)
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.is_file():
        expected = sidecar.read_text(encoding="utf-8").split()[0] if sidecar.read_text().strip() else ""
        if expected != digest:
            raise FetchError(f"{path}: SHA-256 of the JSON content is {digest}, but {sidecar} says {expected!r}")
    if name in ALL_STORES and CONTENT_SHA256[name] != digest:
        raise FetchError(f"{name} is a published store's name; choose another --name for {path}")
    try:
        store = load_store_file(path, name)
    except StoreError as exc:
        raise FetchError(str(exc)) from None
    target = installed_path(name, root)
    if target.is_file() and not force:
        present, _ = content_sha256(target)
        if present != digest:
            raise FetchError(f"{target} already holds a different store {name!r}; use --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        with gzip.GzipFile(fileobj=tmp, mode="wb", mtime=0) as gz:
            gz.write(content)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, target)
    side = target.with_name(target.name + ".sha256")
    side.write_text(f"{digest}  {target.name}\n", encoding="utf-8")
    return Imported(name, target, digest, store)


def verify_installed(name: str, root: Path) -> str:
    """Check an installed store against its checksum (the catalog's, or its ``.sha256`` file)."""
    target = installed_path(name, root)
    digest, _ = content_sha256(target)
    expected = CONTENT_SHA256.get(name)
    if expected is None:
        side = target.with_name(target.name + ".sha256")
        expected = side.read_text(encoding="utf-8").split()[0] if side.is_file() else None
    if expected is None:
        raise FetchError(f"{target}: no checksum recorded (import it with `autotts data import`)")
    if digest != expected:
        raise FetchError(f"{target}: SHA-256 of the JSON content is {digest}, expected {expected}")
    return digest


def installed_stores(root: Path) -> list[str]:
    """Names of the stores installed under ``root``: published ones first, then imported ones."""
    names = [n for n in ALL_STORES if installed_path(n, root).is_file()]
    if root.is_dir():
        for path in sorted(root.glob("*/*.json.gz")):
            name = f"{path.parent.name}/{path.name.removesuffix('.json.gz')}"
            if name not in names:
                names.append(name)
    return names
