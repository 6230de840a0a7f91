"""Choosing the round to keep, from search-store results only, and its frontier figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..evaluation.metrics import area_under_curve, tokens_at_accuracy
from .history import mean_curve

SELECTION_RULES = ("accuracy", "frontier")


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
        figures["saving_vs_sc64"] = None if at is None else round(1.0 - at / reference["tokens"], 4)
    return figures


#: accuracy gaps (points) at or below this are seed noise for the "accuracy" rule: such rounds tie
TIE_MARGIN = 0.5


def choose_round(rounds: Sequence[dict[str, Any]], rule: str = "accuracy") -> int | None:
    """The chosen round among valid ones: highest mean search accuracy at the largest β, rounds within
    :data:`TIE_MARGIN` points of the best counting as tied (ties: fewer tokens, then the earlier
    round), or with ``rule="frontier"`` the largest area under the curve."""
    valid = [r for r in rounds if r.get("status") == "valid" and r.get("search")]
    if not valid:
        return None
    if rule == "accuracy":  # a 0.08-point lead at a few seeds must not buy 15% more tokens
        best = max(r["search"]["accuracy_at_max_beta"] for r in valid)
        valid = [r for r in valid if r["search"]["accuracy_at_max_beta"] >= best - TIE_MARGIN]
        return min(valid, key=lambda r: (r["search"]["tokens_at_max_beta"], r["round"]))["round"]
    if rule == "frontier":
        key = lambda r: (r["search"]["area_under_curve"], -r["round"])  # noqa: E731
    else:
        raise ValueError(f"unknown selection rule {rule!r}; choose one of {', '.join(SELECTION_RULES)}")
    return max(valid, key=key)["round"]
