"""The one place governance runs evaluation cells: built-in names in-process, controller files in the
sandbox unless trusted. The sandbox is being redesigned (``autotts.sandbox``); only
:func:`evaluate_untrusted` needs re-pointing when it lands."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..evaluation import Cell, CellResult, evaluate
from .manifest import is_file_ref


def evaluate_untrusted(
    cells: Sequence[Cell], *, jobs: int | None, want_traces: bool, on_block: Callable | None = None
) -> list[CellResult]:
    """Evaluate cells whose controllers are untrusted files, behind the OS boundary."""
    try:  # the redesigned OS boundary (``autotts.sandbox``), where it has landed
        from ..sandbox import evaluate_sandboxed
    except ImportError:  # until then, the sandbox inside the evaluation layer (same contract)
        from ..evaluation.sandbox import evaluate_sandboxed

    return evaluate_sandboxed(list(cells), jobs=jobs, want_traces=want_traces, on_block=on_block)


def run_cells(
    cells: Sequence[Cell],
    *,
    trusted: bool = False,
    jobs: int | None = None,
    want_traces: bool = False,
    on_block: Callable | None = None,
) -> list[CellResult]:
    """Evaluate cells, in order: files through :func:`evaluate_untrusted` (unless ``trusted``), built-in
    names with :func:`autotts.evaluation.evaluate`. Results do not depend on the path taken."""
    untrusted = [i for i, c in enumerate(cells) if not trusted and is_file_ref(c.controller.ref)]
    rest = [i for i in range(len(cells)) if i not in set(untrusted)]
    out: dict[int, CellResult] = {}
    if untrusted:
        done = evaluate_untrusted([cells[i] for i in untrusted], jobs=jobs, want_traces=want_traces, on_block=on_block)
        out.update(zip(untrusted, done, strict=True))
    if rest:
        done = evaluate([cells[i] for i in rest], jobs=jobs, want_traces=want_traces, on_block=on_block)
        out.update(zip(rest, done, strict=True))
    return [out[i] for i in range(len(cells))]
