"""Aggregates over stores (plain means, as published)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .runner import CellResult


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
                "accuracy": round(float(np.mean([m.accuracy for m in members])), 4),
                "accuracy_ci": None,
                "tokens": round(float(np.mean([m.mean_tokens for m in members])), 3),
                "latency_tokens": round(float(np.mean([m.mean_latency for m in members])), 3),
                "seeds": members[0].seeds,
                "questions": sum(m.questions for m in members),
                "errors": sum(len(m.failures) for m in members),
            }
        )
    return rows
