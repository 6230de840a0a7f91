"""Provenance manifests: what produced a set of numbers, precisely enough to produce them again.

A manifest (``manifest.json`` beside the numbers) records, by content hash rather than by path,
everything a figure depends on: the autotts version and a hash of its source, Python and package
versions, the SHA-256 of every store read (of the JSON content, as the catalog checksums are), the
SHA-256 of every controller's source, the β grid, the seeds, the executor, the proposer, costs,
wall and CPU time and the command line. It also holds the *recipe* — the evaluation cells and the
figure derivations — and the figures themselves, so ``autotts verify`` can run the recipe again and
compare figure by figure. The schema is documented in ``docs/governance.md``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import inspect
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..data import store_path
from ..evaluation import Cell, ControllerSpec

SCHEMA = "autotts.manifest/1"
MANIFEST_NAME = "manifest.json"
PACKAGES = ("numpy", "scipy", "typer", "rich", "matplotlib")


class ManifestError(ValueError):
    """A manifest that cannot be read or used (the message names the file and field)."""


# ---------------------------------------------------------------------------------------- hashing


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """The byte form that hashes are taken of: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True).encode()


def sha256_json(value: Any) -> str:
    return sha256_bytes(canonical_json(value))


_SOURCE_HASH: str | None = None


def autotts_source_sha256() -> str:
    """SHA-256 over every ``.py`` file of the installed autotts package (relative path and content),
    so two installs with the same version string but different code are told apart."""
    global _SOURCE_HASH
    if _SOURCE_HASH is None:
        root = Path(__file__).resolve().parent.parent
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            digest.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        _SOURCE_HASH = digest.hexdigest()
    return _SOURCE_HASH


def store_sha256(name: str) -> str:
    """SHA-256 of an installed store's JSON content (gunzipped), as in the catalog's checksums; a
    store renamed or recompressed keeps its hash, one changed byte of content does not."""
    raw = store_path(name).read_bytes()
    content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    return sha256_bytes(content)


def is_file_ref(ref: str) -> bool:
    return ref.endswith(".py") or ".py:" in ref


def split_file_ref(ref: str) -> tuple[str, str | None]:
    """``path.py:Class`` → (``path.py``, ``Class``)."""
    if ".py:" in ref:
        path, _, cls = ref.rpartition(":")
        return path, cls or None
    return ref, None


def controller_record(ref: str, base: Path | None = None) -> dict[str, Any]:
    """What a manifest says about one controller reference: a built-in's module and the hash of its
    source file, or a file's path (relative to ``base`` when inside it) and the hash of its bytes."""
    if is_file_ref(ref):
        path_text, cls = split_file_ref(ref)
        path = Path(path_text)
        record: dict[str, Any] = {"kind": "file", "path": _relative(path, base), "class": cls}
        record["sha256"] = sha256_bytes(path.read_bytes()) if path.is_file() else None
        return record
    from ..controllers.base import get_controller_class

    cls_obj = get_controller_class(ref)
    module = sys.modules[cls_obj.__module__]
    source = Path(inspect.getsourcefile(module) or "")
    return {
        "kind": "builtin",
        "name": ref,
        "class": cls_obj.__name__,
        "module": cls_obj.__module__,
        "sha256": sha256_bytes(source.read_bytes()) if source.is_file() else None,
    }


def _relative(path: Path, base: Path | None) -> str:
    """Paths inside the manifest's own folder are kept relative, so the folder can move."""
    if base is not None:
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return str(path.resolve())


# ---------------------------------------------------------------------------------------- environment


def environment() -> dict[str, Any]:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "autotts": {"version": __version__, "source_sha256": autotts_source_sha256()},
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
        "platform": platform.platform(),
        "packages": packages,
    }


@dataclass
class Clock:
    """Wall and CPU time of a command (CPU includes finished worker processes)."""

    wall_start: float = field(default_factory=time.perf_counter)
    cpu_start: float = field(default_factory=lambda: _cpu_seconds())

    def snapshot(self) -> dict[str, float]:
        return {
            "wall_seconds": round(time.perf_counter() - self.wall_start, 3),
            "cpu_seconds": round(_cpu_seconds() - self.cpu_start, 3),
        }


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# ---------------------------------------------------------------------------------------- the recipe


def controller_key(ref: str, base: Path | None = None) -> str:
    """How a manifest names a controller: a built-in by name, a file by its path (relative to the
    manifest's folder when inside it, so a results or run folder can move) and class."""
    if not is_file_ref(ref):
        return ref
    path, cls = split_file_ref(ref)
    return _relative(Path(path), base) + (f":{cls}" if cls else "")


