"""The one place that decides, for every caller (eval, compare, card, report, validation, the
discovery loop), whether a controller runs in-process or behind the sandbox.

Registry names are autotts's own code and run in-process. A controller file is untrusted and runs
behind the OS boundary unless the caller says it is trusted (``--trusted``: the user's own code, run
in-process). When the boundary cannot be built, :class:`~.boundary.SandboxUnavailable` is raised:
an untrusted file is never run unconfined instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..evaluation.executors import evaluate
from ..evaluation.runner import Block, CellResult
from ..evaluation.spec import Cell
from .pool import SandboxLimits, evaluate_sandboxed, is_file_ref


def needs_sandbox(ref: str, trusted: bool = False) -> bool:
    """Whether the controller ``ref`` must run behind the sandbox."""
    return not trusted and is_file_ref(ref)


def evaluate_cells(
    cells: Sequence[Cell],
    *,
    trusted: bool = False,
    jobs: int | None = None,
    executor: str = "process",
    want_traces: bool = False,
    fail_fast: bool = False,
    on_block: Callable[[Block], None] | None = None,
    limits: SandboxLimits | None = None,
    scratch: Path | None = None,
) -> list[CellResult]:
    """Evaluate cells, each where :func:`needs_sandbox` says; results in the order of ``cells``."""
    untrusted = [i for i, c in enumerate(cells) if needs_sandbox(c.controller.ref, trusted)]
    rest = [i for i in range(len(cells)) if i not in set(untrusted)]
    merged: dict[int, CellResult] = {}
    if untrusted:
        results = evaluate_sandboxed(
            [cells[i] for i in untrusted],
            jobs=jobs,
            limits=limits or SandboxLimits(),
            want_traces=want_traces,
            scratch=scratch,
            on_block=on_block,
        )
        merged.update(zip(untrusted, results, strict=True))
    if rest:
        results = evaluate(
            [cells[i] for i in rest],
            jobs=jobs,
            executor=executor,
            want_traces=want_traces,
            fail_fast=fail_fast,
            on_block=on_block,
        )
        merged.update(zip(rest, results, strict=True))
    return [merged[i] for i in range(len(cells))]
