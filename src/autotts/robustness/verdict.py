"""Verdicts: paired figures against SC@64 per condition, stratum and controller, and the flags.

For each controller an *operating β* is fixed once, on the unshifted stores: the smallest β of the
grid at which its pooled accuracy reaches SC@64's (if none does, the β of its highest accuracy), or
the β the user gives. A deployed policy runs at one β, so every condition is judged at that β:

* **saving** = ``100 (1 − Σ tokens / Σ tokens of SC@64)`` over the condition's questions;
* **Δaccuracy** = mean over questions of (accuracy − accuracy of SC@64), in points;
* both with 95% paired percentile bootstrap intervals over questions (2000 resamples, the same
  resamples for both; repeats of one question in a reweighted mixture are resampled together);
* **flagged** when the controller is worse than SC@64 (the Δaccuracy interval lies below zero) or
  loses more than half its saving (saving under the condition < half the unshifted saving, when the
  unshifted saving is positive). ``reason`` says which, in plain words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data.lookup import load_store
from ..data.transforms import TIERS, difficulty
from ..evaluation.metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, tokens_at_accuracy
from .run import REFERENCE_BETA, REFERENCE_LABEL, ConditionResult

SAVING_LOSS = 0.5  # flagged when less than this share of the unshifted saving is left
LEVEL = 0.95
MARGIN_CLASSES = ("decisive majority", "contested majority", "wrong majority")


@dataclass(frozen=True)
class Figure:
    estimate: float
    low: float
    high: float

    def to_json(self) -> dict[str, float]:
        return {"estimate": round(self.estimate, 4), "low": round(self.low, 4), "high": round(self.high, 4)}


@dataclass
class Verdict:
    """One controller in one condition (or stratum), at its operating β."""

    condition: str
    kind: str  # reference | stratum | shift
    group: str
    controller: str
    beta: float
    questions: int
    accuracy: float
    tokens: float
    sc64_accuracy: float
    sc64_tokens: float
    delta_accuracy: Figure
    saving: Figure
    base_saving: float
    flagged: bool
    reason: str
    worse: bool = False
    lost_saving: bool = False

    def to_json(self) -> dict:
        return {
            "condition": self.condition,
            "kind": self.kind,
            "group": self.group,
            "controller": self.controller,
            "beta": self.beta,
            "questions": self.questions,
            "accuracy": round(self.accuracy, 4),
            "tokens": round(self.tokens, 1),
            "sc64_accuracy": round(self.sc64_accuracy, 4),
            "sc64_tokens": round(self.sc64_tokens, 1),
            "delta_accuracy": self.delta_accuracy.to_json(),
            "saving": self.saving.to_json(),
            "unshifted_saving": round(self.base_saving, 4),
            "flagged": self.flagged,
            "worse_than_sc64": self.worse,
            "lost_half_saving": self.lost_saving,
            "reason": self.reason,
        }


def compare(
    acc: np.ndarray,
    tok: np.ndarray,
    ref_acc: np.ndarray,
    ref_tok: np.ndarray,
    clusters: Sequence[object] | None = None,
) -> tuple[Figure, Figure]:
    """(Δaccuracy in points, saving in percent) of a controller against the reference, paired by unit,
    with percentile bootstrap intervals over questions. ``clusters`` names each unit's question: units
    of the same question (a reweighted mixture repeats questions) are resampled together, so repeats
    weight a question without counting as independent evidence."""
    acc, tok = np.asarray(acc, dtype=float), np.asarray(tok, dtype=float)
    ref_acc, ref_tok = np.asarray(ref_acc, dtype=float), np.asarray(ref_tok, dtype=float)
    keys = list(range(acc.size)) if clusters is None else list(clusters)
    if len(keys) != acc.size or not acc.size:
        raise ValueError("compare: one cluster key per unit, and at least one unit")
    index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    member = np.array([index[k] for k in keys])
    n = len(index)

    def per_cluster(values: np.ndarray) -> np.ndarray:
        return np.bincount(member, weights=values, minlength=n)

    diff, units = per_cluster(acc - ref_acc), np.bincount(member, minlength=n).astype(float)
    own, ref = per_cluster(tok), per_cluster(ref_tok)
    picks = np.random.default_rng(BOOTSTRAP_SEED).integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))
    flat = (picks + n * np.arange(BOOTSTRAP_RESAMPLES)[:, None]).ravel()
    counts = np.bincount(flat, minlength=BOOTSTRAP_RESAMPLES * n).reshape(BOOTSTRAP_RESAMPLES, n).astype(float)
    tail = 100 * (1 - LEVEL) / 2
    d_samples = counts @ diff / (counts @ units)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_samples = 100.0 * (1.0 - (counts @ own) / (counts @ ref))
    d_est = float(diff.sum() / units.sum())
    s_est = float(100.0 * (1.0 - own.sum() / ref.sum())) if ref.sum() > 0 else float("nan")
    d_lo, d_hi = np.percentile(d_samples, [tail, 100 - tail])
    s_lo, s_hi = np.nanpercentile(s_samples, [tail, 100 - tail]) if ref.sum() > 0 else (np.nan, np.nan)
    return Figure(d_est, float(d_lo), float(d_hi)), Figure(s_est, float(s_lo), float(s_hi))


def operating_beta(result: ConditionResult, label: str) -> float:
    """The smallest β at which ``label`` reaches SC@64's pooled accuracy; else its most accurate β."""
    family = result.families[label]
    target = float(result.families[REFERENCE_LABEL].accuracy[REFERENCE_BETA].mean())
    betas = family.betas
    for beta in betas:
        if float(family.accuracy[beta].mean()) >= target - 1e-9:
            return beta
    return max(betas, key=lambda b: (float(family.accuracy[b].mean()), -b))


