"""Oracle bounds: the physical limits of a replay store, which no controller can beat.

For each store (pool of ``n`` = 128 branches per question):

* **majority@pool** — accuracy of the majority over the final answers of all ``n`` branches (ties go to
  the answer seen first in pool order, as in :class:`~autotts.data.store.StoreSummary`). A voting
  controller converges to this as its budget grows.
* **pass@k** — accuracy of an oracle that picks the correct answer whenever one of ``k`` branches
  drawn without replacement has it: ``1 − C(n − c, k) / C(n, k)`` per question (``c`` correct finals),
  averaged over questions. An upper bound for any controller that reads ``k`` branches.
* **cheapest majority cost** — the fewest tokens at which any controller that reads branches whole in
  the seed's branch order could have returned the pool-majority answer: the smallest prefix length
  ``k`` of the order (``random.Random(seed).shuffle``, as in the episode) whose majority of final
  answers (ties to the first seen in that order) equals the pool-majority answer, and its cost, the sum
  of those ``k`` branches' ``branch_tokens``. It is an oracle *stopping* rule: the controller knows the
  moment the revealed answers first make the pool majority the leader. Averaged over seeds and
  questions (the same seeds as the evaluation). When no prefix does (a tie in the pool broken the other
  way), the whole pool is charged.

Distances of a controller from the limits: its accuracy minus majority@pool (points) and its tokens
divided by the cheapest majority cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaln

from ..data.lookup import load_store
from ..data.store import AnswerMatrix, Question, Store
from ..env.core import branch_order

PASS_AT = (1, 8, 64)


@dataclass(frozen=True)
class OracleBounds:
    """Oracle bounds of one store (accuracies in percent, tokens per question)."""

    store: str
    questions: int
    seeds: int
    majority_accuracy: float
    pass_at: dict[int, float]
    cheapest_majority_tokens: float
    cheapest_majority_branches: float
    per_question_cheapest: list[float] = field(default_factory=list, repr=False)

    def row(self) -> dict:
        row = {
            "store": self.store,
            "majority@pool %": round(self.majority_accuracy, 2),
            **{f"pass@{k} %": round(v, 2) for k, v in self.pass_at.items()},
            "cheapest majority tokens": round(self.cheapest_majority_tokens, 1),
            "cheapest majority branches": round(self.cheapest_majority_branches, 2),
            "seeds": self.seeds,
        }
        return row


def pool_leader(matrix: AnswerMatrix) -> int:
    """Answer id of the pool majority; ties to the answer seen first in pool order."""
    counts = np.bincount(matrix.final, minlength=len(matrix.vocab))
    best = counts.max()
    tied = np.flatnonzero(counts == best)
    if len(tied) == 1:
        return int(tied[0])
    first_position = {int(a): i for i, a in reversed(list(enumerate(matrix.final.tolist())))}
    return int(min(tied, key=lambda a: first_position[int(a)]))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that ``k`` of ``n`` branches drawn without replacement include one of ``c`` correct."""
    if k >= n or c <= 0:
        return float(c > 0)
    if n - c < k:
        return 1.0
    log_none = gammaln(n - c + 1) - gammaln(n - c - k + 1) - gammaln(n + 1) + gammaln(n - k + 1)
    return float(1.0 - np.exp(log_none))


def cheapest_majority(
    question: Question, matrix: AnswerMatrix, leader: int, seeds: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens, branches)``, one entry per seed: the shortest prefix of the seed's order whose
    majority is ``leader``, and its cost."""
    n = len(question.branches)
    orders = np.array([branch_order(seed, n) for seed in seeds], dtype=np.int64)
    answers, compact = np.unique(matrix.final, return_inverse=True)  # final answers only
    finals = compact[orders]  # seeds × position
    rows = np.arange(len(orders))[:, None]
    counts = np.cumsum(np.eye(len(answers), dtype=np.int32)[finals], axis=1)  # seeds × prefix × answer
    first_seen = np.full((len(orders), len(answers)), n, dtype=np.int64)
    np.minimum.at(first_seen, (rows, finals), np.arange(n)[None, :])
    # rank by count, ties to the earliest first sighting (unseen answers have count 0 and lose)
    score = counts.astype(np.int64) * (n + 1) - first_seen[:, None, :]
    hits = score.argmax(axis=2) == np.searchsorted(answers, leader)
    branches = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, n)
    spent = np.cumsum(matrix.tokens[orders], axis=1)[np.arange(len(orders)), branches - 1]
    return spent, branches


def store_bounds(store: Store, seeds: int = 100, pass_at: tuple[int, ...] = PASS_AT) -> OracleBounds:
    """Oracle bounds of ``store`` under seeds ``0..seeds-1``."""
    correct_majority = 0
    pass_sums = dict.fromkeys(pass_at, 0.0)
    per_question_tokens: list[float] = []
    branch_counts: list[float] = []
    for question in store.questions:
        matrix = AnswerMatrix.of(question)
        leader = pool_leader(matrix)
        correct_majority += int(leader == matrix.gold)
        n = len(question.branches)
        c = int((matrix.final == matrix.gold).sum()) if matrix.gold >= 0 else 0
        for k in pass_at:
            pass_sums[k] += pass_at_k(n, c, k)
        spent, branches = cheapest_majority(question, matrix, leader, range(seeds))
        per_question_tokens.append(float(spent.mean()))
        branch_counts.append(float(branches.mean()))
    n_q = len(store.questions)
    return OracleBounds(
        store=store.name,
        questions=n_q,
        seeds=seeds,
        majority_accuracy=100.0 * correct_majority / n_q,
        pass_at={k: 100.0 * v / n_q for k, v in pass_sums.items()},
        cheapest_majority_tokens=float(np.mean(per_question_tokens)),
        cheapest_majority_branches=float(np.mean(branch_counts)),
        per_question_cheapest=per_question_tokens,
    )


def oracle_bounds(stores: list[str], seeds: int = 100) -> list[OracleBounds]:
    """Bounds of each named store (loaded from the data directory)."""
    return [store_bounds(load_store(name), seeds) for name in stores]


def distance_rows(bounds: list[OracleBounds], results: list) -> list[dict]:
    """How far each evaluated (controller, β) is from its store's limits."""
    by_store = {b.store: b for b in bounds}
    rows = []
    for r in results:
        b = by_store.get(r.store)
        if b is None:
            continue
        rows.append(
            {
                "controller": r.controller,
                "beta": r.beta,
                "store": r.store,
                "accuracy %": round(r.accuracy, 2),
                "gap to majority@pool (points)": round(r.accuracy - b.majority_accuracy, 2),
                "tokens": round(r.mean_tokens, 1),
                "tokens / cheapest majority": round(r.mean_tokens / b.cheapest_majority_tokens, 2),
            }
        )
    return rows
