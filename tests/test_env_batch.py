"""EpisodeBatch: every row must equal the scalar Episode under the same seed, action for action, and the
built-ins' lockstep form (the structured space's interpreter playing their genome) must decide exactly
as their hand-written ``run``."""

from __future__ import annotations

import numpy as np
import pytest

from autotts.controllers import Controller
from autotts.controllers.base import get_controller_class
from autotts.data import load_store
from autotts.env import Episode, EpisodeBatch, EpisodeError
from autotts.env.batch import answer_tables
from autotts.evaluation import Cell, ControllerSpec, evaluate

BETAS = [round(0.1 * i, 1) for i in range(11)]


def scalar_outcomes(controller: Controller, questions, seeds) -> list[tuple]:
    """(answer, tokens, latency) per (question, seed), question-major like a batch's rows."""
    out = []
    for question in questions:
        for seed in seeds:
            episode = Episode(question, seed, max_branches=controller.max_branches)
            answer = controller.run(episode)
            out.append((answer, episode.tokens, episode.latency_tokens))
    return out


def batch_outcomes(controller: Controller, questions, seeds) -> list[tuple]:
    batch = EpisodeBatch(questions, seeds, max_branches=controller.max_branches)
    controller.run_batch(batch)
    answers, tokens, latency = batch.results()
    return list(zip(answers, tokens.tolist(), latency.tolist(), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("store", ["Qwen3-0.6B/aime25", "Qwen3-1.7B/hmmt25", "Qwen3-8B/aime24"])
@pytest.mark.parametrize("name", ["cmc", "parallel-probe", "sc", "asc", "esc", "evo"])
def test_builtin_batch_kernels_equal_their_scalar_runs(name, store):
    questions = load_store(store).questions
    seeds = range(7, 13)
    cls = get_controller_class(name)
    for beta in BETAS:
        controller = cls(beta)
        assert batch_outcomes(controller, questions, seeds) == scalar_outcomes(controller, questions, seeds), beta


@pytest.mark.parametrize(
    ("name", "overrides"),
    [("parallel-probe", {"burst": 2, "T": 5}), ("cmc", {"patience": 2, "max_branches": 12, "T_ema": 1})],
)
def test_batch_kernels_follow_parameter_overrides(name, overrides):
    questions = load_store("Qwen3-4B/aime24").questions
    for beta in (0.3, 1.0):
        controller = get_controller_class(name)(beta, **overrides)
        assert batch_outcomes(controller, questions, range(5)) == scalar_outcomes(controller, questions, range(5))


class Scripted(Controller):
    """One fixed script using every action, written for both forms: spawn 3, advance branches 0-2 by
    1, 3 and 2 intervals (in reverse id order), prune branch 1, read 2 whole, then advance all live
    branches by 2 until none is left; answer the vote leader."""

    def run(self, episode: Episode) -> str | None:
        votes: dict[str, int] = {}  # in the order branches finished, as the batch counts them

        def count(ids: list[int]) -> None:
            for i in ids:
                if episode.is_finished(i) and i not in counted:
                    counted.add(i)
                    votes[episode.answer(i)] = votes.get(episode.answer(i), 0) + 1

        counted: set[int] = set()
        count(episode.spawn(3))
        episode.advance([2, 1, 0], [2, 3, 1])
        count([2, 1, 0])
        if episode.is_live(1):
            episode.prune([1])
        episode.read_full(2)
        count(list(range(episode.opened)))
        while episode.live():
            wave = episode.live()
            episode.advance(wave, 2)
            count(wave)
        return max(votes, key=lambda a: votes[a]) if votes else None

    def run_batch(self, batch: EpisodeBatch) -> None:
        batch.spawn(3)
        steps = np.zeros(batch.status.shape, dtype=np.int64)
        steps[:, :3] = [1, 3, 2]
        batch.advance(np.where(batch.live, steps, 0), order=-np.arange(batch.width)[None, :].repeat(batch.rows, 0))
        prune = np.zeros(batch.status.shape, dtype=bool)
        prune[:, 1] = batch.live[:, 1]
        batch.prune(prune)
        batch.read_full(2)
        while batch.live.any():
            batch.advance(np.where(batch.live, 2, 0))
        batch.stop(np.ones(batch.rows, dtype=bool), batch.vote_stats()[0])


def test_scripted_actions_match_the_scalar_episode_row_for_row():
    """Vote order matters for ties: the scripted vote leader equals the scalar one in every episode,
    and so do tokens and latency."""
    questions = load_store("Qwen3-1.7B/aime24").questions
    controller = Scripted()
    seeds = range(20)
    assert batch_outcomes(controller, questions, seeds) == scalar_outcomes(controller, questions, seeds)


def test_compaction_keeps_results_of_stopped_rows():
    questions = load_store("Qwen3-4B/aime24").questions[:3]
    batch = EpisodeBatch(questions, range(4))
    batch.spawn(2)
    first = np.zeros(batch.rows, dtype=bool)
    first[::2] = True
    spent = batch.tokens[first].copy()
    batch.stop(first, -1)
    keep = batch.compact()
    assert keep.tolist() == list(range(1, 12, 2)) and batch.rows == 6
    batch.advance(np.where(batch.live, 1, 0))
    batch.stop(np.ones(6, dtype=bool), -1)
    _, tokens, _ = batch.results()
    assert tokens[::2].tolist() == spent.tolist()
    assert (tokens[1::2] > tokens[::2]).all()


def test_illegal_actions_raise_and_charge_nothing():
    batch = EpisodeBatch(load_store("Qwen3-4B/aime24").questions[:2], [0, 1], max_branches=4)
    batch.spawn(2)
    before = batch.tokens.copy()
    prune = np.zeros(batch.status.shape, dtype=bool)
    prune[0, 0] = True
    batch.prune(prune)
    with pytest.raises(EpisodeError, match="branch 0 of row 0 .* is pruned"):
        batch.advance(prune.astype(int))
    with pytest.raises(EpisodeError, match="not opened"):
        batch.advance(np.eye(1, 4, 3, dtype=int).repeat(batch.rows, 0))
    with pytest.raises(EpisodeError, match="at most 4"):
        batch.spawn(3)
    with pytest.raises(EpisodeError, match="has not stopped"):
        batch.results()
    stopped = np.array([True, False, False, False])
    batch.stop(stopped, -1)
    with pytest.raises(EpisodeError, match="row 0 .* has already stopped"):
        batch.spawn(1)
    assert (batch.tokens == before).all()


def test_a_controller_cannot_write_the_batch_state():
    batch = EpisodeBatch(load_store("Qwen3-4B/aime24").questions[:1], [0])
    batch.spawn(1)
    for name in ("tokens", "latency_tokens", "status", "intervals", "latest", "charged", "opened", "active"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(batch, name)[0] = 0


def test_answer_ids_are_shuffled_per_question():
    """Ids must not reveal which answers are some branch's final answer (finals are counted first
    internally): in most questions the final answers' ids are not simply the smallest ones."""
    store = load_store("Qwen3-4B/aime24")
    revealing = 0
    for question in store.questions:
        vocab = answer_tables(question).vocab
        final_ids = {vocab.index(b.final) for b in question.branches}
        assert sorted(vocab) == sorted({a for b in question.branches for a in b.steps})
        revealing += final_ids == set(range(len(final_ids)))
    assert revealing < len(store.questions) // 2


@pytest.mark.slow
def test_evaluation_uses_the_batch_and_gives_the_scalar_results():
    """evaluate() plays cmc through run_batch; with traces it plays run(): the same numbers."""
    cell = Cell(ControllerSpec("cmc"), 0.6, "Qwen3-0.6B/aime24", 25)
    batched, scalar = evaluate([cell], jobs=1)[0], evaluate([cell], jobs=1, want_traces=True)[0]
    assert batched.traces == [] and len(scalar.traces) == 25 * 30
    assert batched.answers == scalar.answers
    assert (batched.tokens == scalar.tokens).all() and (batched.latency == scalar.latency).all()



def test_advance_cells_equals_the_dense_advance():
    store = load_store("Qwen3-4B/aime24")
    seeds = [3, 4, 5]
    dense, sparse = (EpisodeBatch(store.questions, seeds) for _ in range(2))
    for batch in (dense, sparse):
        batch.spawn(np.arange(batch.rows) % 5 + 1)
    rng = np.random.default_rng(0)
    for _ in range(40):
        live = dense.live & (rng.random(dense.live.shape) < 0.6)
        steps = np.where(live, rng.integers(1, 4, live.shape), 0)
        dense.advance(steps)
        rows, cols = np.nonzero(steps)
        order = rng.permutation(len(rows))  # any listing order
        sparse.advance_cells(rows[order], cols[order], steps[rows, cols][order])
        for name in ("status", "intervals", "latest", "charged", "tokens", "latency_tokens", "finish_log"):
            assert np.array_equal(getattr(dense, name), getattr(sparse, name)), name
    finished = np.argwhere(sparse.status == 1)[0]
    with pytest.raises(EpisodeError, match="finished"):
        sparse.advance_cells([finished[0]], [finished[1]], [1])
    live = np.argwhere(sparse.status == 0)[0]
    with pytest.raises(EpisodeError, match="twice"):
        sparse.advance_cells([live[0], live[0]], [live[1], live[1]], [1, 1])
