"""Statistics over evaluation results: bootstrap intervals, paired differences, frontier figures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 12345


def bootstrap_ci(per_question: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``per_question`` (resampling questions)."""
    values = np.asarray(per_question, dtype=float)
    if values.size == 0:
        return (float("nan"), float("nan"))
    if np.all(values == values[0]):
        return (float(values[0]), float(values[0]))
    from scipy import stats  # imported here: scipy.stats costs seconds at start-up

    result = stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=level,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        random_state=np.random.default_rng(BOOTSTRAP_SEED),
        vectorized=True,
    )
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))


def paired_difference(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``a − b`` over paired questions with a bootstrap interval: ``(mean, low, high)``."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    low, high = bootstrap_ci(diff, level)
    return float(diff.mean()), low, high


def tokens_at_accuracy(points: Sequence[tuple[float, float]], target: float) -> float | None:
    """Token cost at which a β-swept family first reaches ``target`` accuracy, interpolating linearly
    in log-tokens between neighbouring points ordered by tokens; None if it never does."""
    pts = sorted(points)
    if not pts:
        return None
    if pts[0][1] >= target:
        return pts[0][0]
    for (t0, a0), (t1, a1) in zip(pts, pts[1:], strict=False):
        if a0 < target <= a1:
            frac = (target - a0) / (a1 - a0)
            return float(np.exp(np.log(t0) + frac * (np.log(t1) - np.log(t0))))
    return None


def area_under_curve(points: Sequence[tuple[float, float]], lo: float = 2e4, hi: float = 1.2e6) -> float:
    """Mean accuracy over log-tokens in [lo, hi] of the step-up frontier (hypervolume-style): below
    the cheapest point the accuracy counts as 0, between points the best accuracy reached so far."""
    pts = sorted((t, a) for t, a in points if t > 0)
    if not pts:
        return 0.0
    grid = np.exp(np.linspace(np.log(lo), np.log(hi), 400))
    best = np.zeros_like(grid)
    running = 0.0
    for t, a in pts:
        running = max(running, a)
        best[grid >= t] = np.maximum(best[grid >= t], running)
    return float(best.mean())
