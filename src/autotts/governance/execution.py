"""Governance runs evaluation cells through the one seam, :func:`autotts.sandbox.evaluate_cells`:
built-in names in-process, controller files behind the OS boundary unless trusted."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..evaluation import Cell, CellResult
from ..sandbox import evaluate_cells


def run_cells(
    cells: Sequence[Cell],
    *,
    trusted: bool = False,
    jobs: int | None = None,
    want_traces: bool = False,
    on_block: Callable | None = None,
) -> list[CellResult]:
    """Evaluate cells, in order, where the seam says. Results do not depend on the path taken."""
    return evaluate_cells(cells, trusted=trusted, jobs=jobs, want_traces=want_traces, on_block=on_block)