def cells_recipe(cells: Sequence[Cell], base: Path | None = None) -> tuple[dict[str, dict], list[dict]]:
    """Controllers (by key) and cells in JSON form; cells name their controller by key."""
    controllers: dict[str, dict] = {}
    out = []
    for cell in cells:
        ref = cell.controller.ref
        key = controller_key(ref, base)
        if key not in controllers:
            controllers[key] = controller_record(ref, base)
        out.append(
            {
                "controller": key,
                "label": cell.controller.display,
                "overrides": [[k, v] for k, v in cell.controller.overrides],
                "beta": cell.beta,
                "store": cell.store,
                "seeds": cell.seeds,
            }
        )
    return controllers, out


def plain(value: Any) -> Any:
    """JSON-normal form of a figure (tuples → lists, numpy scalars → Python), so that a recorded
    figure and a recomputed one compare with ``==`` exactly."""
    return json.loads(json.dumps(value, default=_default, allow_nan=True))


def _default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def same(a: Any, b: Any) -> bool:
    """Exact equality of two JSON-normal figures; NaN equals NaN (a figure that was NaN stays NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def build_manifest(
    kind: str,
    *,
    cells: Sequence[Cell] = (),
    derive: Sequence[dict] = (),
    figures: dict[str, Any],
    base: Path | None = None,
    sandboxed: bool = False,
    executor: str = "process",
    jobs: int | None = None,
    clock: Clock | None = None,
    stores: Sequence[str] = (),
    extra_controllers: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
    argv: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A manifest for ``figures`` produced by evaluating ``cells`` and applying ``derive``."""
    controllers, cell_rows = cells_recipe(cells, base)
    for ref in extra_controllers:
        controllers.setdefault(controller_key(ref, base), controller_record(ref, base))
    store_names = list(dict.fromkeys([*(c.store for c in cells), *stores]))
    manifest: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": kind,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "command": list(sys.argv if argv is None else argv),
        "cwd": os.getcwd(),
        **environment(),
        "stores": {name: store_sha256(name) for name in store_names},
        "controllers": controllers,
        "betas": sorted({c.beta for c in cells}),
        "seeds": sorted({c.seeds for c in cells}),
        "execution": {"executor": "sandbox" if sandboxed else executor, "sandboxed": sandboxed, "jobs": jobs},
        "time": (clock or Clock()).snapshot(),
        "cells": cell_rows,
        "derive": [plain(d) for d in derive],
        "figures": plain(figures),
    }
    if extra:
        manifest.update(plain(extra))
    return manifest


def write_manifest(folder: Path, manifest: dict[str, Any], outputs: Sequence[Path] = ()) -> Path:
    """Write ``folder/manifest.json`` atomically, with the SHA-256 of every output file it vouches for."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recorded = dict(manifest)
    recorded["outputs"] = {
        _relative(p, folder): sha256_bytes(Path(p).read_bytes()) for p in outputs if Path(p).is_file()
    }
    path = folder / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".manifest.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(recorded, handle, indent=1, allow_nan=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


REQUIRED = ("schema", "kind", "autotts", "stores", "controllers", "cells", "derive", "figures")


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and check a manifest; errors name the file and the field."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest (commands write manifest.json beside their numbers)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not readable JSON: {exc}") from None
    return check_manifest(data, str(path))


def check_manifest(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: a manifest is a JSON object")
    for key in REQUIRED:
        if key not in data:
            raise ManifestError(f"{where}: field {key!r} is missing")
    if data["schema"] != SCHEMA:
        raise ManifestError(f"{where}: field 'schema' is {data['schema']!r}; this autotts reads {SCHEMA!r}")
    if not isinstance(data["figures"], dict):
        raise ManifestError(f"{where}: field 'figures' must be an object of figure name → value")
    for i, cell in enumerate(data["cells"]):
        for key in ("controller", "label", "beta", "store", "seeds"):
            if not isinstance(cell, dict) or key not in cell:
                raise ManifestError(f"{where}: field 'cells[{i}].{key}' is missing")
        if cell["controller"] not in data["controllers"]:
            raise ManifestError(
                f"{where}: field 'cells[{i}].controller' names {cell['controller']!r}, not in controllers"
            )
    for key, rec in data["controllers"].items():
        if not isinstance(rec, dict) or rec.get("kind") not in ("builtin", "file"):
            raise ManifestError(f"{where}: field 'controllers[{key!r}].kind' must be 'builtin' or 'file'")
    return data


def spec_of(cell: dict[str, Any], ref: str | None = None) -> ControllerSpec:
    """The ControllerSpec of a manifest cell (``ref`` replaces the recorded reference, e.g. a path
    resolved against the manifest's folder)."""
    return ControllerSpec(ref or cell["controller"], tuple((k, v) for k, v in cell.get("overrides", [])), cell["label"])
