"""Installing stores into the data directory, always verifying SHA-256 of the JSON content."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .catalog import ALL_STORES, CONTENT_SHA256, UPSTREAM_URL

DEFAULT_DATA_DIR = Path("~/.cache/autotts").expanduser()


class FetchError(RuntimeError):
    """A store could not be fetched or did not match its checksum."""


def data_dir(explicit: str | Path | None = None) -> Path:
    """The data directory: ``explicit``, else ``$AUTOTTS_DATA_DIR``, else ``~/.cache/autotts``."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("AUTOTTS_DATA_DIR")
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR


def installed_path(name: str, root: Path) -> Path:
    return root / f"{name}.json.gz"


def _content_digest(raw: bytes, origin: str = "") -> tuple[str, bytes]:
    """SHA-256 of the JSON content (gunzipped first when ``raw`` is gzip) and that content; a gzip
    file that is truncated or corrupt is a :class:`FetchError` naming ``origin``."""
    try:
        content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        raise FetchError(f"{origin or 'store'}: not a complete gzip file ({exc}); not installed") from None
    return hashlib.sha256(content).hexdigest(), content


def _read_source(source: str, name: str) -> tuple[bytes, str]:
    """Bytes of store ``name`` from a mirror folder, a mirror URL, or upstream (``source`` empty)."""
    if not source:
        url = UPSTREAM_URL.format(name=name)
        return _download(url), url
    if "://" in source:
        base = source.rstrip("/")
        for suffix in (".json.gz", ".json"):
            url = f"{base}/{name}{suffix}"
            try:
                return _download(url), url
            except FetchError:
                continue
        raise FetchError(f"{name}: not found under {base} (tried .json.gz and .json)")
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise FetchError(f"{folder}: no such folder")
    for suffix in (".json.gz", ".json"):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path.read_bytes(), str(path)
    raise FetchError(f"{name}: not found in {folder} (looked for {name}.json.gz and {name}.json)")


def _download(url: str, timeout: float = 60.0) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - user-chosen source
            return response.read()
    except OSError as exc:
        raise FetchError(f"{url}: download failed: {exc}") from None


@dataclass(frozen=True)
class Fetched:
    name: str
    path: Path
    origin: str
    sha256: str
    skipped: bool  # already installed with the right checksum


def fetch_store(name: str, root: Path, source: str = "", force: bool = False) -> Fetched:
    """Install one store as ``ROOT/MODEL/BENCH.json.gz`` after checking its content checksum."""
    expected = CONTENT_SHA256.get(name)
    if expected is None:
        raise FetchError(f"unknown store {name!r}; known: {', '.join(ALL_STORES)}")
    target = installed_path(name, root)
    if target.is_file() and not force:
        try:
            digest, _ = _content_digest(target.read_bytes(), str(target))
        except (FetchError, OSError):
            digest = ""  # a corrupt or truncated installed copy: install it again (that is the repair)
        if digest == expected:
            return Fetched(name, target, str(target), digest, skipped=True)
    raw, origin = _read_source(source, name)
    digest, content = _content_digest(raw, origin)
    if digest != expected:
        raise FetchError(f"{origin}: SHA-256 of the JSON content is {digest}, expected {expected}; not installed")
    target.parent.mkdir(parents=True, exist_ok=True)
    # write to a temporary file and rename, so an interrupted fetch never leaves half a store
    with (
        tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp,
        gzip.GzipFile(fileobj=tmp, mode="wb", mtime=0) as gz,
    ):
        gz.write(content)
    shutil.move(tmp.name, target)
    return Fetched(name, target, origin, digest, skipped=False)


def fetch_stores(
    names: Iterable[str],
    root: Path,
    source: str = "",
    force: bool = False,
    on_done: Callable[[Fetched], None] | None = None,
) -> list[Fetched]:
    done = []
    for name in names:
        item = fetch_store(name, root, source, force)
        done.append(item)
        if on_done:
            on_done(item)
    return done
