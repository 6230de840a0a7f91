"""The evolve engine: variation operators, fitness, determinism, search-only data, rendering, proposer."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

import autotts.evaluation.runner as runner
from autotts.controllers.space import baseline_genome, check_genome, resolve
from autotts.data.catalog import split_stores
from autotts.discovery.evolve import (
    EvolveConfig,
    HeldOutStoreError,
    Reference,
    RenderError,
    crossover,
    evolve,
    frontier_score,
    genome_from_source,
    genome_key,
    mutate,
    render_controller,
    seed_genomes,
)
from autotts.discovery.evolve.fitness import genome_spec
from autotts.discovery.proposers import ProposalRequest, RoundRecord, proposer_class
from autotts.discovery.proposers.evolve import EvolveProposer, RoundBudget
from autotts.discovery.screen import screen_source
from autotts.evaluation import Cell, ControllerSpec, evaluate

STORE = "Qwen3-4B/aime24"
TINY = EvolveConfig(
    population=5,
    generations=2,
    elite=2,
    betas=(0.5, 1.0),
    seeds=2,
    stores=(STORE,),
    finalists=2,
    finalist_seeds=3,
    finalist_betas=(0.5, 1.0),
    seed=7,
)


def varied_genomes(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    pool = seed_genomes()
    for _ in range(count):
        child = mutate(crossover(rng.choice(pool), rng.choice(pool), rng), rng)
        pool.append(mutate(mutate(child, rng), rng))
    return pool


def test_variation_is_valid_and_reproducible() -> None:
    first, second = varied_genomes(3, 30), varied_genomes(3, 30)
    assert [genome_key(g) for g in first] == [genome_key(g) for g in second]
    for g in first:
        assert check_genome(g) == g
    # mutation explores: many distinct genomes, both modes, several mechanisms
    assert len({genome_key(g) for g in first}) > 25
    assert {g["widen"] for g in first if g["mode"] == "probe"} >= {"stall", "never"}


def test_crossover_mixes_parents_of_one_mode() -> None:
    cmc, pp = baseline_genome("cmc"), baseline_genome("parallel-probe")
    rng = random.Random(0)
    children = [crossover(cmc, pp, rng) for _ in range(20)]
    assert any(c["signal"] == "latest" for c in children) and any(c["signal"] == "finished" for c in children)
    for c in children:
        for name, spec in c["knobs"].items():
            assert spec in (cmc["knobs"][name], pp["knobs"][name])
    assert crossover(cmc, baseline_genome("sc"), rng) == cmc  # different modes: no mixing


def test_frontier_score_rewards_savings_and_punishes_non_monotone_budgets() -> None:
    ref = Reference(accuracy=60.0, tokens=1_000_000.0)
    cheap = frontier_score([(0.0, 50_000, 50.0), (0.5, 100_000, 60.0), (1.0, 200_000, 62.0)], ref, 1.0)
    assert cheap.saving == pytest.approx(0.9)
    assert cheap.peak == 62.0 and cheap.monotone_penalty == 0.0
    costly = frontier_score([(0.0, 50_000, 50.0), (0.5, 400_000, 60.0), (1.0, 800_000, 62.0)], ref, 1.0)
    assert costly.saving == pytest.approx(0.6) and costly.fitness < cheap.fitness
    falling = frontier_score([(0.0, 50_000, 50.0), (0.5, 100_000, 60.0), (1.0, 80_000, 62.0)], ref, 1.0)
    assert falling.monotone_penalty == pytest.approx(0.18) and falling.fitness < cheap.fitness
    short = frontier_score([(0.0, 50_000, 50.0), (1.0, 90_000, 58.0)], ref, 1.0)
    assert short.saving == pytest.approx(-0.2)  # never reaches the reference: a tenth of the shortfall
    simpler = frontier_score(cheap.points, ref, 0.0)
    assert simpler.fitness > cheap.fitness


@pytest.mark.slow
def test_rendered_files_behave_exactly_like_their_genomes(tmp_path: Path) -> None:
    genomes = varied_genomes(11, 6)
    cells = []
    for n, genome in enumerate(genomes):
        source = render_controller(genome)
        assert genome_from_source(source) == genome
        assert screen_source(source) == []  # passes the candidate screen (imports, dunders, builtins)
        path = tmp_path / f"candidate_{n}.py"
        path.write_text(source)
        for beta in (0.0, 0.6):
            cells += [Cell(ControllerSpec(str(path)), beta, STORE, 2), Cell(genome_spec(genome), beta, STORE, 2)]
    # with traces, every episode goes through the file's run() (the space's scalar interpreter playing
    # the file's GENOME); without, through its run_batch (the lockstep one): all three must agree
    scalar, batched = evaluate(cells, jobs=1, want_traces=True), evaluate(cells[::2], jobs=1)
    for rendered, interpreted, lockstep in zip(scalar[::2], scalar[1::2], batched, strict=True):
        assert not rendered.failures, rendered.failures[:1]
        assert np.array_equal(rendered.correct, interpreted.correct)
        assert np.array_equal(rendered.tokens, interpreted.tokens)
        assert rendered.answers == lockstep.answers and np.array_equal(rendered.tokens, lockstep.tokens)
        assert np.array_equal(rendered.latency, lockstep.latency)


def test_rendered_file_is_data_with_an_explanation() -> None:
    source = render_controller(baseline_genome("cmc"), builtin=True, provenance={"seed": 3})
    assert "from .space import SpaceController" in source and "@register" not in source  # named by the registry
    assert "Stops once an exponential moving average" in source and "seed: 3" in source
    assert "2 + 6·β" in source and "0.7 - 0.4·β" in source  # every knob's schedule, in words
    assert "def " not in source and "class EvolvedController(SpaceController):" in source  # no policy code
    pp = render_controller(baseline_genome("parallel-probe"))
    assert "stayed the same for `stable_T` rounds" in pp and "moving average" not in pp  # only its mechanisms
    assert "\n    stable_T " in pp and "\n    alpha " not in pp  # and only the knobs they read
    with pytest.raises(RenderError, match="GENOME"):
        genome_from_source("x = 1\n")
    with pytest.raises(RenderError, match="valid genome"):
        genome_from_source("GENOME = {'mode': 'nope'}\n")


def test_shipped_evo_is_its_genome_rendered() -> None:
    """evo.py is the render of its own GENOME: the explanation above the data is not hand-edited."""
    from autotts.controllers import evo
    from autotts.discovery.evolve.render import EVO_TITLE

    source = Path(evo.__file__).read_text()
    rendered = render_controller(genome_from_source(source), builtin=True, title=EVO_TITLE)
    head, provenance = source.split("\nProvenance:\n", 1)
    assert rendered.startswith(head) and source.endswith(rendered.split('"""', 2)[2])
    assert evo.EvolvedController(0.5).knobs == resolve(genome_from_source(source), 0.5)


