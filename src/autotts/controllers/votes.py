"""Vote counting and the Beta-posterior majority confidence shared by several controllers.

Every vote breaks ties in favour of the answer seen first (counts keep insertion order).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.special import betainc  # = scipy.stats.beta.cdf, bit for bit, at a fraction of the import cost

_TABLE_SIZE = 130  # vote counts are at most the pool size (128)


def _confidence_table(size: int) -> np.ndarray:
    top1, top2 = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    table = 1.0 - betainc(top1 + 1, top2 + 1, 0.5)
    table[0, :] = 0.0
    return table


_CONFIDENCE = _confidence_table(_TABLE_SIZE).tolist()


def confidence(top1: int, top2: int) -> float:
    """P(leader's true share > 1/2) under a uniform prior: ``1 − BetaCDF(0.5; top1+1, top2+1)``;
    0 when ``top1`` is 0. Looked up in a precomputed table (same values as ``scipy.stats.beta``)."""
    if top1 < _TABLE_SIZE and top2 < _TABLE_SIZE:
        return _CONFIDENCE[top1][top2]
    return 0.0 if top1 <= 0 else float(1.0 - betainc(top1 + 1, top2 + 1, 0.5))


def count(answers: Iterable[str]) -> dict[str, int]:
    """Vote counts in first-seen order."""
    counts: dict[str, int] = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    return counts


def majority(answers: Iterable[str]) -> str | None:
    """The most common answer; ties go to the one seen first; None for no answers."""
    counts = count(answers)
    return max(counts, key=counts.__getitem__) if counts else None


def vote_stats(answers: Iterable[str]) -> tuple[str | None, int, int]:
    """``(leader, top1, top2)``: the leader, its count, and the runner-up's count (0 if none)."""
    return count_stats(count(answers))


def count_stats(counts: dict[str, int]) -> tuple[str | None, int, int]:
    """:func:`vote_stats` of counts already made (kept in first-seen order, e.g. updated as answers arrive)."""
    if not counts:
        return None, 0, 0
    leader = max(counts, key=counts.__getitem__)
    top1 = counts[leader]
    top2 = 0
    for answer, n in counts.items():
        if n > top2 and answer != leader:
            top2 = n
    return leader, top1, top2


# ---------------------------------------------------------------- row-wise forms for EpisodeBatch

_CONFIDENCE_ARRAY = np.array(_CONFIDENCE)


def confidence_rows(top1: np.ndarray, top2: np.ndarray) -> np.ndarray:
    """:func:`confidence` of each row's counts (counts never exceed the 128-branch pool)."""
    return _CONFIDENCE_ARRAY[top1, top2]