def judge(
    label: str,
    beta: float,
    result: ConditionResult,
    mask: np.ndarray | None,
    base_saving: float,
    *,
    name: str,
    kind: str,
    group: str,
) -> Verdict:
    """The verdict of ``label`` at ``beta`` on the units of ``result`` selected by ``mask``."""
    family, ref = result.families[label], result.families[REFERENCE_LABEL]
    pick = slice(None) if mask is None else mask
    acc, tok = family.accuracy[beta][pick], family.tokens[beta][pick]
    ref_acc, ref_tok = ref.accuracy[REFERENCE_BETA][pick], ref.tokens[REFERENCE_BETA][pick]
    units = result.units if mask is None else [u for u, m in zip(result.units, mask, strict=True) if m]
    delta, saving = compare(acc, tok, ref_acc, ref_tok, units)
    worse = delta.high < 0
    lost = kind != "reference" and base_saving > 0 and saving.estimate < SAVING_LOSS * base_saving
    reasons = []
    where = "unshifted" if kind == "reference" else f"under {name}" if kind == "shift" else f"on {name}"
    if worse:
        reasons.append(
            f"{label} is worse than SC@64 {where}: {delta.estimate:+.1f} accuracy points "
            f"[{delta.low:+.1f}, {delta.high:+.1f}]"
        )
    if lost:
        reasons.append(
            f"{label} loses more than half its saving {where}: {saving.estimate:.0f}% "
            f"[{saving.low:.0f}, {saving.high:.0f}] against {base_saving:.0f}% unshifted"
        )
    if not reasons:
        reasons.append(
            f"holds {where}: saves {saving.estimate:.0f}% [{saving.low:.0f}, {saving.high:.0f}] at "
            f"{delta.estimate:+.1f} accuracy points [{delta.low:+.1f}, {delta.high:+.1f}]"
        )
    return Verdict(
        condition=name,
        kind=kind,
        group=group,
        controller=label,
        beta=beta,
        questions=int(acc.size),
        accuracy=float(acc.mean()),
        tokens=float(tok.mean()),
        sc64_accuracy=float(ref_acc.mean()),
        sc64_tokens=float(ref_tok.mean()),
        delta_accuracy=delta,
        saving=saving,
        base_saving=base_saving,
        flagged=worse or lost,
        reason="; ".join(reasons),
        worse=worse,
        lost_saving=lost,
    )


def strata(base: ConditionResult) -> list[tuple[str, str, np.ndarray]]:
    """(name, group, unit mask) of every stratum of the unshifted stores: by model, by benchmark,
    by difficulty tier (pool pass rate) and by the pool majority's margin."""
    stores = {b: load_store(b) for b in dict.fromkeys(u[0] for u in base.units)}
    questions = {(b, q.index): q for b, s in stores.items() for q in s.questions}
    infos = [difficulty(questions[u]) for u in base.units]
    models = [stores[u[0]].model for u in base.units]
    benches = [stores[u[0]].benchmark for u in base.units]
    out: list[tuple[str, str, np.ndarray]] = []
    for group, values in (("model", models), ("benchmark", benches)):
        for value in dict.fromkeys(values):
            out.append((f"{group}: {value}", group, np.array([v == value for v in values])))
    for tier in TIERS:
        mask = np.array([i.tier == tier for i in infos])
        out.append((f"difficulty: {tier}", "difficulty", mask))
    margin = np.array([i.margin for i in infos])
    for name, mask in zip(MARGIN_CLASSES, (margin >= 0.5, (margin >= 0) & (margin < 0.5), margin < 0), strict=True):
        out.append((f"margin: {name}", "margin", mask))
    return [s for s in out if s[2].any()]


def frontier_saving(result: ConditionResult, label: str) -> float | None:
    """Saving (%) against SC@64 at SC@64's accuracy, interpolated over the β curve (log tokens), as
    in the judgement's frontier figures; None when the curve never reaches that accuracy."""
    family, ref = result.families[label], result.families[REFERENCE_LABEL]
    points = [(float(family.tokens[b].mean()), float(family.accuracy[b].mean())) for b in family.betas]
    target_acc = float(ref.accuracy[REFERENCE_BETA].mean())
    at = tokens_at_accuracy(points, target_acc)
    return None if at is None else 100.0 * (1.0 - at / float(ref.tokens[REFERENCE_BETA].mean()))


def curve_rows(result: ConditionResult, labels: Sequence[str]) -> list[dict]:
    """Every (controller, β) of a condition, with its paired figures against SC@64."""
    ref = result.families[REFERENCE_LABEL]
    rows = []
    for label in labels:
        family = result.families[label]
        for beta in family.betas:
            delta, saving = compare(
                family.accuracy[beta],
                family.tokens[beta],
                ref.accuracy[REFERENCE_BETA],
                ref.tokens[REFERENCE_BETA],
                result.units,
            )
            rows.append(
                {
                    "condition": result.condition.name,
                    "controller": label,
                    "beta": beta,
                    "accuracy": round(float(family.accuracy[beta].mean()), 4),
                    "tokens": round(float(family.tokens[beta].mean()), 1),
                    "delta_accuracy": delta.to_json(),
                    "saving": saving.to_json(),
                }
            )
    return rows
