"""The structured controller space: the published controllers are points of it, and genomes are checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autotts.controllers import budget_k
from autotts.controllers.base import get_controller_class
from autotts.controllers.space import (
    BASELINE_GENOMES,
    GenomeError,
    SpaceController,
    baseline_genome,
    check_genome,
    knob_value,
    resolve,
    schedule_value,
)
from autotts.evaluation import Cell, ControllerSpec, evaluate

STORE = "Qwen3-1.7B/aime24"
SEEDS = 10


def space_spec(genome: dict) -> ControllerSpec:
    return ControllerSpec("space", (("genome", json.dumps(genome)),))


@pytest.mark.parametrize("name", sorted(BASELINE_GENOMES))
def test_baseline_genomes_reproduce_the_builtins(name: str) -> None:
    betas = (0.0, 0.3, 1.0)
    cells = [Cell(ControllerSpec(name), b, STORE, SEEDS) for b in betas]
    cells += [Cell(space_spec(BASELINE_GENOMES[name]), b, STORE, SEEDS) for b in betas]
    results = evaluate(cells, jobs=1)
    builtin, space = results[: len(betas)], results[len(betas) :]
    for ours, theirs in zip(space, builtin, strict=True):
        assert not ours.failures
        assert np.array_equal(ours.correct, theirs.correct), (name, ours.beta)
        assert np.array_equal(ours.tokens, theirs.tokens), (name, ours.beta)
        assert np.array_equal(ours.latency, theirs.latency), (name, ours.beta)
        assert ours.accuracy == theirs.accuracy and ours.mean_tokens == theirs.mean_tokens


def test_baseline_knobs_equal_the_published_schedules() -> None:
    for beta in (0.0, 0.1, 0.25, 0.5, 0.7, 1.0):
        cmc = get_controller_class("cmc").schedule(beta)
        knobs = resolve(baseline_genome("cmc"), beta)
        for name in ("n_init", "max_branches", "warm_up", "patience", "T_ema", "alpha", "threshold", "slack"):
            assert knobs[name] == cmc[name], (name, beta)
        assert resolve(baseline_genome("sc"), beta)["max_samples"] == budget_k(beta)


def test_schedules_clip_round_and_shape() -> None:
    assert schedule_value(3, 0.7) == 3
    assert schedule_value({"start": 2, "span": 6}, 0.5) == 5
    assert schedule_value({"start": 0, "span": 1, "curve": 2}, 0.5) == 0.25
    assert schedule_value({"start": 1, "ratio": 64}, 0.5) == 8
    assert knob_value("n_init", {"start": 2, "span": 100}, 1.0) == 64  # clipped to the knob's range
    assert knob_value("n_init", {"start": 2, "span": 1}, 0.5) == 2  # round(2.5) == 2
    assert isinstance(knob_value("n_init", 3.4, 0.0), int)
    assert knob_value("alpha", -3.0, 0.0) == 0.01


@pytest.mark.parametrize(
    ("genome", "message"),
    [
        ({"mode": "sideways"}, "mode"),
        ({**BASELINE_GENOMES["cmc"], "widen": "sometimes"}, "widen"),
        ({**BASELINE_GENOMES["cmc"], "gates": ["confidence"]}, "gates"),
        ({"mode": "full", "knobs": {"max_samples": 4}}, "lacks schedules"),
        ({**BASELINE_GENOMES["sc"], "knobs": {**BASELINE_GENOMES["sc"]["knobs"], "speed": 1}}, "unknown knobs"),
        ({**BASELINE_GENOMES["sc"], "knobs": {**BASELINE_GENOMES["sc"]["knobs"], "batch": {"span": 2}}}, "start"),
        ("not a dict", "dict"),
    ],
)
def test_bad_genomes_are_refused_with_a_reason(genome, message: str) -> None:
    with pytest.raises(GenomeError, match=message):
        check_genome(genome)


def test_space_controller_needs_valid_json() -> None:
    with pytest.raises(GenomeError, match="needs a genome"):
        SpaceController(0.5)
    with pytest.raises(GenomeError, match="JSON"):
        SpaceController(0.5, genome="{nope")
    controller = SpaceController(0.5, genome=BASELINE_GENOMES["cmc"])  # a dict works in-process too
    assert controller.knobs["n_init"] == 5


def test_space_genomes_change_behaviour() -> None:
    # the same controller with a different point of the space must give a different curve
    cmc = baseline_genome("cmc")
    wider = {**cmc, "knobs": {**cmc["knobs"], "n_init": 16, "min_finished": 8}}
    a, b = evaluate([Cell(space_spec(cmc), 0.5, STORE, 3), Cell(space_spec(wider), 0.5, STORE, 3)], jobs=1)
    assert b.mean_tokens > a.mean_tokens * 1.1


@pytest.mark.slow
def test_run_batch_decides_exactly_as_run_across_the_space() -> None:
    """The lockstep form (used by evaluate, so by every evolve fitness) equals run() in every episode,
    for the published points, the evolve seeds and random mutants of them."""
    import random

    from autotts.data import load_store
    from autotts.discovery.evolve.genome import mutate, seed_genomes
    from autotts.env import Episode, EpisodeBatch

    rng = random.Random(3)
    genomes = [baseline_genome(name) for name in sorted(BASELINE_GENOMES)] + list(seed_genomes())
    cmc, pp = baseline_genome("cmc"), baseline_genome("parallel-probe")
    genomes += [  # the aggregation and widening added for issue 16, on their own and with other gates
        {**cmc, "final": "short", "knobs": {**cmc["knobs"], "length_horizon": {"start": 20, "span": 60}}},
        {**cmc, "widen": "split", "knobs": {**cmc["knobs"], "split_threshold": {"start": 0.6, "span": 0.39}}},
        {**pp, "final": "short", "gates": ["stable", "unanimous"], "knobs": {**pp["knobs"], "length_horizon": 40}},
    ]
    genomes += [mutate(mutate(rng.choice(genomes), rng), rng) for _ in range(24)]
    questions = load_store(STORE).questions  # 60 rows: enough for rows to stop early and be compacted
    seeds = range(2)
    for genome in genomes:
        for beta in (0.0, 0.4, 1.0):
            controller = SpaceController(beta, genome=genome)
            expected = []
            for question in questions:
                for seed in seeds:
                    episode = Episode(question, seed, max_branches=controller.max_branches)
                    expected.append((controller.run(episode), episode.tokens, episode.latency_tokens))
            batch = EpisodeBatch(questions, seeds, max_branches=controller.max_branches)
            controller.run_batch(batch)
            answers, tokens, latency = batch.results()
            assert list(zip(answers, tokens.tolist(), latency.tolist(), strict=True)) == expected, (genome, beta)
