"""Running controllers over seeds, β grids and stores, and scoring the answers.

Work is cut into blocks (one cell, a range of seeds, all questions). A block runs in a worker: it
builds the controller, plays every episode and returns answers and costs; it never sees gold
answers, which the parent uses to score. Blocks are deterministic, so results do not depend on the
executor or the number of jobs.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..controllers.base import Controller
from ..data.lookup import load_store
from ..data.store import Question, Store
from ..env.batch import EpisodeBatch
from ..env.core import Episode
from ..env.trace import trace_records
from .metrics import bootstrap_ci
from .spec import Cell

SEEDS_PER_BLOCK = 25


@dataclass
class EpisodeFailure:
    """A controller raised: where, and what."""

    store: str
    question: int  # -1: the whole lockstep batch of a block (run_batch raised)
    seed: int
    beta: float
    controller: str
    error: str

    def __str__(self) -> str:
        where = (
            f"question {self.question} seed {self.seed}" if self.question >= 0 else f"the batch from seed {self.seed}"
        )
        return f"{self.controller} (β={self.beta:g}) raised on {self.store} {where}: {self.error}"


@dataclass
class Block:
    """One cell's episodes for seeds ``[seed_lo, seed_hi)``: rows are seeds, columns questions."""

    cell_index: int
    seed_lo: int
    seed_hi: int
    answers: list[list[str | None]]
    tokens: np.ndarray
    latency: np.ndarray
    failures: list[EpisodeFailure] = field(default_factory=list)
    traces: list[dict] = field(default_factory=list)


