"""Fitness of genomes on the search stores: the accuracy–tokens frontier over a β grid.

For every genome, the mean accuracy and mean tokens over the search stores at each β form its curve.
The fitness rewards, against SC@64 evaluated on the same stores and seeds:

* ``peak`` — the best mean accuracy on the grid (points of accuracy);
* ``saving`` — the share of SC@64's tokens saved where the curve first reaches SC@64's accuracy
  (interpolated in log-tokens); a curve that never gets there scores minus a tenth of its shortfall;
* ``auc`` — the mean accuracy over log-tokens in a fixed range (hypervolume-style, docs/evaluation.md);

and penalises tokens that fall as β rises (beyond a 2% tolerance) and complexity (mechanisms on).
Only the stores it is given are ever loaded; :func:`check_search_only` refuses held-out ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...data.catalog import split_stores
from ...evaluation import Cell, CellResult, ControllerSpec, area_under_curve, evaluate, tokens_at_accuracy
from ...evaluation.summary import mean_over_stores
from .genome import complexity

SAVING_WEIGHT = 20.0
AUC_WEIGHT = 0.1
MONOTONE_WEIGHT = 50.0
MONOTONE_TOLERANCE = 0.02
COMPLEXITY_WEIGHT = 0.05
FAILURE_FITNESS = -1e6


@dataclass
class Reference:
    """SC@64's mean accuracy and tokens on the stores and seeds used for fitness."""

    accuracy: float
    tokens: float


@dataclass
class Score:
    """A genome's fitness and what it is made of. ``points`` are (β, mean tokens, mean accuracy)."""

    fitness: float
    peak: float
    saving: float
    auc: float
    monotone_penalty: float
    complexity: float
    points: list[tuple[float, float, float]] = field(default_factory=list)
    failures: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "fitness": round(self.fitness, 4),
            "peak": round(self.peak, 4),
            "saving": round(self.saving, 4),
            "auc": round(self.auc, 4),
            "monotone_penalty": round(self.monotone_penalty, 4),
            "complexity": round(self.complexity, 2),
            "failures": self.failures,
            "points": [[b, round(t, 1), round(a, 4)] for b, t, a in self.points],
        }


class HeldOutStoreError(ValueError):
    """The search was asked to use a held-out store."""


def check_search_only(stores: Sequence[str]) -> tuple[str, ...]:
    """The stores, or an error if any of them is held out: selection must never see held-out data."""
    held_out = set(split_stores("heldout"))
    bad = [s for s in stores if s in held_out]
    if bad:
        raise HeldOutStoreError(f"the evolve search uses search stores only; held-out: {', '.join(bad)}")
    return tuple(stores)


def genome_spec(genome: Mapping[str, Any], label: str = "") -> ControllerSpec:
    """The evaluation recipe of a genome (the ``space`` controller with the genome as override)."""
    return ControllerSpec("space", (("genome", json.dumps(genome, sort_keys=True)),), label=label)


def _mean_curve(results: Sequence[CellResult], betas: Sequence[float]) -> tuple[list[tuple], int]:
    points, failures = [], 0
    for beta in betas:
        at_beta = [r for r in results if r.beta == beta]
        failures += sum(len(r.failures) for r in at_beta)
        points.append(
            (beta, mean_over_stores(r.mean_tokens for r in at_beta), mean_over_stores(r.accuracy for r in at_beta))
        )
    return points, failures


def frontier_score(
    points: Sequence[tuple[float, float, float]], reference: Reference, genome_complexity: float
) -> Score:
    """Fitness of one curve against the reference (see the module docstring)."""
    curve = [(t, a) for _, t, a in points]
    peak = max(a for _, a in curve)
    reached = tokens_at_accuracy(curve, reference.accuracy)
    # never reaching SC@64's accuracy costs a tenth of the shortfall (keeps the landscape sloped)
    saving = -0.1 * (reference.accuracy - peak) if reached is None else 1.0 - reached / reference.tokens
    auc = area_under_curve(curve)
    tokens = [t for _, t, _ in sorted(points)]
    drops = [
        max(0.0, (lo - hi) / lo - MONOTONE_TOLERANCE) for lo, hi in zip(tokens, tokens[1:], strict=False) if lo > 0
    ]
    monotone = float(sum(drops))
    fitness = (
        peak
        + SAVING_WEIGHT * saving
        + AUC_WEIGHT * auc
        - MONOTONE_WEIGHT * monotone
        - COMPLEXITY_WEIGHT * genome_complexity
    )
    return Score(fitness, peak, saving, auc, monotone, genome_complexity, list(points))


def reference(stores: Sequence[str], seeds: int, jobs: int | None = None) -> Reference:
    """SC@64 on the given (search) stores and seeds."""
    results = evaluate([Cell(ControllerSpec("sc"), 1.0, s, seeds) for s in check_search_only(stores)], jobs=jobs)
    return Reference(
        accuracy=mean_over_stores(r.accuracy for r in results),
        tokens=mean_over_stores(r.mean_tokens for r in results),
    )


def score_genomes(
    genomes: Sequence[Mapping[str, Any]],
    *,
    stores: Sequence[str],
    betas: Sequence[float],
    seeds: int,
    ref: Reference,
    jobs: int | None = None,
) -> list[Score]:
    """Evaluate every genome over the β grid on the stores in one batch; one :class:`Score` each."""
    stores = check_search_only(stores)
    cells = [Cell(genome_spec(g), b, s, seeds) for g in genomes for b in betas for s in stores]
    results = evaluate(cells, jobs=jobs) if cells else []
    per_genome = len(betas) * len(stores)
    scores = []
    for n, genome in enumerate(genomes):
        points, failures = _mean_curve(results[n * per_genome : (n + 1) * per_genome], betas)
        score = frontier_score(points, ref, complexity(genome))
        if failures:
            score.fitness, score.failures = FAILURE_FITNESS, failures
        scores.append(score)
    return scores
