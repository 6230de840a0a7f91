"""Oracle bounds against brute force on the real replay stores."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

from autotts.controllers.votes import majority
from autotts.data import load_store
from autotts.data.store import AnswerMatrix
from autotts.report.oracle import cheapest_majority, pass_at_k, pool_leader, store_bounds

STORE = "Qwen3-0.6B/hmmt25"  # a hard store: many questions where the majority forms late


@pytest.mark.parametrize(("n", "c", "k"), [(6, 2, 3), (7, 0, 2), (5, 5, 1), (8, 3, 4), (6, 1, 6)])
def test_pass_at_k_matches_enumeration(n: int, c: int, k: int) -> None:
    hits = sum(any(i < c for i in draw) for draw in itertools.combinations(range(n), k))
    assert pass_at_k(n, c, k) == pytest.approx(hits / math.comb(n, k))


def test_cheapest_majority_matches_a_step_by_step_reader() -> None:
    store = load_store(STORE)
    checked_late = 0
    for question in store.questions[:10]:
        matrix = AnswerMatrix.of(question)
        leader = pool_leader(matrix)
        target = matrix.vocab[leader]
        spent_by_seed, read_by_seed = cheapest_majority(question, matrix, leader, range(4))
        for seed in range(4):
            order = list(range(len(question.branches)))
            random.Random(seed).shuffle(order)
            read, spent = [], 0
            for index in order:
                read.append(question.branches[index].final)
                spent += question.branches[index].tokens
                if majority(read) == target:
                    break
            assert (spent_by_seed[seed], read_by_seed[seed]) == (spent, len(read))
            checked_late += len(read) > 1
    assert checked_late > 0  # the check covered prefixes longer than one branch


def test_store_bounds_agree_with_the_store_summary_and_order() -> None:
    store = load_store(STORE)
    bounds = store_bounds(store, seeds=3)
    assert bounds.majority_accuracy == pytest.approx(store.summary().majority_accuracy)
    assert bounds.pass_at[1] <= bounds.pass_at[8] <= bounds.pass_at[64] <= 100.0
    pass_1 = np.mean([np.mean([b.final == q.gold for b in q.branches]) for q in store.questions]) * 100
    assert bounds.pass_at[1] == pytest.approx(pass_1)
    assert bounds.cheapest_majority_tokens == pytest.approx(np.mean(bounds.per_question_cheapest))
    assert 1.0 <= bounds.cheapest_majority_branches <= 128
