"""Frontier figures of a round from its search-store results; the rule that chooses the round to
keep is :func:`autotts.discovery.records.choose_round` (re-exported here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..evaluation.metrics import area_under_curve, tokens_at_accuracy
from .history import mean_curve
from .records import SELECTION_RULES, choose_round  # noqa: F401  (the one rule lives in records)


def frontier_figures(rows: Sequence[dict[str, Any]], reference: dict[str, float] | None = None) -> dict[str, Any]:
    """Figures of a β-swept family from results rows (means over stores).

    ``reference`` is SC@64's mean ``{"accuracy", "tokens"}`` on the same stores; with it come the tokens
    at which the family reaches that accuracy and the saving against SC@64 there.
    """
    curve = mean_curve(rows)
    if not curve:
        return {}
    points = [(p["tokens"], p["accuracy"]) for p in curve]
    top = curve[-1]
    figures: dict[str, Any] = {
        "max_beta": top["beta"],
        "accuracy_at_max_beta": round(top["accuracy"], 4),
        "tokens_at_max_beta": round(top["tokens"], 1),
        "peak_accuracy": round(max(a for _, a in points), 4),
        "area_under_curve": round(area_under_curve(points), 4),
    }
    if reference:
        at = tokens_at_accuracy(points, reference["accuracy"])
        figures["sc64_accuracy"] = round(reference["accuracy"], 4)
        figures["tokens_at_sc64_accuracy"] = None if at is None else round(at, 1)
        # a reference that spent nothing (every episode failed) has no saving to speak of
        spent = reference["tokens"]
        figures["saving_vs_sc64"] = None if at is None or not spent else round(1.0 - at / spent, 4)
    return figures
