"""Property tests of the episode's accounting over random questions and random action sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts.env import Episode, EpisodeError, branch_order
from synthetic import make_question

pytestmark = pytest.mark.synthetic

answers = st.sampled_from(["1", "2", "3", "ERR"])
branches = st.tuples(st.lists(answers, max_size=6), st.integers(0, 4000), answers)
questions = st.lists(branches, min_size=1, max_size=12).map(make_question)
actions = st.lists(
    st.tuples(st.sampled_from(["spawn", "advance", "read_full", "prune"]), st.integers(1, 4), st.integers(0, 11)),
    max_size=40,
)


def play(question, seed: int, script) -> Episode:
    """Apply a random script; illegal actions must raise EpisodeError and change nothing."""
    ep = Episode(question, seed, max_branches=8)
    for action, n, pick in script:
        tokens_before, trace_before = ep.tokens, len(ep.trace)
        try:
            if action == "spawn":
                ep.spawn(n)
            elif action == "read_full":
                ep.read_full(n)
            else:
                ids = [pick % max(ep.opened, 1)]
                ep.advance(ids, steps=n) if action == "advance" else ep.prune(ids)
        except EpisodeError:
            assert ep.tokens == tokens_before and len(ep.trace) == trace_before
    return ep


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(questions, st.integers(0, 1000), actions)
def test_accounting_invariants(question, seed, script):
    ep = play(question, seed, script)
    charges = [entry[3] for entry in ep.trace if entry[0] != "note"]
    assert ep.tokens == sum(charges)
    assert 0 <= ep.latency_tokens <= ep.tokens
    assert ep.tokens == sum(ep.branch_tokens(i) for i in range(ep.opened))
    freq = question.probe_freq
    order = branch_order(seed, len(question.branches))
    for i in range(ep.opened):
        branch = question.branches[order[i]]
        # no branch ever costs more than reading it to its end
        assert 0 <= ep.branch_tokens(i) <= max(branch.probes * freq, branch.tokens)
        history = ep.history(i)
        assert history == list(branch.steps[: len(history)]) or history == [branch.final]
        if ep.is_finished(i):
            assert ep.answer(i) == branch.final


@settings(max_examples=100, deadline=None)
@given(questions, st.integers(0, 1000), actions)
def test_same_seed_same_episode(question, seed, script):
    a, b = play(question, seed, script), play(question, seed, script)
    assert a.trace == b.trace and a.tokens == b.tokens and a.latency_tokens == b.latency_tokens