@pytest.mark.slow
def test_search_is_deterministic_and_improves_on_its_seeds() -> None:
    first, second = evolve(TINY, jobs=1), evolve(TINY, jobs=2)
    assert [genome_key(i.genome) for i in first.finalists] == [genome_key(i.genome) for i in second.finalists]
    assert [i.score.fitness for i in first.finalists] == [i.score.fitness for i in second.finalists]
    assert first.generation_best == second.generation_best
    assert first.generation_best[-1] >= first.generation_best[0]  # elitism: never worse
    assert first.evaluations > TINY.population
    other = evolve(EvolveConfig(**{**TINY.__dict__, "seed": 8}), jobs=1)
    assert other.generation_best != first.generation_best or [g.genome for g in other.finalists] != [
        g.genome for g in first.finalists
    ]


def test_search_never_loads_held_out_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []
    real = runner.load_store

    def spy(name, *args, **kwargs):
        loaded.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(runner, "load_store", spy)
    evolve(EvolveConfig(**{**TINY.__dict__, "generations": 1, "population": 3}), jobs=1)
    assert loaded and not set(loaded) & set(split_stores("heldout"))
    with pytest.raises(HeldOutStoreError, match="held-out"):
        evolve(EvolveConfig(**{**TINY.__dict__, "stores": ("Qwen3-4B/aime25",)}), jobs=1)
    with pytest.raises(HeldOutStoreError):
        EvolveProposer(stores=("Qwen3-8B/hmmt25",))


