"""Exact episode semantics (docs/episode.md) on hand-made questions."""

from __future__ import annotations

import random

import pytest

from autotts.env import Episode, EpisodeError, UpstreamQuestion, branch_order, trace_records
from synthetic import make_question

pytestmark = pytest.mark.synthetic

# pool order under seed 0 decides which pool branch is opened first; tests use identical-shape pools
# or look the order up, never assume it.


def question_with(probes: list[str], tokens: int, final: str, pool: int = 4):
    return make_question([(probes, tokens, final)] * pool)


def test_branch_order_is_random_shuffle_of_the_pool():
    expected = list(range(128))
    random.Random(7).shuffle(expected)
    assert list(branch_order(7, 128)) == expected


def test_spawn_opens_branches_in_seed_order_and_charges_one_interval():
    pool = [([str(i), str(i)], 1000, str(i)) for i in range(8)]
    ep = Episode(make_question(pool), seed=3)
    ids = ep.spawn(3)
    assert ids == [0, 1, 2]
    order = branch_order(3, 8)
    assert ep.answers(ids) == [str(order[k]) for k in range(3)]
    assert ep.tokens == 3 * 500
    assert ep.latency_tokens == 500


def test_advancing_past_the_probes_charges_the_rest_of_the_branch_once():
    ep = Episode(question_with(["a", "b"], 1800, "c"), seed=0)
    (i,) = ep.spawn(1)
    assert ep.advance([i]) == ["b"]
    assert not ep.is_finished(i)
    assert ep.advance([i]) == ["c"]
    assert ep.is_finished(i)
    assert ep.tokens == 500 + 500 + 800
    with pytest.raises(EpisodeError, match="finished"):
        ep.advance([i])
    assert ep.tokens == 1800  # the failed advance charged nothing


def test_a_branch_shorter_than_its_probes_costs_its_probes():
    ep = Episode(question_with(["a", "b", "c"], 1200, "c"), seed=0)
    (i,) = ep.spawn(1)
    ep.advance([i], steps=5)
    assert ep.is_finished(i)
    assert ep.tokens == 1500  # max(L·Δ, branch_tokens) = max(1500, 1200)
    assert ep.intervals(i) == 4


def test_full_read_costs_branch_tokens_and_reveals_only_the_final_answer():
    ep = Episode(question_with(["a", "b", "c"], 1200, "z"), seed=0)
    assert ep.read_full(2) == ["z", "z"]
    assert ep.tokens == 2400
    assert ep.latency_tokens == 1200
    assert ep.history(0) == ["z"]
    assert ep.is_finished(0) and ep.is_finished(1)


def test_latency_is_the_largest_charge_of_each_wave():
    pool = [(["a"] * 3, 1500, "a"), (["b"] * 1, 2600, "b")] * 2
    ep = Episode(make_question(pool), seed=0)
    ids = ep.spawn(4)
    ep.advance(ids, steps=[1, 1, 1, 1])
    charges = [r["tokens"] for r in trace_records(ep.trace)]
    assert ep.tokens == sum(charges)
    # wave 2: branches with one probe finish (charge 2600 - 500 = 2100), the others pay 500
    assert ep.latency_tokens == 500 + 2100


def test_burst_stops_at_the_final_answer_and_history_keeps_every_probe():
    ep = Episode(question_with(["a", "b"], 1100, "c"), seed=0)
    (i,) = ep.spawn(1)
    assert ep.advance([i], steps=10) == ["c"]
    assert ep.history(i) == ["a", "b", "c"]
    assert ep.tokens == 1100


def test_ceiling_prune_and_errors_charge_nothing():
    ep = Episode(question_with(["a", "b"], 1000, "c", pool=128), seed=0, max_branches=4)
    ep.spawn(3)
    with pytest.raises(EpisodeError, match="at most 4"):
        ep.spawn(2)
    ep.prune([1])
    assert ep.live() == [0, 2] and ep.is_pruned(1)
    before = ep.tokens
    with pytest.raises(EpisodeError, match="pruned"):
        ep.advance([0, 1])
    with pytest.raises(EpisodeError, match="not been opened"):
        ep.advance([7])
    with pytest.raises(EpisodeError, match="twice"):
        ep.advance([0, 0])
    with pytest.raises(EpisodeError, match="not live"):
        ep.prune([1])
    assert ep.tokens == before
    assert ep.remaining == 1


def test_trace_records_every_action_and_notes():
    ep = Episode(question_with(["a", "b"], 1000, "c"), seed=0)
    ids = ep.spawn(2)
    ep.note(confidence=0.5)
    ep.advance(ids[:1])
    ep.prune(ids[1:])
    ep.read_full(1)
    records = trace_records(ep.trace)
    assert [r["action"] for r in records] == ["spawn", "note", "advance", "prune", "read_full"]
    assert records[1] == {"wave": 1, "action": "note", "confidence": 0.5}
    assert records[2]["branches"] == [0] and records[2]["answers"] == ["b"]


def test_upstream_adapter_matches_the_published_interface():
    ep = Episode(question_with(["a", "b"], 1800, "c", pool=3), seed=0, max_branches=3)
    q = UpstreamQuestion(ep)
    assert q.probe_new() == ("a", 0, False)
    assert q.probe_more(0) == ("b", False)
    assert q.probe_more(0) == ("c", True)
    assert q.get_new_branch_final_answer() == "c"
    assert q.get_seq_and_total_tokens() == (ep.latency_tokens, 1800 + 1800)
    with pytest.raises(ValueError):
        q.probe_more(0)  # finished
    q.probe_new()
    with pytest.raises(ValueError):
        q.probe_new()  # the pool (3) is exhausted


def test_trace_records_how_far_each_branch_went_in_a_burst():
    ep = Episode(question_with(["a", "b", "c"], 1500, "d"), seed=0)
    ids = ep.spawn(2)
    ep.advance(ids, steps=[2, 9])
    wave = trace_records(ep.trace)[-1]
    assert wave["intervals"] == [2, 3]  # the second branch had only three intervals left
    assert ep.intervals(0) == 3 and ep.intervals(1) == 4
