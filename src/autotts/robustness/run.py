"""Evaluating controllers under every condition: one evaluation per condition, every controller on
the same transformed stores, questions and seeds, so every comparison with SC@64 is paired.

Results are reduced per condition, controller and β to two vectors over *units* (one unit per
question of the condition's stores, in store order): the correctness rate in percent and the mean
tokens, each averaged over seeds and over the condition's replicates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import sandbox
from ..data.lookup import load_store
from ..evaluation import Cell, CellResult, ControllerSpec, blocks_in
from ..report.runs import failure_lines
from .conditions import Condition, ConditionStores

REFERENCE_LABEL = "SC@64"
REFERENCE = ControllerSpec("sc", label=REFERENCE_LABEL)
REFERENCE_BETA = 1.0

Progress = Callable[[int, int, str], None]  # (blocks done, blocks planned, what is running)


class ControllerStopped(RuntimeError):
    """The sandbox stopped a controller (rejected by the screen, a violation, a timeout...)."""


@dataclass(frozen=True)
class Entry:
    """A controller to judge: its label in the report, its spec, and how it was named by the user."""

    label: str
    spec: ControllerSpec
    kind: str = "builtin"  # builtin | file | run
    source: str = ""


@dataclass
class Family:
    """One controller's results in one condition: per β, per-unit accuracy (%) and tokens."""

    label: str
    accuracy: dict[float, np.ndarray]
    tokens: dict[float, np.ndarray]
    failures: int = 0

    @property
    def betas(self) -> list[float]:
        return sorted(self.accuracy)


@dataclass
class ConditionResult:
    condition: Condition
    stores: list[list[str]]  # per replicate, the derived store names
    units: list[tuple[str, int]]  # (base store, question index) of each unit
    families: dict[str, Family]
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    failure_lines: list[str] = field(default_factory=list)


def evaluate_cells(
    cells: Sequence[Cell], *, jobs: int | None, trusted: bool, on_block: Callable | None
) -> list[CellResult]:
    """Robustness evaluates through the one seam (:func:`autotts.sandbox.evaluate_cells`: files behind
    the sandbox unless ``trusted``, built-ins in-process). Both find stores by name through
    ``load_store`` in this process, where the transformed stores are registered. Order is kept."""
    results = sandbox.evaluate_cells(cells, trusted=trusted, jobs=jobs, on_block=on_block)
    failure = sandbox.stopped(results)
    if failure is not None:  # no figure of a stopped controller means anything: say so, stop here
        raise ControllerStopped(f"the sandbox stopped {failure.controller}: {str(failure).splitlines()[0]}")
    return results


def condition_cells(
    entries: Sequence[Entry], betas: Sequence[float], names: Sequence[str], seeds: int
) -> list[tuple[str, Cell]]:
    """(label, cell) for the reference SC@64 and every entry over ``betas`` on the stores ``names``."""
    plan = [(REFERENCE_LABEL, Cell(REFERENCE, REFERENCE_BETA, n, seeds)) for n in names]
    for entry in entries:
        plan += [(entry.label, Cell(entry.spec, b, n, seeds)) for b in betas for n in names]
    return plan


def planned_blocks(
    entries: Sequence[Entry], betas: Sequence[float], stores: int, seeds: int, conditions: Sequence[Condition]
) -> int:
    """Progress steps of :func:`run_conditions` if no condition skips a store."""
    per_store = blocks_in([c for _, c in condition_cells(entries, betas, ["x"], seeds)])
    return sum(per_store * stores * c.replicates for c in conditions)


def run_conditions(
    entries: Sequence[Entry],
    stores: Sequence[str],
    conditions: Sequence[Condition],
    *,
    betas: Sequence[float],
    seeds: int,
    jobs: int | None = None,
    trusted: bool = False,
    on_progress: Progress | None = None,
) -> list[ConditionResult]:
    """Evaluate the reference and every entry under every condition."""
    counter = {"done": 0, "total": planned_blocks(entries, betas, len(stores), seeds, conditions)}
    out: list[ConditionResult] = []
    for condition in conditions:
        started = time.monotonic()
        if condition.reuses_base and out and out[0].condition.transform is None and out[0].units:
            out.append(_from_base(condition, stores, out[0], started))
            counter["done"] += blocks_in([c for _, c in condition_cells(entries, betas, ["x"], seeds)]) * len(stores)
            if on_progress:
                on_progress(counter["done"], counter["total"], condition.name)
            continue
        with ConditionStores(condition, stores) as built:
            if built.skipped:  # fewer blocks than planned
                missing = len(built.skipped) * condition.replicates
                counter["total"] -= missing * blocks_in([c for _, c in condition_cells(entries, betas, ["x"], seeds)])
            if not built.bases:
                out.append(ConditionResult(condition, [], [], {}, built.skipped))
                continue
            names = [n for replicate in built.names for n in replicate]
            plan = condition_cells(entries, betas, names, seeds)

            def tick(_block: object, name: str = condition.name) -> None:
                counter["done"] += 1
                if on_progress:
                    on_progress(counter["done"], counter["total"], name)

            results = evaluate_cells([c for _, c in plan], jobs=jobs, trusted=trusted, on_block=tick)
            units = [
                (base, q.index)
                for base, name in zip(built.bases, built.names[0], strict=True)
                for q in load_store(name).questions
            ]
            families = _reduce(plan, results, built.names)
        out.append(
            ConditionResult(
                condition,
                built.names,
                units,
                families,
                built.skipped,
                time.monotonic() - started,
                failure_lines(results),
            )
        )
    return out


def _from_base(condition: Condition, stores: Sequence[str], base: ConditionResult, started: float) -> ConditionResult:
    """A task-mix condition from the unshifted results: its questions' units, picked (or repeated)
    from the base condition's vectors."""
    built = ConditionStores(condition, stores)  # builds the stores (to know their questions) without registering
    position = {unit: i for i, unit in enumerate(base.units)}
    units = [(b, q.index) for b in built.bases for q in built.store(b, 0).questions]
    pick = np.array([position[u] for u in units], dtype=np.int64)
    families = {
        label: Family(
            label,
            {b: v[pick] for b, v in f.accuracy.items()},
            {b: v[pick] for b, v in f.tokens.items()},
            f.failures,
        )
        for label, f in base.families.items()
    }
    return ConditionResult(condition, built.names, units, families, built.skipped, time.monotonic() - started)


def _reduce(
    plan: Sequence[tuple[str, Cell]], results: Sequence[CellResult], names: list[list[str]]
) -> dict[str, Family]:
    """Per label and β: unit vectors averaged over replicates (replicate r's stores are names[r])."""
    by_key = {(label, cell.beta, cell.store): result for (label, cell), result in zip(plan, results, strict=True)}
    families: dict[str, Family] = {}
    for (label, beta, _), _result in by_key.items():
        family = families.setdefault(label, Family(label, {}, {}))
        if beta in family.accuracy:
            continue
        acc, tok = [], []
        for replicate in names:
            members = [by_key[(label, beta, n)] for n in replicate]
            acc.append(np.concatenate([m.per_question_accuracy for m in members]))
            tok.append(np.concatenate([m.tokens.mean(axis=0) for m in members]))
            family.failures += sum(len(m.failures) for m in members)
        family.accuracy[beta] = np.mean(acc, axis=0)
        family.tokens[beta] = np.mean(tok, axis=0)
    return families
