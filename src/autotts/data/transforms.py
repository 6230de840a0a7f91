"""Store transforms for robustness checks: pure functions ``Store -> Store`` that model a shift in
how the data would look under other serving or collection conditions.

Every transform returns a new :class:`~autotts.data.store.Store` named ``BASE~TAG`` (e.g.
``Qwen3-4B/aime25~delta1000``) and leaves its input untouched, so the same shift can be applied to
every controller and the result evaluated like any installed store (register it with
:func:`autotts.data.lookup.register_store`). Randomised transforms take an explicit ``seed`` and
draw from ``numpy.random.default_rng([seed, salt, question.index])``: the same call always gives
the same store, whatever else ran before it.

Questions keep their ``index`` (the index of the question in the untransformed store), so results
on a transformed store can be paired with results on the original question by question.

Definitions (see ``docs/robustness.md`` for the properties the tests check):

* :func:`merge_intervals` — probes every ``m·Δ`` tokens instead of every Δ: probe ``j`` of the new
  branch is probe ``j·m`` of the old one; branch tokens and final answers are unchanged.
* :func:`subsample_pool` — each question keeps ``size`` of its branches, drawn without replacement.
* :func:`probe_errors` — each probe answer (never a final answer) becomes ``ERR`` with probability ``rate``.
* :func:`split_forms` — a fraction of branches writes every answer in an equivalent other form
  (``"12"`` → ``"12.0"``, ``"1/2"`` → ``"0.5"``), splitting the vote between two spellings.
* :func:`scale_lengths` — branches think ``factor`` times longer (or shorter): tokens scale, and the
  probe sequence is stretched in time (probe ``i`` shows what the old branch showed at ``i/factor``).
* :func:`select_questions` / :func:`reweight_questions` — task mix: a subset of questions by
  difficulty, or a mixture in which questions of some difficulty tier appear several times.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .store import ERR, Branch, Question, Store

# salts keep the random streams of different transforms apart under the same seed
_SALT_SUBSET, _SALT_ERR, _SALT_FORMS = 1, 2, 3


class TransformError(ValueError):
    """A transform cannot be applied to this store with these arguments."""


def derived_name(store: Store | str, tag: str) -> str:
    """``Qwen3-4B/aime25`` + ``delta1000`` -> ``Qwen3-4B/aime25~delta1000`` (tags of chained transforms
    join with ``~``)."""
    name = store if isinstance(store, str) else store.name
    if not tag or "/" in tag or "~" in tag:
        raise TransformError(f"transform tag {tag!r} must be non-empty and contain no '/' or '~'")
    return f"{name}~{tag}"


def base_name(name: str) -> str:
    """The untransformed store a derived name came from: ``A/b~x~y`` -> ``A/b``."""
    return name.split("~", 1)[0]


def _rng(seed: int, salt: int, question: Question) -> np.random.Generator:
    return np.random.default_rng([seed, salt, question.index])


def _with_branches(question: Question, branches: Sequence[Branch], probe_freq: int | None = None) -> Question:
    return Question(
        question.index,
        question.text,
        question.gold,
        question.probe_freq if probe_freq is None else probe_freq,
        tuple(branches),
    )


def _branch(probe_answers: Sequence[str], tokens: int, final: str) -> Branch:
    steps = tuple(sys.intern(a) for a in (*probe_answers, final))
    return Branch(probes=len(probe_answers), tokens=int(tokens), final=steps[-1], steps=steps)


def _map_questions(store: Store, tag: str, fn: Callable[[Question], Question]) -> Store:
    questions = [fn(q) for q in store.questions]
    return Store(derived_name(store, tag), questions, store.source, answer_type=store.answer_type)


# ---------------------------------------------------------------- probe granularity


def merge_intervals(store: Store, probe_freq: int) -> Store:
    """The store as it would look probed every ``probe_freq`` tokens (a multiple of its Δ).

    With ``m = probe_freq / Δ``, a branch with L probes keeps ``L // m`` of them: new probe ``j``
    (1-based) is old probe ``j·m``, the answer the branch showed at that same token count. The
    probes after the last full merged interval are folded into the final advance. Branch tokens
    and final answers do not change, so a full read costs exactly what it did."""
    if not isinstance(probe_freq, int) or probe_freq <= 0:
        raise TransformError(f"merge_intervals: probe_freq must be a positive integer, got {probe_freq!r}")

    def one(question: Question) -> Question:
        m, rest = divmod(probe_freq, question.probe_freq)
        if rest or m < 1:
            raise TransformError(
                f"merge_intervals: {probe_freq} is not a multiple of {store.name}'s Δ = {question.probe_freq} "
                f"(question {question.index}); intervals can only be merged, not split"
            )
        branches = []
        for b in question.branches:
            probes = b.steps[: b.probes]
            branches.append(_branch(probes[m - 1 :: m][: b.probes // m], b.tokens, b.final))
        return _with_branches(question, branches, probe_freq)

    return _map_questions(store, f"delta{probe_freq}", one)


# ---------------------------------------------------------------- pool resampling


def subsample_pool(store: Store, size: int, seed: int) -> Store:
    """Each question keeps ``size`` of its branches, drawn without replacement (seeded per question);
    the kept branches stay in their original relative order."""

    def one(question: Question) -> Question:
        pool = len(question.branches)
        if not 1 <= size <= pool:
            raise TransformError(f"subsample_pool: size must lie in [1, {pool}] for {store.name}, got {size}")
        keep = np.sort(_rng(seed, _SALT_SUBSET, question).choice(pool, size=size, replace=False))
        return _with_branches(question, [question.branches[i] for i in keep.tolist()])

    return _map_questions(store, f"pool{size}s{seed}", one)


# ---------------------------------------------------------------- extraction noise


def probe_errors(store: Store, rate: float, seed: int) -> Store:
    """Each probe answer independently becomes ``ERR`` (answer extraction failed) with probability
    ``rate``; final answers and token counts are unchanged."""
    if not 0.0 <= rate <= 1.0:
        raise TransformError(f"probe_errors: rate must lie in [0, 1], got {rate}")

    def one(question: Question) -> Question:
        rng = _rng(seed, _SALT_ERR, question)
        branches = []
        for b in question.branches:
            hit = rng.random(b.probes) < rate
            probes = [ERR if h else a for a, h in zip(b.steps[: b.probes], hit.tolist(), strict=True)]
            branches.append(_branch(probes, b.tokens, b.final))
        return _with_branches(question, branches)

    return _map_questions(store, f"err{round(100 * rate)}s{seed}", one)


def alternate_form(answer: str) -> str:
    """An equivalent spelling of ``answer`` that differs from it as a string: integers gain a decimal
    point (``"12"`` → ``"12.0"``), fractions with a terminating decimal become that decimal
    (``"1/2"`` → ``"0.5"``), anything else is wrapped in ``\\boxed{}``. ``ERR`` stays ``ERR`` (a failed
    extraction has no other form). Two answers of different value never get the same spelling."""
    if answer == ERR:
        return ERR
    if _INTEGER.fullmatch(answer):
        return answer + ".0"
    match = _FRACTION.fullmatch(answer)
    if match and int(match[2]) != 0:
        decimal = _terminating_decimal(Fraction(int(match[1]), int(match[2])))
        if decimal is not None:
            return decimal
    return f"\\boxed{{{answer}}}"


_INTEGER = re.compile(r"-?[0-9]+")
_FRACTION = re.compile(r"(-?[0-9]+)/([0-9]+)")


def _terminating_decimal(value: Fraction) -> str | None:
    """``Fraction(1, 2)`` -> ``"0.5"``; None when the decimal does not terminate within 12 places."""
    for places in range(1, 13):
        scaled = value * 10**places
        if scaled.denominator == 1:
            sign = "-" if scaled < 0 else ""
            digits = str(abs(scaled.numerator)).rjust(places + 1, "0")
            return f"{sign}{digits[:-places]}.{digits[-places:]}"
    return None


def split_forms(store: Store, fraction: float, seed: int) -> Store:
    """A ``fraction`` of each question's branches (chosen independently, seeded) writes every answer —
    probes and final — in its :func:`alternate_form`, so one answer gets two spellings and the vote
    splits between them. Gold answers keep their original form: an episode that returns the other
    spelling is scored wrong, as an exact-match grader would."""
    if not 0.0 <= fraction <= 1.0:
        raise TransformError(f"split_forms: fraction must lie in [0, 1], got {fraction}")

    def one(question: Question) -> Question:
        flip = (_rng(seed, _SALT_FORMS, question).random(len(question.branches)) < fraction).tolist()
        branches = []
        for b, f in zip(question.branches, flip, strict=True):
            if not f:
                branches.append(b)
                continue
            forms = [alternate_form(a) for a in b.steps]
            branches.append(_branch(forms[:-1], b.tokens, forms[-1]))
        return _with_branches(question, branches)

    return _map_questions(store, f"forms{round(100 * fraction)}s{seed}", one)


# ---------------------------------------------------------------- reasoning length


def scale_lengths(store: Store, factor: float) -> Store:
    """Every branch reasons ``factor`` times as long, at the same Δ: tokens become
    ``round(tokens · factor)``, probes ``floor(L · factor)``, and new probe ``i`` (1-based) shows old
    probe ``max(1, floor(i / factor))``, the latest answer the old branch had shown at the same point
    of its reasoning (the first one, before that). Final answers are unchanged."""
    if not (isinstance(factor, int | float) and math.isfinite(factor) and factor > 0):
        raise TransformError(f"scale_lengths: factor must be a positive number, got {factor!r}")

    def one(question: Question) -> Question:
        branches = []
        for b in question.branches:
            count = math.floor(b.probes * factor + 1e-9)
            old = b.steps[: b.probes]
            probes = [old[min(b.probes, max(1, math.floor(i / factor + 1e-9))) - 1] for i in range(1, count + 1)]
            branches.append(_branch(probes, round(b.tokens * factor), b.final))
        return _with_branches(question, branches)

    return _map_questions(store, f"len{round(100 * factor)}", one)


# ---------------------------------------------------------------- task mix


@dataclass(frozen=True)
class Difficulty:
    """A question's difficulty as measured from its own pool (needs the gold answer).

    ``pass_rate``: the share of pool branches whose final answer is the gold (pass@1 of the pool);
    ``margin``: (votes of the pool's majority answer − votes of the runner-up) / pool size, signed
    negative when the majority answer is wrong; ``tier``: ``easy`` (pass rate ≥ 0.7), ``medium``
    (≥ 0.3), ``hard`` (> 0) or ``unsolved`` (no branch is right: pass@128 = 0)."""

    pass_rate: float
    margin: float
    majority_correct: bool
    tier: str


TIERS = ("easy", "medium", "hard", "unsolved")
EASY_AT, HARD_BELOW = 0.7, 0.3


def difficulty(question: Question) -> Difficulty:
    if question.gold is None:
        raise TransformError(f"question {question.index}: difficulty needs the gold answer")
    counts: dict[str, int] = {}  # in pool order, so ties go to the answer seen first (as every vote here)
    for b in question.branches:
        counts[b.final] = counts.get(b.final, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])  # stable: first-seen among equals
    pool = len(question.branches)
    leader, top1 = ranked[0]
    top2 = ranked[1][1] if len(ranked) > 1 else 0
    correct = leader == question.gold
    rate = counts.get(question.gold, 0) / pool
    tier = "easy" if rate >= EASY_AT else "medium" if rate >= HARD_BELOW else "hard" if rate > 0 else "unsolved"
    return Difficulty(rate, (top1 - top2) / pool * (1 if correct else -1), correct, tier)


def select_questions(store: Store, tiers: Sequence[str], tag: str | None = None) -> Store:
    """Only the questions whose :func:`difficulty` tier is in ``tiers`` (e.g. hard-only)."""
    unknown = sorted(set(tiers) - set(TIERS))
    if unknown or not tiers:
        raise TransformError(f"select_questions: tiers must be among {', '.join(TIERS)}, got {list(tiers)}")
    kept = [q for q in store.questions if difficulty(q).tier in tiers]
    if not kept:
        raise TransformError(f"select_questions: {store.name} has no question of tier {', '.join(tiers)}")
    return Store(derived_name(store, tag or "+".join(tiers)), kept, store.source, answer_type=store.answer_type)


def reweight_questions(store: Store, weights: Mapping[str, int], tag: str) -> Store:
    """A task mixture: each question appears ``weights[tier]`` times (0 drops it; tiers not named
    keep weight 1). Repeats are the same question (same index), so they pair with the original."""
    bad = {k: v for k, v in weights.items() if k not in TIERS or not isinstance(v, int) or v < 0}
    if bad:
        raise TransformError(
            f"reweight_questions: weights must map tiers {', '.join(TIERS)} to integers ≥ 0, got {bad}"
        )
    kept = [q for q in store.questions for _ in range(weights.get(difficulty(q).tier, 1))]
    if not kept:
        raise TransformError(f"reweight_questions: every question of {store.name} has weight 0")
    return Store(derived_name(store, tag), kept, store.source, answer_type=store.answer_type)


__all__ = [
    "TIERS",
    "Difficulty",
    "TransformError",
    "alternate_form",
    "base_name",
    "derived_name",
    "difficulty",
    "merge_intervals",
    "probe_errors",
    "reweight_questions",
    "scale_lengths",
    "select_questions",
    "split_forms",
    "subsample_pool",
]
