"""Shift conditions: named recipes that turn the evaluation stores into transformed stores.

A :class:`Condition` applies one store transform (:mod:`autotts.data.transforms`) to every store
of the evaluation, identically for every controller. A randomised condition has several
*replicates* (different seeds of the transform); results are averaged over replicates question by
question, so the intervals stay over questions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..data import transforms as T
from ..data.lookup import load_store, register_store, unregister_store
from ..data.store import Store

StoreTransform = Callable[[Store, int], Store]  # (store, replicate) -> transformed store


@dataclass(frozen=True)
class Condition:
    """One shift: ``transform(store, replicate)`` for each of ``replicates`` replicates.

    ``group`` names the question the condition asks (probe granularity, pool resampling, ...);
    ``transform`` is None for the unshifted base condition."""

    name: str
    group: str
    description: str
    transform: StoreTransform | None = None
    replicates: int = 1
    # the transform only selects or repeats questions (task mix): an episode depends only on its
    # question and seed, so the unshifted episodes of those questions are reused, not replayed
    reuses_base: bool = False
    tags: tuple[str, ...] = field(default=(), compare=False)

    def stores(self, base: str, replicate: int) -> Store:
        store = load_store(base)
        if self.transform is None:
            return store
        return self.transform(store, replicate)


BASE = Condition("base", "reference", "the evaluation stores as collected (no shift)")


def default_conditions(subset_replicates: int = 2, noise_seed: int = 0) -> list[Condition]:
    """The shifts of the default report (the issue's list): probe granularity, pool resampling,
    extraction noise, reasoning length and task mix."""
    return [
        BASE,
        Condition(
            "delta1000",
            "probe granularity",
            "probes every 1000 tokens (intervals merged): a serving stack that probes half as often",
            lambda s, r: T.merge_intervals(s, 1000),
        ),
        Condition(
            "delta1500",
            "probe granularity",
            "probes every 1500 tokens (intervals merged)",
            lambda s, r: T.merge_intervals(s, 1500),
        ),
        Condition(
            "pool64",
            "pool resampling",
            f"each question's pool is a random 64 of its 128 branches ({subset_replicates} draws, averaged)",
            lambda s, r: T.subsample_pool(s, min(64, len(s.questions[0].branches)), seed=1000 + r),
            replicates=subset_replicates,
        ),
        Condition(
            "err10",
            "extraction noise",
            "10% of probe answers are ERR (the answer could not be extracted)",
            lambda s, r: T.probe_errors(s, 0.10, seed=noise_seed + r),
        ),
        Condition(
            "forms25",
            "extraction noise",
            "25% of branches write every answer in an equivalent other form (12 vs 12.0), splitting the vote",
            lambda s, r: T.split_forms(s, 0.25, seed=noise_seed + r),
        ),
        Condition(
            "longer",
            "reasoning length",
            "branches reason 1.5× longer (a model that thinks longer)",
            lambda s, r: T.scale_lengths(s, 1.5),
        ),
        Condition(
            "shorter",
            "reasoning length",
            "branches reason 2/3 as long (a model that thinks less)",
            lambda s, r: T.scale_lengths(s, 2 / 3),
        ),
        Condition(
            "hard-only",
            "task mix",
            "only questions with pool pass rate < 0.3 (hard and unsolved)",
            lambda s, r: T.select_questions(s, ["hard", "unsolved"], "hard-only"),
            reuses_base=True,
        ),
        Condition(
            "easy-only",
            "task mix",
            "only questions with pool pass rate ≥ 0.7",
            lambda s, r: T.select_questions(s, ["easy"], "easy-only"),
            reuses_base=True,
        ),
        Condition(
            "hard-heavy",
            "task mix",
            "a mixture with hard and unsolved questions counted three times",
            lambda s, r: T.reweight_questions(s, {"hard": 3, "unsolved": 3}, "hard-heavy"),
            reuses_base=True,
        ),
        Condition(
            "easy-heavy",
            "task mix",
            "a mixture with easy questions counted three times",
            lambda s, r: T.reweight_questions(s, {"easy": 3}, "easy-heavy"),
            reuses_base=True,
        ),
    ]


def select_conditions(conditions: Sequence[Condition], names: Sequence[str] | None) -> list[Condition]:
    """The conditions named (base always first); an unknown name is an error that lists the known ones."""
    if not names:
        return list(conditions)
    known = {c.name: c for c in conditions}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown condition(s) {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = [BASE] + [known[n] for n in dict.fromkeys(names) if n != BASE.name]
    return chosen


class ConditionStores:
    """The transformed stores of one condition, registered under derived names while in use
    (``with`` block), so evaluation — in-process, forked workers or the sandbox — loads them by name.

    ``names[r][i]`` is the name of replicate ``r`` of store ``i``; ``skipped`` maps a store to the
    reason the condition does not apply to it (e.g. Δ not a multiple of the store's)."""

    def __init__(self, condition: Condition, stores: Sequence[str]):
        self.condition = condition
        self.names: list[list[str]] = []
        self.skipped: dict[str, str] = {}
        self._registered: list[str] = []
        self._built: dict[tuple[str, int], tuple[str, Store]] = {}
        taken: set[str] = set()
        self.bases: list[str] = []
        for base in stores:
            try:
                per_replicate = [condition.stores(base, r) for r in range(condition.replicates)]
            except T.TransformError as exc:
                self.skipped[base] = str(exc)
                continue
            self.bases.append(base)
            for r, store in enumerate(per_replicate):
                name = base if condition.transform is None else store.name
                if name in taken:  # a transform whose name does not tell replicates apart
                    name = f"{name}~r{r}"
                taken.add(name)
                self._built[(base, r)] = (name, store)
        self.names = [[self._built[(b, r)][0] for b in self.bases] for r in range(condition.replicates)]

    def store(self, base: str, replicate: int) -> Store:
        """The transformed store of ``base`` for one replicate."""
        return self._built[(base, replicate)][1]

    def __enter__(self) -> ConditionStores:
        if self.condition.transform is not None:
            for name, store in self._built.values():
                register_store(name, store)
                self._registered.append(name)
        return self

    def __exit__(self, *_: object) -> None:
        for name in self._registered:
            unregister_store(name)
        self._registered.clear()


__all__ = ["BASE", "Condition", "ConditionStores", "default_conditions", "select_conditions"]
