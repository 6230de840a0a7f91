"""Aggregates over stores (plain means, as published). :func:`mean_over_stores` is the one place the
rule lives: every pooled figure of autotts (eval's mean rows, the discovery history and fitness, the
report's tables, curves and card) is the unweighted mean of the per-store figures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .runner import CellResult


def mean_over_stores(values: Iterable[float]) -> float:
    """The pooled figure of per-store figures: their plain mean, each store weighing the same
    (the published tables' rule; the stores have equal question counts). NaN when empty."""
    values = [float(v) for v in values]
    return float(np.mean(values)) if values else float("nan")


def mean_rows(results: Sequence[CellResult]) -> list[dict[str, Any]]:
    """One row per (controller, β) that covers more than one store: plain means over its stores."""
    groups: dict[tuple[str, float], list[CellResult]] = {}
    for r in results:
        groups.setdefault((r.controller, r.beta), []).append(r)
    rows = []
    for (controller, beta), members in groups.items():
        if len(members) < 2:
            continue
        rows.append(
            {
                "controller": controller,
                "beta": beta,
                "store": f"mean of {len(members)} stores",
                "accuracy": round(mean_over_stores(m.accuracy for m in members), 4),
                "accuracy_ci": None,
                "tokens": round(mean_over_stores(m.mean_tokens for m in members), 3),
                "latency_tokens": round(mean_over_stores(m.mean_latency for m in members), 3),
                "seeds": members[0].seeds,
                "questions": sum(m.questions for m in members),
                "errors": sum(len(m.failures) for m in members),
            }
        )
    return rows
