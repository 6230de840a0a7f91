"""``autotts verify``: run a manifest's recipe again and compare every figure with the recorded one.

Episodes are deterministic, so a figure is either *equal* (exactly) or *differs* (both values are
shown); a figure whose inputs are gone — a store not installed, a controller file missing, another
autotts version — *cannot be re-run*, with the reason. When a store's or controller's content hash
no longer matches the manifest, verify says so and re-runs anyway: the figures that changed are
named, the others stay equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..data import StoreError, StoreNotInstalled, load_store
from ..data.lookup import forget_stores
from ..evaluation import Cell
from .execution import run_cells
from .figures import CELL_METRICS, cell_name, compute, inputs_of, stamp
from .manifest import (
    Clock,
    autotts_source_sha256,
    build_manifest,
    controller_key,
    controller_record,
    is_file_ref,
    plain,
    read_manifest,
    same,
    spec_of,
    store_sha256,
    write_manifest,
)

EQUAL, DIFFERS, CANNOT = "equal", "differs", "cannot re-run"


@dataclass
class FigureCheck:
    name: str
    status: str
    recorded: Any = None
    now: Any = None
    why: str = ""


@dataclass
class VerifyReport:
    source: str
    kind: str
    notes: list[str] = field(default_factory=list)
    checks: list[FigureCheck] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.checks)

    @property
    def exit_code(self) -> int:
        """0: every figure equal; 1: some figure differs; 3: none differs but some could not be re-run."""
        if self.count(DIFFERS):
            return 1
        return 3 if self.count(CANNOT) else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "notes": self.notes,
            "equal": self.count(EQUAL),
            "differs": self.count(DIFFERS),
            "cannot": self.count(CANNOT),
            "figures": [c.__dict__ for c in self.checks],
        }


# ------------------------------------------------------------------------------------- recording


def make_manifest(
    kind: str,
    *,
    cells: list[Cell],
    results: list,
    derive: list[dict],
    base: Path | None,
    trusted: bool = False,
    clock: Clock | None = None,
    extra: dict[str, Any] | None = None,
    stores: list[str] = (),
    extra_controllers: list[str] = (),
    jobs: int | None = None,
    executor: str = "process",
) -> dict[str, Any]:
    """A manifest whose figures are ``derive`` computed over ``results`` (already evaluated)."""
    manifest = build_manifest(
        kind,
        cells=cells,
        derive=[],
        figures={},
        base=base,
        clock=clock,
        stores=stores,
        extra_controllers=extra_controllers,
        jobs=jobs,
        executor=executor,
        sandboxed=not trusted and any(is_file_ref(c.controller.ref) for c in cells),
        extra=extra,
    )
    # derivations name controllers by the manifest's key; the runnable reference is the original one
    originals = [c.controller.ref for c in cells] + list(extra_controllers)
    refs = {controller_key(ref, base): ref for ref in originals}
    keyed = {ref: key for key, ref in refs.items()}
    derive = [
        {**d, "controller": keyed.get(d["controller"], d["controller"])} if "controller" in d else d for d in derive
    ]
    made = compute(derive, manifest["cells"], results, {"refs": refs, "trusted": trusted, "jobs": jobs})
    stamped, figures = stamp(derive, made)
    manifest["derive"], manifest["figures"] = plain(stamped), plain(figures)
    manifest["time"] = (clock or Clock()).snapshot()
    return manifest


def record(
    kind: str,
    folder: Path,
    *,
    cells: list[Cell],
    results: list,
    derive: list[dict],
    outputs: list[Path] = (),
    **options: Any,
) -> Path:
    """:func:`make_manifest` written into ``folder`` with the hashes of ``outputs``. Commands call this."""
    folder = Path(folder)
    manifest = make_manifest(kind, cells=cells, results=results, derive=derive, base=folder, **options)
    return write_manifest(folder, manifest, outputs)


# ------------------------------------------------------------------------------------- verifying


def verify_path(
    path: Path, *, jobs: int | None = None, trusted: bool = False, on_note: Callable[[str], None] | None = None
) -> VerifyReport:
    """Verify a results folder or run folder (anything holding ``manifest.json``) or the file itself."""
    path = Path(path)
    manifest = read_manifest(path)
    base = path if path.is_dir() else path.parent
    return verify_manifest(manifest, base, source=str(path), jobs=jobs, trusted=trusted, on_note=on_note)


def verify_manifest(
    manifest: dict[str, Any],
    base: Path | None,
    *,
    source: str,
    refs: dict[str, str] | None = None,
    jobs: int | None = None,
    trusted: bool = False,
    on_note: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Re-run ``manifest`` and compare. ``refs`` maps controller keys to runnable references (the
    registry passes the stored source written to a temporary file); otherwise files are found at
    their recorded path, relative to ``base`` when relative."""
    report = VerifyReport(source, manifest["kind"])

    def note(text: str) -> None:
        report.notes.append(text)
        if on_note:
            on_note(text)

    recorded = manifest["figures"]
    made_by = manifest["autotts"].get("version")
    if made_by != __version__:
        why = f"made by autotts {made_by}; this is autotts {__version__}"
        report.checks = [FigureCheck(name, CANNOT, value, why=why) for name, value in recorded.items()]
        return report
    if manifest["autotts"].get("source_sha256") != autotts_source_sha256():
        note("autotts source differs from the one that made the manifest (same version): re-running anyway")

    missing: dict[str, str] = {}  # store or controller key -> why it cannot be used
    forget_stores(list(manifest["stores"]))  # read the files as they are now, not as this process cached them
    for name, digest in manifest["stores"].items():
        try:
            load_store(name)
            now = store_sha256(name)
        except (StoreNotInstalled, StoreError, OSError) as exc:
            missing[name] = f"store {name} unavailable: {str(exc).splitlines()[0]}"
            continue
        if now != digest:
            note(f"store {name} content changed: recorded sha256 {digest[:12]}…, now {now[:12]}…")
    runnable = dict(refs or {})
    for key, rec in manifest["controllers"].items():
        if key in runnable:
            continue
        problem, ref = _locate(key, rec, base)
        if problem:
            missing[key] = problem
            continue
        runnable[key] = ref
        now = controller_record(ref, None)["sha256"]
        if now != rec.get("sha256"):
            where = rec.get("path") or rec.get("module")
            note(
                f"controller {key} source changed ({where}): recorded sha256 {str(rec.get('sha256'))[:12]}…, "
                f"now {str(now)[:12]}…"
            )

    cells = manifest["cells"]
    blocked = {i: missing.get(c["store"]) or missing.get(c["controller"]) for i, c in enumerate(cells)}
    todo = [i for i, why in blocked.items() if not why]
    needs_traces = {i for d in manifest["derive"] if d["kind"] == "card" for i in d["cells"]}
    results: list = [None] * len(cells)
    for want_traces in (False, True):
        batch = [i for i in todo if (i in needs_traces) == want_traces]
        if not batch:
            continue
        specs = [
            Cell(
                spec_of(cells[i], runnable[cells[i]["controller"]]),
                float(cells[i]["beta"]),
                cells[i]["store"],
                int(cells[i]["seeds"]),
            )
            for i in batch
        ]
        for i, r in zip(batch, run_cells(specs, trusted=trusted, jobs=jobs, want_traces=want_traces), strict=True):
            results[i] = r

    now_figures: dict[str, Any] = {}
    cannot: dict[str, str] = {}
    ctx = {"refs": runnable, "trusted": trusted, "jobs": jobs}
    for spec in manifest["derive"]:
        if spec["kind"] == "cells":  # per cell: one missing store blocks only its own cells' figures
            indices = list(spec.get("cells") or range(len(cells)))
            for i in indices:
                if blocked[i]:
                    cannot.update(dict.fromkeys((f"{cell_name(cells[i])}: {m}" for m in CELL_METRICS), blocked[i]))
            spec = {**spec, "cells": [i for i in indices if not blocked[i]]}
            if not spec["cells"]:
                continue
        else:
            why = next((blocked[i] for i in inputs_of(spec, len(cells)) if blocked[i]), None)
            why = why or next((missing[k] for k in _needs(spec) if k in missing), None)
            if why:
                cannot.update(dict.fromkeys(spec.get("figures", []), why))
                continue
        now_figures.update(compute([spec], cells, results, ctx)[0])
    now_figures = plain(now_figures)
    for name, value in recorded.items():
        if name in cannot:
            report.checks.append(FigureCheck(name, CANNOT, value, why=cannot[name]))
        elif name not in now_figures:
            report.checks.append(FigureCheck(name, CANNOT, value, why="the recipe no longer produces this figure"))
        elif same(value, now_figures[name]):
            report.checks.append(FigureCheck(name, EQUAL, value, now_figures[name]))
        else:
            report.checks.append(FigureCheck(name, DIFFERS, value, now_figures[name]))
    return report


def _needs(spec: dict) -> list[str]:
    """Stores and controllers a self-contained derivation reads besides cells."""
    keys = list(spec.get("stores") or [])
    for field_name in ("controller", "quick_store"):
        if spec.get(field_name):
            keys.append(spec[field_name])
    return keys


def _locate(key: str, rec: dict[str, Any], base: Path | None) -> tuple[str, str]:
    """(problem, runnable ref) of a recorded controller."""
    if rec["kind"] == "builtin":
        from ..controllers.base import registered

        if rec.get("name", key) not in registered():
            return f"built-in controller {key} does not exist in this autotts", ""
        return "", rec.get("name", key)
    path = Path(rec["path"])
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.is_file():
        return f"controller file {path} is missing", ""
    ref = str(path) + (f":{rec['class']}" if rec.get("class") else "")
    return "", ref