def play_block(
    cell_index: int,
    cell: Cell,
    seed_lo: int,
    seed_hi: int,
    *,
    want_traces: bool = False,
    fail_fast: bool = False,
    store: Store | None = None,
) -> Block:
    """Play every question of ``cell.store`` under seeds ``seed_lo..seed_hi-1``."""
    store = store or load_store(cell.store)
    controller = cell.controller.build(cell.beta)
    n_seeds, n_questions = seed_hi - seed_lo, len(store.questions)
    answers: list[list[str | None]] = [[None] * n_questions for _ in range(n_seeds)]
    tokens = np.zeros((n_seeds, n_questions), dtype=np.int64)
    latency = np.zeros((n_seeds, n_questions), dtype=np.int64)
    failures: list[EpisodeFailure] = []
    traces: list[dict] = []
    ceiling = controller.max_branches
    batched = controller.has_batch() and not want_traces
    seeds = range(seed_lo, seed_hi)

    def failure(q: int, seed: int, error: str) -> EpisodeFailure:
        return EpisodeFailure(cell.store, q, seed, cell.beta, cell.controller.display, error)

    if batched:
        try:
            answers, tokens[:], latency[:] = play_batch(controller, store.questions, seeds, ceiling)
        except Exception as exc:
            if fail_fast:
                raise
            # one failure for the whole block (a batch has no single episode to blame); nothing scores
            failures.append(failure(-1, seed_lo, f"run_batch: {type(exc).__name__}: {exc}"))
        return Block(cell_index, seed_lo, seed_hi, answers, tokens, latency, failures, traces)
    for q, question in enumerate(store.questions):
        for row, seed in enumerate(seeds):
            episode = Episode(question, seed, max_branches=ceiling)
            try:
                answer = controller.run(episode)
                if answer is not None and not isinstance(answer, str):
                    raise TypeError(f"run() returned {type(answer).__name__}, expected str or None")
            except Exception as exc:
                if fail_fast:
                    raise
                failures.append(failure(q, seed, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"))
                answer = None
            answers[row][q] = answer
            tokens[row, q] = episode.tokens
            latency[row, q] = episode.latency_tokens
            if want_traces:
                traces.append(
                    {
                        "controller": cell.controller.display,
                        "beta": cell.beta,
                        "store": cell.store,
                        "seed": seed,
                        "question": q,
                        "answer": answer,
                        "tokens": episode.tokens,
                        "latency_tokens": episode.latency_tokens,
                        "trace": trace_records(episode.trace),
                    }
                )
    traces.sort(key=lambda t: (t["seed"], t["question"]))  # seed-major, as blocks are read
    return Block(cell_index, seed_lo, seed_hi, answers, tokens, latency, failures, traces)


def play_batch(
    controller: Controller, questions: Sequence[Question], seeds: range, ceiling: int
) -> tuple[list[list[str | None]], np.ndarray, np.ndarray]:
    """Every question under every seed through ``controller.run_batch``: answers, tokens and latency,
    seeds × questions."""
    batch = EpisodeBatch(questions, seeds, max_branches=ceiling)
    controller.run_batch(batch)
    texts, tokens, latency = batch.results()
    shape = (len(questions), len(seeds))
    answers = [[texts[q * len(seeds) + row] for q in range(len(questions))] for row in range(len(seeds))]
    return answers, tokens.reshape(shape).T, latency.reshape(shape).T


@dataclass
class CellResult:
    """Scored results of one cell. Matrices are seeds × questions."""

    cell: Cell
    correct: np.ndarray
    tokens: np.ndarray
    latency: np.ndarray
    answers: list[list[str | None]]
    failures: list[EpisodeFailure]
    traces: list[dict] = field(default_factory=list)

    @property
    def controller(self) -> str:
        return self.cell.controller.display

    @property
    def beta(self) -> float:
        return self.cell.beta

    @property
    def store(self) -> str:
        return self.cell.store

    @property
    def seeds(self) -> int:
        return self.correct.shape[0]

    @property
    def questions(self) -> int:
        return self.correct.shape[1]

    @property
    def per_question_accuracy(self) -> np.ndarray:
        """Correctness rate of each question over seeds, in percent."""
        return 100.0 * self.correct.mean(axis=0)

    @property
    def accuracy(self) -> float:
        """Mean over seeds of the percentage of questions answered correctly."""
        return float(100.0 * self.correct.mean())

    @property
    def accuracy_ci(self) -> tuple[float, float]:
        return bootstrap_ci(self.per_question_accuracy)

    @property
    def mean_tokens(self) -> float:
        return float(self.tokens.mean())

    @property
    def mean_latency(self) -> float:
        return float(self.latency.mean())

    def row(self) -> dict[str, Any]:
        low, high = self.accuracy_ci
        return {
            "controller": self.controller,
            "beta": self.beta,
            "store": self.store,
            "accuracy": round(self.accuracy, 4),
            "accuracy_ci": [round(low, 4), round(high, 4)],
            "tokens": round(self.mean_tokens, 3),
            "latency_tokens": round(self.mean_latency, 3),
            "seeds": self.seeds,
            "questions": self.questions,
            "errors": len(self.failures),
        }


def episode_differences(a: CellResult, b: CellResult) -> list[tuple[int, int]]:
    """``(seed row, question)`` of every episode, over the seeds both results cover, whose answer,
    tokens or latency differ between ``a`` and ``b`` (e.g. ``run`` against ``run_batch``)."""
    seeds = min(a.seeds, b.seeds)
    same_costs = (a.tokens[:seeds] == b.tokens[:seeds]) & (a.latency[:seeds] == b.latency[:seeds])
    return [
        (s, q)
        for s in range(seeds)
        for q in range(a.questions)
        if a.answers[s][q] != b.answers[s][q] or not same_costs[s, q]
    ]


def describe_difference(run: CellResult, lockstep: CellResult, where: tuple[int, int]) -> str:
    """One differing episode of :func:`episode_differences`, ``run`` against ``run_batch``."""
    s, q = where
    return (
        f"{run.store} question {q} seed {s} at β={run.beta:g}: run gave {run.answers[s][q]!r} for "
        f"{run.tokens[s, q]} tokens (latency {run.latency[s, q]}), run_batch {lockstep.answers[s][q]!r} for "
        f"{lockstep.tokens[s, q]} tokens (latency {lockstep.latency[s, q]})"
    )


def score(cell: Cell, blocks: Sequence[Block], golds: Sequence[str]) -> CellResult:
    blocks = sorted(blocks, key=lambda b: b.seed_lo)
    answers = [row for b in blocks for row in b.answers]
    correct = np.array([[a is not None and a == g for a, g in zip(row, golds, strict=True)] for row in answers])
    return CellResult(
        cell=cell,
        correct=correct.reshape(len(answers), len(golds)),
        tokens=np.concatenate([b.tokens for b in blocks]),
        latency=np.concatenate([b.latency for b in blocks]),
        answers=answers,
        failures=[f for b in blocks for f in b.failures],
        traces=[t for b in blocks for t in b.traces],
    )


def blocks_for(seeds: int) -> int:
    """How many blocks (progress steps) an evaluation over ``seeds`` seeds is cut into."""
    return -(-seeds // SEEDS_PER_BLOCK)


def blocks_in(cells: Sequence[Cell]) -> int:
    """How many blocks (progress steps) evaluating ``cells`` reports."""
    return sum(blocks_for(c.seeds) for c in cells)


def plan_blocks(cells: Sequence[Cell], seeds_per_block: int = SEEDS_PER_BLOCK) -> list[tuple[int, int, int]]:
    """``(cell_index, seed_lo, seed_hi)`` for every block, most expensive cells first (β high)."""
    order = sorted(range(len(cells)), key=lambda i: -cells[i].beta)
    return [
        (i, lo, min(lo + seeds_per_block, cells[i].seeds))
        for i in order
        for lo in range(0, cells[i].seeds, seeds_per_block)
    ]
