"""The one place the discovery loop runs and checks untrusted candidate code.

Everything a proposal's code does goes through :func:`run_candidate_cells` (sandboxed evaluation) and
:func:`check_candidate` (validation); trusted baselines go through :func:`run_trusted_cells`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..evaluation import Cell, CellResult
from ..sandbox import SandboxLimits, SandboxPool, evaluate_cells, stopped
from .validation import ValidationResult, validate_candidate


def run_candidate_cells(
    cells: Sequence[Cell],
    *,
    jobs: int | None,
    scratch: Path,
    want_traces: bool = False,
    on_block: Callable | None = None,
    limits: SandboxLimits | None = None,
) -> list[CellResult]:
    """Evaluate untrusted candidate cells in the sandbox (gold stays in this process)."""
    scratch.mkdir(parents=True, exist_ok=True)
    return evaluate_cells(
        cells, jobs=jobs, limits=limits or SandboxLimits(), want_traces=want_traces, scratch=scratch, on_block=on_block
    )


def candidate_pool(refs: Sequence[str], stores: Sequence[str], *, jobs: int | None, scratch: Path) -> SandboxPool:
    """Sandbox workers kept for several evaluations of the same candidate (they start once)."""
    scratch.mkdir(parents=True, exist_ok=True)
    return SandboxPool(list(refs), list(stores), jobs=jobs, limits=SandboxLimits(), scratch=scratch)


def run_trusted_cells(
    cells: Sequence[Cell], *, jobs: int | None, want_traces: bool = False, on_block: Callable | None = None
) -> list[CellResult]:
    """Evaluate built-in controllers with the fast in-process harness."""
    return evaluate_cells(cells, trusted=True, jobs=jobs, want_traces=want_traces, on_block=on_block)


def check_candidate(path: Path, *, beta_rule: bool, betas: Sequence[float], quick_store: str) -> ValidationResult:
    return validate_candidate(path, beta_rule=beta_rule, betas=tuple(betas), quick_store=quick_store)


__all__ = ["candidate_pool", "check_candidate", "run_candidate_cells", "run_trusted_cells", "stopped"]
