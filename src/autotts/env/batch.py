"""Many episodes played in lockstep with numpy: one row per (question, seed).

Row ``r`` of an :class:`EpisodeBatch` obeys exactly the rules of ``Episode(question, seed)`` for its
question and seed (:mod:`autotts.env.core`): the same branch order, the same charges, the same
ceiling. What differs is the form: state is kept in ``rows × width`` arrays (``width`` = the ceiling on
opened branches, so column ``j`` is the branch with id ``j``), answers are integer ids (``-1`` for
"no answer"; the same id is the same answer, and ids of different questions never coincide;
:meth:`EpisodeBatch.results` turns the chosen ids back into strings), and every action takes one
array covering all rows. A row plays one wave per action in which it has at
least one branch; rows with nothing to do are left alone.

It exists for speed: a controller that also implements ``run_batch`` plays all seeds of all questions
of a store in about the time its ``run`` plays a few dozen episodes. The batch keeps costs and
final-answer votes; it keeps no per-wave trace (the scalar :class:`~autotts.env.core.Episode` does),
so traces always come from ``run``.

Answer ids say nothing but "same answer or not": within a question they are a fixed shuffle of the
answers, so an id reveals neither where an answer occurs in the pool nor whether it is some branch's
final answer. The arrays a controller reads are read-only views; the batch's own state stays private.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data.store import Question
from .core import DEFAULT_MAX_BRANCHES, FINISHED, LIVE, PRUNED, EpisodeError, branch_order

UNOPENED = -1
NO_ANSWER = -1
_NEVER = np.iinfo(np.int64).max  # first_vote of an answer that has no vote


@dataclass(frozen=True)
class AnswerTables:
    """One question's branches as arrays: ``steps[b, t]`` is the answer id revealed by the advance
    with index ``t`` of pool branch ``b`` (padded with -1), ``probes[b]`` its L, ``final_cost[b]`` what
    its final advance charges (``max(0, branch_tokens - L·Δ)``), ``tokens[b]`` its branch_tokens.

    Ids are shuffled (``vocab[i]`` is the answer of id ``i``); ``vote_column[i]`` numbers the final
    answers ``0 .. finals-1`` (others get -1), so vote counts need only ``finals`` columns."""

    vocab: tuple[str, ...]
    finals: int
    vote_column: np.ndarray
    steps: np.ndarray
    probes: np.ndarray
    final_cost: np.ndarray
    tokens: np.ndarray

    @classmethod
    def of(cls, question: Question) -> AnswerTables:
        branches = question.branches
        first_seen: dict[str, int] = {}  # final answers first, then the rest
        for branch in branches:
            first_seen.setdefault(branch.final, len(first_seen))
        finals = len(first_seen)
        for branch in branches:
            for answer in branch.steps:
                first_seen.setdefault(answer, len(first_seen))
        # a fixed shuffle per question, so that ids carry no information about the pool
        shuffle = np.random.default_rng([question.index, len(first_seen), finals]).permutation(len(first_seen))
        ids = {answer: int(shuffle[k]) for answer, k in first_seen.items()}
        vocab = [""] * len(ids)
        for answer, i in ids.items():
            vocab[i] = answer
        vote_column = np.full(len(ids), -1, dtype=np.int64)
        vote_column[shuffle[:finals]] = np.arange(finals)
        depth = 1 + max(b.probes for b in branches)
        steps = np.full((len(branches), depth), NO_ANSWER, dtype=np.int64)
        for row, branch in enumerate(branches):
            steps[row, : branch.probes + 1] = [ids[a] for a in branch.steps]
        probes = np.array([b.probes for b in branches], dtype=np.int64)
        tokens = np.array([b.tokens for b in branches], dtype=np.int64)
        final_cost = np.maximum(0, tokens - probes * question.probe_freq)
        return cls(tuple(vocab), finals, vote_column, steps, probes, final_cost, tokens)


_TABLES: dict[int, tuple[Question, AnswerTables]] = {}  # by id(question); the question is kept alive


def answer_tables(question: Question) -> AnswerTables:
    """:class:`AnswerTables` of a question, built once per question object."""
    hit = _TABLES.get(id(question))
    if hit is not None and hit[0] is question:
        return hit[1]
    if len(_TABLES) >= 512:
        _TABLES.clear()
    tables = AnswerTables.of(question)
    _TABLES[id(question)] = (question, tables)
    return tables


def first_in_rows(mask: np.ndarray, key: np.ndarray | int, counts: np.ndarray | int) -> np.ndarray:
    """The first ``counts[r]`` branches of ``mask`` in each row ``r``, taken in ascending ``key``
    (ties by id): e.g. the most deviant live branches with ``key = -deviation``."""
    ranked = np.argsort(np.where(mask, key, np.iinfo(np.int64).max), axis=1, kind="stable")
    rank = np.empty_like(ranked)
    np.put_along_axis(rank, ranked, np.arange(mask.shape[1])[None, :], axis=1)
    return mask & (rank < np.reshape(counts, (-1, 1)))


# per-row arrays, in step with one another; compact() subsets them all
_ROW_ARRAYS = (
    "_row_question",
    "_row_seed",
    "_status",
    "_intervals",
    "_latest",
    "_charged",
    "_opened",
    "_spent",
    "_latency",
    "_active",
    "_origin",
    "_src",
    "_probes",
    "_final_cost",
    "_branch_tokens",
    "_offset",
    "_votes",
    "_first_vote",
    "_finished",
    "_finish_log",
)
# what a controller reads: read-only views of the private arrays
_PUBLISHED = {
    "row_question": "_row_question",
    "row_seed": "_row_seed",
    "status": "_status",
    "intervals": "_intervals",
    "latest": "_latest",
    "charged": "_charged",
    "opened": "_opened",
    "tokens": "_spent",
    "latency_tokens": "_latency",
    "active": "_active",
    "finished_count": "_finished",
    "finish_log": "_finish_log",
}


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class EpisodeBatch:
    """Episodes of every question in ``questions`` under every seed in ``seeds``, advanced in lockstep;
    row ``r`` is question :attr:`row_question` ``[r]`` (an index into ``questions``) under seed
    :attr:`row_seed` ``[r]``, question-major, until :meth:`compact` drops stopped rows.

    State (read-only arrays): :attr:`status` (``rows × width``: -1 unopened, 0 live, 1 finished,
    2 pruned), :attr:`intervals` (advances taken), :attr:`latest` (latest answer id, -1 if none),
    :attr:`charged` (tokens charged per branch); per row :attr:`opened`, :attr:`tokens`,
    :attr:`latency_tokens`, :attr:`active` (not yet stopped), :attr:`finished_count`, and
    :attr:`finish_log` (``rows × width``: the final answers of finished branches in the order they
    finished; -1 after the last). Masks: :attr:`live`, :attr:`unpruned`. Votes of finished branches'
    final answers: :meth:`vote_stats`; counts of latest answers: :meth:`tally`, :meth:`majority`.

    Actions: :meth:`spawn`, :meth:`advance`, :meth:`read_full`, :meth:`prune`; a controller ends rows
    with :meth:`stop` and must stop every row. Illegal actions raise
    :class:`~autotts.env.core.EpisodeError` and charge nothing.
    """

    def __init__(
        self,
        questions: Sequence[Question],
        seeds: Sequence[int],
        *,
        max_branches: int = DEFAULT_MAX_BRANCHES,
    ):
        pools = {len(q.branches) for q in questions}
        freqs = {q.probe_freq for q in questions}
        if len(pools) != 1 or len(freqs) != 1:
            raise ValueError("EpisodeBatch: all questions need the same pool size and probe frequency")
        pool = pools.pop()
        tables = [answer_tables(q) for q in questions]
        n_questions, n_seeds = len(questions), len(seeds)
        self.rows = n_questions * n_seeds
        self.width = min(max_branches, pool)
        self.probe_freq = freqs.pop()
        self._row_question = np.repeat(np.arange(n_questions), n_seeds)
        self._row_seed = np.tile(np.array(list(seeds), dtype=np.int64), n_questions)
        # all questions in one id space: question k's answer ids and pool indices start at its offsets
        offsets = np.cumsum([0] + [len(t.vocab) for t in tables])[:-1]
        self._vocab = tuple(a for t in tables for a in t.vocab)
        self._vote_column = np.concatenate([t.vote_column for t in tables])
        self._steps = np.full((n_questions * pool, max(t.steps.shape[1] for t in tables)), NO_ANSWER, dtype=np.int64)
        for k, (t, offset) in enumerate(zip(tables, offsets, strict=True)):
            self._steps[k * pool : (k + 1) * pool, : t.steps.shape[1]] = np.where(t.steps >= 0, t.steps + offset, -1)
        order = np.array([branch_order(seed, pool)[: self.width] for seed in seeds], dtype=np.int64)
        self._src = (order[None, :, :] + (np.arange(n_questions) * pool)[:, None, None]).reshape(self.rows, -1)
        self._probes = np.concatenate([t.probes for t in tables])[self._src]
        self._final_cost = np.concatenate([t.final_cost for t in tables])[self._src]
        self._branch_tokens = np.concatenate([t.tokens for t in tables])[self._src]
        self._offset = offsets[self._row_question]  # id i of a row's question is global id offset + i
        self._local_vocab = max(len(t.vocab) for t in tables)
        self._vote_ids = np.full((n_questions, max(t.finals for t in tables)), NO_ANSWER, dtype=np.int64)
        for k, t in enumerate(tables):  # the answer id of each question's vote columns
            self._vote_ids[k, t.vote_column[t.vote_column >= 0]] = np.flatnonzero(t.vote_column >= 0) + offsets[k]
        self._ids = np.arange(self.width)
        self._clock = 0  # order stamps of finishing branches; increasing, so comparable within a row
        self._vote_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # until the votes change
        self._status = np.full((self.rows, self.width), UNOPENED, dtype=np.int8)
        self._intervals = np.zeros((self.rows, self.width), dtype=np.int64)
        self._latest = np.full((self.rows, self.width), NO_ANSWER, dtype=np.int64)
        self._charged = np.zeros((self.rows, self.width), dtype=np.int64)
        self._opened = np.zeros(self.rows, dtype=np.int64)
        self._votes = np.zeros((self.rows, self._vote_ids.shape[1]), dtype=np.int64)
        self._first_vote = np.full(self._votes.shape, _NEVER, dtype=np.int64)
        self._finished = np.zeros(self.rows, dtype=np.int64)
        self._finish_log = np.full((self.rows, self.width), NO_ANSWER, dtype=np.int64)
        self._spent = np.zeros(self.rows, dtype=np.int64)
        self._latency = np.zeros(self.rows, dtype=np.int64)
        self._active = np.ones(self.rows, dtype=bool)
        # results by original row, written when a row stops (compact() drops stopped rows)
        self._origin = np.arange(self.rows)
        self._chosen = np.full(self.rows, NO_ANSWER, dtype=np.int64)
        self._final_tokens = np.zeros(self.rows, dtype=np.int64)
        self._final_latency = np.zeros(self.rows, dtype=np.int64)
        self._final_intervals = np.zeros((self.rows, self.width), dtype=np.int64)  # for audits of the charges
        self._final_charged = np.zeros((self.rows, self.width), dtype=np.int64)
        self._publish()

    def _publish(self) -> None:
        for public, private in _PUBLISHED.items():
            setattr(self, public, _read_only(getattr(self, private)))

    # ------------------------------------------------------------------ observations

    @property
    def live(self) -> np.ndarray:
        """``rows × width`` mask of live branches."""
        return self._status == LIVE

    @property
    def unpruned(self) -> np.ndarray:
        """``rows × width`` mask of opened branches that are not pruned (live or finished)."""
        return (self._status == LIVE) | (self._status == FINISHED)

    def vote_stats(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row, the votes of finished branches' final answers as ``(leader, top1, top2)``: the
        leading answer id (-1 without votes; ties go to the answer whose first vote came first), its
        count, and the runner-up's count (0 if none), like :func:`autotts.controllers.vote_stats`."""
        if self._vote_cache is not None:
            return self._vote_cache
        votes = self._votes
        rows = np.arange(self.rows)
        # most votes first, then the earliest first vote (stamps stay far below 2**32)
        column = np.argmax(votes * (1 << 32) - np.minimum(self._first_vote, 1 << 32), axis=1)
        top1 = votes[rows, column]
        top2 = np.where(np.arange(votes.shape[1]) != column[:, None], votes, 0).max(axis=1, initial=0)
        leader = self._vote_ids[self._row_question, column]
        self._vote_cache = (_read_only(np.where(top1 > 0, leader, NO_ANSWER)), _read_only(top1), _read_only(top2))
        return self._vote_cache

    def tally(self, mask: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row, the latest answers of the branches in ``mask``, counted (or summed with
        ``weights``, e.g. :attr:`intervals`) in id order: ``(leader, top1, top2)`` like
        :func:`autotts.controllers.vote_stats` (ties go to the answer met first; leader -1 for a row
        with nothing in ``mask``)."""
        return self._tally(self._latest, mask, weights)

    def _tally(
        self, answers: np.ndarray, mask: np.ndarray, weights: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`tally` over any ``rows × width`` array of answer ids (ties: the first column)."""
        leader = np.full(self.rows, NO_ANSWER, dtype=np.int64)
        top1 = np.zeros(self.rows, dtype=np.int64 if weights is None else np.float64)
        top2 = np.zeros_like(top1)
        rows = np.flatnonzero(mask.any(axis=1))
        if len(rows) == 0:
            return leader, top1, top2
        mask, answers = mask[rows], answers[rows]
        size = self._local_vocab
        # ids made local to each row's question, so each row needs only one question's counts
        keys = answers - self._offset[rows, None] + np.arange(len(rows))[:, None] * size
        counts = np.bincount(keys[mask], None if weights is None else weights[rows][mask], len(rows) * size)
        support = np.where(mask, counts[np.where(mask, keys, 0)], 0)
        first_best = np.argmax(support, axis=1)  # the first column holding a most-supported answer
        best = answers[np.arange(len(rows)), first_best]
        leader[rows] = best
        top1[rows] = support[np.arange(len(rows)), first_best]
        top2[rows] = np.where(mask & (answers != best[:, None]), support, 0).max(axis=1)
        return leader, top1, top2

    def majority(self, mask: np.ndarray) -> np.ndarray:
        """Per row, the most common latest answer among the branches in ``mask``, counted in id order
        (ties go to the answer met first), like :func:`autotts.controllers.majority`; -1 for a row with
        nothing in ``mask``."""
        return self.tally(mask)[0]

    # ------------------------------------------------------------------ actions

    def spawn(self, counts: np.ndarray | int) -> None:
        """Open ``counts[r]`` new branches in row ``r`` (one wave per row that opens any), each advanced
        one interval; ids continue from :attr:`opened`."""
        new = self._new_branches(counts, "spawn")
        if new is not None:
            self._status[new] = LIVE
            self._wave(new.astype(np.int64), None)

    def advance(self, steps: np.ndarray, order: np.ndarray | None = None) -> None:
        """Advance branch ``j`` of row ``r`` by ``steps[r, j]`` intervals (0: not in the wave); a branch
        that finishes stops there. Within a row, branches are taken in ascending ``order`` (ties, and
        no ``order``, by id): that is the order in which their final answers join the votes."""
        self._wave(self._checked_steps(steps), order)

    def _checked_steps(self, steps: np.ndarray) -> np.ndarray:
        """``steps`` as an array, or :class:`EpisodeError` for an advance the rules do not allow."""
        steps = np.asarray(steps, dtype=np.int64)
        if steps.shape != self._status.shape:
            raise EpisodeError(f"advance: steps must have shape {self._status.shape}, got {steps.shape}")
        if (steps < 0).any():
            raise EpisodeError("advance: step counts must not be negative")
        moving = steps != 0
        bad = moving & (self._status != LIVE)
        if bad.any():
            row, branch = (int(x[0]) for x in np.nonzero(bad))
            state = {UNOPENED: "not opened", FINISHED: "finished", PRUNED: "pruned"}[int(self._status[row, branch])]
            raise EpisodeError(f"advance: branch {branch} of row {row} ({self.where(row)}) is {state}")
        self._require_active(moving.any(axis=1), "advance")
        return steps

    def read_full(self, counts: np.ndarray | int) -> None:
        """Read ``counts[r]`` fresh branches whole in row ``r``; each costs its branch_tokens and is
        finished with its final answer (votes join in id order)."""
        new = self._new_branches(counts, "read_full")
        if new is None:
            return
        rows, cols = np.nonzero(new)
        probes = self._probes[rows, cols]
        cost = self._branch_tokens[rows, cols]
        self._status[rows, cols] = FINISHED
        self._intervals[rows, cols] = probes + 1
        self._latest[rows, cols] = self._steps[self._src[rows, cols], probes]
        self._charged[rows, cols] = cost
        self._charge_waves(rows, cost)
        self._add_votes(rows, cols, None)

    def prune(self, mask: np.ndarray) -> None:
        """Drop the live branches in ``mask`` (no cost). Pruning anything not live is an error."""
        self._status[self._checked_prune(mask)] = PRUNED

    def _checked_prune(self, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self._status.shape:
            raise EpisodeError(f"prune: the mask must have shape {self._status.shape}, got {mask.shape}")
        bad = mask & (self._status != LIVE)
        if bad.any():
            row, branch = (int(x[0]) for x in np.nonzero(bad))
            raise EpisodeError(f"prune: branch {branch} of row {row} ({self.where(row)}) is not live")
        self._require_active(mask.any(axis=1), "prune")
        return mask

    def stop(self, rows: np.ndarray, answers: np.ndarray | int) -> None:
        """End the episodes of ``rows`` (a mask) with ``answers[r]`` (ids; -1 for None). A stopped row
        takes no further actions."""
        rows = np.asarray(rows, dtype=bool)
        if rows.shape != (self.rows,):
            raise EpisodeError(f"stop: the row mask must have shape ({self.rows},), got {rows.shape}")
        if not rows.any():
            return
        chosen = self._checked_stop(rows, answers)
        origin = self._origin[rows]
        self._chosen[origin] = chosen
        self._final_tokens[origin] = self._spent[rows]
        self._final_latency[origin] = self._latency[rows]
        self._final_intervals[origin] = self._intervals[rows]
        self._final_charged[origin] = self._charged[rows]
        self._active &= ~rows

    def _checked_stop(self, rows: np.ndarray, answers: np.ndarray | int) -> np.ndarray:
        """The chosen ids of ``rows`` (a non-empty mask of the right shape), or :class:`EpisodeError`."""
        self._require_active(rows, "stop")
        chosen = np.broadcast_to(np.asarray(answers, dtype=np.int64), rows.shape)[rows]
        foreign = (chosen != NO_ANSWER) & (
            (chosen < self._offset[rows]) | (chosen >= self._offset[rows] + self._local_vocab)
        )
        if foreign.any():
            raise EpisodeError(f"stop: {int(chosen[foreign][0])} is not an answer id of this row's question")
        return chosen

    def compact(self) -> np.ndarray:
        """Drop stopped rows from every array, so later actions cost only what the active rows need
        (their results are kept). Returns the positions, before compaction, of the rows kept: index a
        controller's own per-row arrays with it."""
        keep = np.flatnonzero(self._active)
        for name in _ROW_ARRAYS:
            setattr(self, name, getattr(self, name)[keep])
        self.rows = len(keep)
        self._vote_cache = None
        self._publish()
        return keep

    def results(self) -> tuple[list[str | None], np.ndarray, np.ndarray]:
        """``(answers, tokens, latency_tokens)`` of every row in construction order, once all rows
        have stopped."""
        if self._active.any():
            raise EpisodeError(f"results: {self.where(int(np.argmax(self._active)))} has not stopped")
        vocab = self._vocab
        answers = [vocab[i] if i >= 0 else None for i in self._chosen.tolist()]
        return answers, self._final_tokens.copy(), self._final_latency.copy()

    def final_branches(self) -> tuple[np.ndarray, np.ndarray]:
        """``(intervals, charged)`` of every branch of every row in construction order, as they were
        when the row stopped (for audits of the accounting)."""
        return self._final_intervals.copy(), self._final_charged.copy()

    def where(self, row: int) -> str:
        """``question Q, seed S`` of a (current) row, for messages."""
        return f"question {self._row_question[row]}, seed {self._row_seed[row]}"

    # ------------------------------------------------------------------ internals

    def _new_branches(self, counts: np.ndarray | int, action: str) -> np.ndarray | None:
        """Open ``counts`` per row under the ceiling; returns the mask of the new branches (None for none)."""
        counts = np.broadcast_to(np.asarray(counts, dtype=np.int64), (self.rows,))
        if not counts.any():
            return None
        if (counts < 0).any():
            raise EpisodeError(f"{action}: counts must not be negative")
        self._require_active(counts > 0, action)
        over = self._opened + counts > self.width
        if over.any():
            row = int(np.argmax(over))
            raise EpisodeError(
                f"{action}: cannot open {counts[row]} more branches in row {row} ({self.where(row)}): "
                f"{self._opened[row]} of at most {self.width} already opened"
            )
        new = (self._ids >= self._opened[:, None]) & (self._ids < (self._opened + counts)[:, None])
        self._opened += counts
        return new

    def _require_active(self, acting: np.ndarray, action: str) -> None:
        late = acting & ~self._active
        if late.any():
            row = int(np.argmax(late))
            raise EpisodeError(f"{action}: row {row} ({self.where(row)}) has already stopped")

    def advance_cells(self, rows: np.ndarray, branches: np.ndarray, steps: np.ndarray) -> None:
        """:meth:`advance` with the moving branches listed (row, branch id, intervals) instead of a
        ``rows × width`` matrix: the same rules and effects, at a cost that grows with the list, not the
        batch (for callers that move a few rows at a time). A branch may be listed once."""
        rows, branches, steps = (np.asarray(a, dtype=np.int64) for a in (rows, branches, steps))
        if not (rows.shape == branches.shape == steps.shape) or rows.ndim != 1:
            raise EpisodeError("advance: rows, branches and steps must be lists of one length")
        if len(rows) == 0:
            return
        if ((rows < 0) | (rows >= self.rows) | (branches < 0) | (branches >= self.width) | (steps < 1)).any():
            raise EpisodeError("advance: every listed branch must exist and take at least one step")
        flat = rows * self.width + branches
        order = np.argsort(flat, kind="stable")
        flat, k = flat[order], steps[order]
        if (flat[1:] == flat[:-1]).any():
            raise EpisodeError("advance: a branch is listed twice in one wave")
        bad = self._status.reshape(-1)[flat] != LIVE
        if bad.any():
            row, branch = divmod(int(flat[np.argmax(bad)]), self.width)
            state = {UNOPENED: "not opened", FINISHED: "finished", PRUNED: "pruned"}[int(self._status[row, branch])]
            raise EpisodeError(f"advance: branch {branch} of row {row} ({self.where(row)}) is {state}")
        late = ~self._active[flat // self.width]
        if late.any():
            row = int(flat[np.argmax(late)] // self.width)
            raise EpisodeError(f"advance: row {row} ({self.where(row)}) has already stopped")
        self._wave_cells(flat, k, None)

    def _wave(self, steps: np.ndarray, order: np.ndarray | None) -> None:
        flat = np.flatnonzero(steps > 0)  # row-major: by row, then id
        if len(flat):
            self._wave_cells(flat, steps.reshape(-1)[flat], order)

    def _wave_cells(self, flat: np.ndarray, k: np.ndarray, order: np.ndarray | None) -> None:
        """One wave over the branches at ``flat`` (row-major indices, ascending) taking ``k`` intervals."""
        rows = flat // self.width
        # flat views (the private arrays are always C-contiguous, so writes through them land)
        intervals, latest = self._intervals.reshape(-1), self._latest.reshape(-1)
        taken = intervals[flat]
        probes = self._probes.reshape(-1)[flat]
        target = taken + k
        ends = target > probes  # these reveal their final answer in this wave
        cost = np.where(
            ends, (probes - taken) * self.probe_freq + self._final_cost.reshape(-1)[flat], k * self.probe_freq
        )
        target = np.where(ends, probes + 1, target)
        intervals[flat] = target
        latest[flat] = self._steps[self._src.reshape(-1)[flat], target - 1]
        self._charged.reshape(-1)[flat] += cost
        self._charge_waves(rows, cost)
        if ends.any():
            done = flat[ends]
            self._status.reshape(-1)[done] = FINISHED
            self._add_votes(done // self.width, done % self.width, order)

    def _charge_waves(self, rows: np.ndarray, cost: np.ndarray) -> None:
        """Add each row's wave: the sum of its charges to tokens, the largest to latency (``rows`` sorted)."""
        starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
        wave_rows = rows[starts]
        self._spent[wave_rows] += np.add.reduceat(cost, starts)
        self._latency[wave_rows] += np.maximum.reduceat(cost, starts)

    def _add_votes(self, rows: np.ndarray, cols: np.ndarray, order: np.ndarray | None) -> None:
        """Count the final answers of branches just finished (``rows, cols`` row-major), taking each
        row's branches in ascending ``order`` (then id)."""
        if order is not None:
            by = np.lexsort((cols, np.asarray(order)[rows, cols], rows))
            rows, cols = rows[by], cols[by]
        answers = self._latest[rows, cols]
        columns = self._vote_column[answers]
        stamps = self._clock + np.arange(len(rows), dtype=np.int64)
        self._clock += len(rows)
        # append to each row's finish log: position = finished so far + rank within this wave
        starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
        rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.append(starts, len(rows))))
        self._finish_log[rows, self._finished[rows] + rank] = answers
        np.add.at(self._finished, rows, 1)
        self._vote_cache = None
        np.add.at(self._votes, (rows, columns), 1)
        np.minimum.at(self._first_vote, (rows, columns), stamps)
