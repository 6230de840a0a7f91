"""Paired comparison of two controllers on the same questions and seeds.

Accuracy: per question, the correctness rate over seeds; the difference A − B (points) is averaged
over questions with a bootstrap interval over questions (:func:`~autotts.evaluation.paired_difference`).
Tokens: the saving ``1 − tokens(A) / tokens(B)`` in percent, where tokens are per-question means over
seeds; its interval comes from the same bootstrap over questions (ratio of resampled sums). Several
stores are pooled question by question; the stores have equal question counts, so this equals the
plain mean over stores that the tables use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..evaluation import CellResult, paired_difference
from ..evaluation.metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

Interval = tuple[float, float, float]  # (estimate, low, high)


def bootstrap_saving(tokens_a: np.ndarray, tokens_b: np.ndarray, level: float = 0.95) -> Interval:
    """Token saving of A against B in percent, ``100 (1 − ΣA / ΣB)``, with a paired percentile
    bootstrap over questions."""
    a = np.asarray(tokens_a, dtype=float)
    b = np.asarray(tokens_b, dtype=float)
    estimate = 100.0 * (1.0 - a.sum() / b.sum())
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = rng.integers(0, a.size, size=(BOOTSTRAP_RESAMPLES, a.size))
    samples = 100.0 * (1.0 - a[picks].sum(axis=1) / b[picks].sum(axis=1))
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(samples, [tail, 1.0 - tail])
    return float(estimate), float(low), float(high)


def _pooled(results: Sequence[CellResult]) -> tuple[np.ndarray, np.ndarray]:
    accuracy = np.concatenate([r.per_question_accuracy for r in results])
    tokens = np.concatenate([r.tokens.mean(axis=0) for r in results])
    return accuracy, tokens


def _check_paired(a: Sequence[CellResult], b: Sequence[CellResult]) -> None:
    if len(a) != len(b):
        raise ValueError("paired comparison needs the same stores on both sides")
    for x, y in zip(a, b, strict=True):
        if x.store != y.store or x.correct.shape != y.correct.shape:
            raise ValueError(f"not paired: {x.store} ({x.correct.shape}) vs {y.store} ({y.correct.shape})")


@dataclass(frozen=True)
class Comparison:
    """A − B over the same stores, questions and seeds."""

    label_a: str
    label_b: str
    stores: tuple[str, ...]
    seeds: int
    accuracy_a: float
    accuracy_b: float
    tokens_a: float
    tokens_b: float
    accuracy_difference: Interval  # points
    token_saving: Interval  # percent of B's tokens that A does not spend
    token_difference: Interval  # A − B, tokens per question

    @classmethod
    def of(cls, label_a: str, a: Sequence[CellResult], label_b: str, b: Sequence[CellResult]) -> Comparison:
        _check_paired(a, b)
        acc_a, tok_a = _pooled(a)
        acc_b, tok_b = _pooled(b)
        return cls(
            label_a=label_a,
            label_b=label_b,
            stores=tuple(r.store for r in a),
            seeds=a[0].seeds,
            accuracy_a=float(acc_a.mean()),
            accuracy_b=float(acc_b.mean()),
            tokens_a=float(tok_a.mean()),
            tokens_b=float(tok_b.mean()),
            accuracy_difference=paired_difference(acc_a, acc_b),
            token_saving=bootstrap_saving(tok_a, tok_b),
            token_difference=paired_difference(tok_a, tok_b),
        )

    def verdict(self) -> str:
        """One plain-words sentence, e.g. "A saves 41% tokens [36, 46] at −0.3 accuracy points
        [−1.1, +0.5]; not distinguishable in accuracy"."""
        saving, s_lo, s_hi = self.token_saving
        if saving >= 0:
            tokens = f"{self.label_a} saves {saving:.0f}% tokens [{s_lo:.0f}, {s_hi:.0f}]"
        else:
            tokens = f"{self.label_a} spends {-saving:.0f}% more tokens [{-s_hi:.0f}, {-s_lo:.0f}]"
        diff, d_lo, d_hi = self.accuracy_difference
        text = f"{tokens} at {_signed(diff)} accuracy points [{_signed(d_lo)}, {_signed(d_hi)}] vs {self.label_b}"
        if d_lo > 0:
            judgement = f"{self.label_a} is more accurate"
        elif d_hi < 0:
            judgement = f"{self.label_a} is less accurate"
        else:
            judgement = "not distinguishable in accuracy"
        if s_lo <= 0 <= s_hi:
            judgement += "; not distinguishable in tokens"
        return f"{text}; {judgement}"

    def rows(self) -> list[dict]:
        diff, d_lo, d_hi = self.accuracy_difference
        saving, s_lo, s_hi = self.token_saving
        return [
            {"quantity": f"accuracy % ({self.label_a})", "value": round(self.accuracy_a, 2)},
            {"quantity": f"accuracy % ({self.label_b})", "value": round(self.accuracy_b, 2)},
            {"quantity": "accuracy difference A − B (points)", "value": fmt_interval(diff, d_lo, d_hi)},
            {"quantity": f"tokens ({self.label_a})", "value": round(self.tokens_a, 1)},
            {"quantity": f"tokens ({self.label_b})", "value": round(self.tokens_b, 1)},
            {"quantity": "token saving of A (%)", "value": fmt_interval(saving, s_lo, s_hi)},
        ]

    def to_json(self) -> dict:
        return {
            "a": self.label_a,
            "b": self.label_b,
            "stores": list(self.stores),
            "seeds": self.seeds,
            "accuracy_a": self.accuracy_a,
            "accuracy_b": self.accuracy_b,
            "tokens_a": self.tokens_a,
            "tokens_b": self.tokens_b,
            "accuracy_difference": list(self.accuracy_difference),
            "token_saving_percent": list(self.token_saving),
            "token_difference": list(self.token_difference),
            "verdict": self.verdict(),
        }


def _signed(value: float, digits: int = 1) -> str:
    """``+1.5`` / ``−0.3`` with a true minus sign, and never ``−0.0``."""
    value = round(value, digits) + 0.0
    return f"{value:+.{digits}f}".replace("-", "−")


def fmt_interval(estimate: float, low: float, high: float) -> str:
    """``+1.25 [−0.40, +2.90]``."""
    return f"{_signed(estimate, 2)} [{_signed(low, 2)}, {_signed(high, 2)}]"


def per_store_comparisons(
    label_a: str, a: Sequence[CellResult], label_b: str, b: Sequence[CellResult]
) -> list[Comparison]:
    """One comparison per store (same order as ``a``)."""
    _check_paired(a, b)
    return [Comparison.of(label_a, [x], label_b, [y]) for x, y in zip(a, b, strict=True)]