@pytest.mark.slow
def test_proposer_continues_from_its_history(tmp_path: Path) -> None:
    assert proposer_class("evolve") is EvolveProposer
    proposer = EvolveProposer(
        stores=(STORE,),
        budget=RoundBudget(population=4, generations=1, seeds=2, betas=(1.0,), finalists=2, finalist_seeds=2),
        jobs=1,
        use_shipped=False,
    )
    earlier = mutate(baseline_genome("cmc"), random.Random(1))
    history = [RoundRecord(round=1, source=render_controller(earlier), valid=True)]
    request = ProposalRequest(round=2, workspace=tmp_path, prompt="", history=history, seed=5)
    assert genome_key(proposer.initial_genomes(request)[0]) == genome_key(earlier)
    proposal = proposer.propose(request)
    assert (tmp_path / "candidate.py").read_text() == proposal.source
    offered = genome_from_source(proposal.source)
    assert genome_key(offered) != genome_key(earlier)  # a new candidate, not the old one again
    assert "generation 0" in proposal.log and proposal.model == "evolve"
    assert proposal.summary.startswith("changed from the previous round's candidate: ")  # the round's line
    again = proposer.propose(request)
    assert again.source == proposal.source  # same seed and history, same candidate


def test_shipped_evo_is_its_genome_and_documents_its_provenance() -> None:
    from autotts.controllers import evo
    from autotts.controllers.base import get_controller_class

    cls = get_controller_class("evo")
    assert cls.__module__ == evo.__name__
    doc = evo.__doc__ or ""
    assert "How it works" in doc and "cpu_minutes" in doc and "seed" in doc
    cells = []
    for beta in (0.2, 1.0):
        cells += [Cell(ControllerSpec("evo"), beta, STORE, 2), Cell(genome_spec(evo.GENOME), beta, STORE, 2)]
    results = evaluate(cells, jobs=1)
    for shipped, interpreted in zip(results[::2], results[1::2], strict=True):
        assert np.array_equal(shipped.correct, interpreted.correct)
        assert np.array_equal(shipped.tokens, interpreted.tokens)


def test_behavioural_twins_and_what_changed() -> None:
    from autotts.discovery.evolve import Score, genome_diff, twins

    def score(curve: list) -> Score:
        return Score(1.0, 60.0, 0.5, 0.0, 0.0, 0.0, curve)

    base = score([(0.5, 200_000.0, 60.0), (1.0, 400_000.0, 64.9)])
    assert twins(base, score([(0.5, 204_000.0, 60.3), (1.0, 396_000.0, 64.6)]))  # within seed noise
    assert not twins(base, score([(0.5, 200_000.0, 60.0), (1.0, 460_000.0, 64.9)]))  # 15% more tokens at β=1
    assert not twins(base, score([(0.5, 200_000.0, 61.0), (1.0, 400_000.0, 64.9)]))  # a point more accurate
    cmc = baseline_genome("cmc")
    changed = {**cmc, "final": "short", "knobs": {**cmc["knobs"], "length_horizon": 60, "n_init": 3}}
    assert genome_diff(cmc, changed) == "final leader→short; n_init 2 + 6·β→3; length_horizon 1→60"
    assert genome_diff(cmc, {**cmc, "knobs": {**cmc["knobs"], "stable_T": 7}}) == "nothing"  # a knob it never reads


def test_a_search_told_to_avoid_a_genome_offers_something_else() -> None:
    first = evolve(TINY, jobs=1)
    again = evolve(TINY, jobs=1, avoid=[first.best.genome])
    assert all(genome_key(f.genome) != genome_key(first.best.genome) for f in again.finalists)
    assert again.generation_best == first.generation_best  # avoiding changes the choice, not the search


def test_round_budget_options_reach_the_search(tmp_path: Path) -> None:
    from autotts.discovery.loop import DiscoveryConfig
    from autotts.discovery.proposers import ProposerOptions

    config = DiscoveryConfig(proposer_extra={"evolve_minutes": 2.5, "evolve_population": 30})
    config = DiscoveryConfig.from_json(config.to_json())  # as --resume reads run.json back
    proposer = EvolveProposer.from_options(config.proposer_options())
    assert proposer.budget.minutes == 2.5 and proposer.budget.population == 30
    assert proposer.budget.generations == 1000  # the CPU budget, not a generation count, ends a round
    request = ProposalRequest(round=1, workspace=tmp_path, prompt="", history=[], seed=0)
    search = proposer.config_for(request)
    assert search.cpu_limit_s == 150 and search.population == 30 and 0.9 in search.betas
    default = EvolveProposer.from_options(ProposerOptions())
    assert default.budget.minutes is None and default.config_for(request).cpu_limit_s is None
