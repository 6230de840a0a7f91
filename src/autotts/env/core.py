"""The replay episode: one question played by one controller under one seed.

Semantics (``docs/episode.md``; these make our numbers equal the published harness's):

* **Branch order.** The question's pool of branches is put in the order of
  ``random.Random(seed).shuffle(list(range(pool)))``; new branches are taken from that order. A
  branch's id is its opening index (0 for the first opened), and it keeps that id.
* **Advancing** a branch one interval reveals its next probe answer at a cost of ``probe_freq`` tokens
  while fewer than L (its number of probes) intervals have been taken; the advance after that reveals
  its final answer, finishes it, and costs ``max(0, branch_tokens - tokens already charged to it)``.
  Opening a branch and advancing it to its end therefore costs ``max(L * probe_freq, branch_tokens)``.
* **Full read** of a fresh branch reveals its final answer, finishes it, and costs ``branch_tokens``.
* **Waves.** Every action is one parallel wave. ``tokens`` is the sum of all charges;
  ``latency_tokens`` is the sum over waves of the largest charge to one branch in that wave.
* **Ceiling.** At most ``max_branches`` branches may be opened (64 by default); asking for more, or
  advancing a finished or pruned branch, raises :class:`EpisodeError` and charges nothing.
* **Trace.** Every action is logged by the episode itself; a controller may add notes.

The episode never holds the gold answer: scoring is done by whoever runs the episode.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from ..data.store import Branch, Question

LIVE, FINISHED, PRUNED = 0, 1, 2
DEFAULT_MAX_BRANCHES = 64


class EpisodeError(RuntimeError):
    """An action the episode's rules do not allow (nothing was charged)."""


@lru_cache(maxsize=4096)
def branch_order(seed: int, pool: int) -> tuple[int, ...]:
    """Pool indices in the order branches are opened under ``seed`` (the published harness's order)."""
    order = list(range(pool))
    random.Random(seed).shuffle(order)
    return tuple(order)


class Episode:
    """One question under one seed. Actions: :meth:`spawn`, :meth:`advance`, :meth:`read_full`,
    :meth:`prune`. Observations: :meth:`answer`, :meth:`history`, :meth:`is_finished`, ... .

    Costs accumulate in :attr:`tokens` and :attr:`latency_tokens`; :attr:`trace` lists every wave as
    ``(action, branch_ids, answers, tokens, latency, intervals)`` (``intervals``: what each branch
    advanced in a multi-interval wave, else None) and every note as ``("note", fields)``.
    """

    __slots__ = (
        "seed",
        "max_branches",
        "probe_freq",
        "trace",
        "tokens",
        "latency_tokens",
        "_pool",
        "_order",
        "_src",
        "_taken",
        "_charged",
        "_status",
        "_first",
        "_latest",
        "_live",
    )

    def __init__(self, question: Question, seed: int, *, max_branches: int = DEFAULT_MAX_BRANCHES):
        pool = len(question.branches)
        self.seed = seed
        self.max_branches = min(max_branches, pool)
        self.probe_freq = question.probe_freq
        self.trace: list[tuple] = []
        self.tokens = 0
        self.latency_tokens = 0
        self._pool = question.branches
        self._order = branch_order(seed, pool)
        self._src: list[Branch] = []  # opened branches, by id
        self._taken: list[int] = []  # advances taken; probes + 1 once the final answer is revealed
        self._charged: list[int] = []  # tokens charged to each branch
        self._status: list[int] = []
        # answers revealed by branch i are src[i].steps[first[i]:taken[i]]: no per-step copying
        self._first: list[int] = []  # 0, or the final answer's index for a branch read whole
        self._latest: list[str | None] = []
        self._live: set[int] = set()  # ids of live branches, so checks and live() run at C speed

    # ------------------------------------------------------------------ actions

    def spawn(self, n: int = 1) -> list[int]:
        """Open ``n`` new branches in one wave, each advanced one interval. Returns their ids."""
        ids = self._open(n)
        self._wave("spawn", ids, None)
        return ids

    def advance(self, branch_ids: Iterable[int], steps: int | Sequence[int] = 1) -> list[str]:
        """Advance branches in one parallel wave by ``steps`` intervals each (an int, or one per
        branch). A branch that finishes stops there. Returns each branch's latest answer."""
        ids = list(branch_ids)
        if isinstance(steps, int):
            per_branch = None if steps == 1 else [steps] * len(ids)
        else:
            per_branch = list(steps)
            if len(per_branch) != len(ids):
                raise EpisodeError(f"advance: {len(ids)} branches but {len(per_branch)} step counts")
        if per_branch and min(per_branch) < 1:
            raise EpisodeError("advance: every branch must take at least one step")
        if len(set(ids)) != len(ids):
            raise EpisodeError("advance: a branch is listed twice in one wave")
        if not self._live.issuperset(ids):
            status = self._status
            for i in ids:
                if not 0 <= i < len(status):
                    raise EpisodeError(f"advance: branch {i} has not been opened ({len(status)} opened)")
                if status[i] != LIVE:
                    raise EpisodeError(f"advance: branch {i} is {'finished' if status[i] == FINISHED else 'pruned'}")
        return self._wave("advance", ids, per_branch)

    def read_full(self, n: int = 1) -> list[str]:
        """Read ``n`` fresh branches whole in one wave; each costs its ``branch_tokens``. Returns
        their final answers; the branches (ids as opened) are finished."""
        ids = self._open(n)
        wave_tokens = wave_latency = 0
        answers = []
        for i in ids:
            branch = self._src[i]
            cost = branch.tokens
            self._charged[i] = cost
            self._first[i] = branch.probes
            self._taken[i] = branch.probes + 1
            self._status[i] = FINISHED
            self._live.discard(i)
            self._latest[i] = branch.final
            answers.append(branch.final)
            wave_tokens += cost
            if cost > wave_latency:
                wave_latency = cost
        self._log("read_full", ids, answers, wave_tokens, wave_latency)
        return answers

    def prune(self, branch_ids: Iterable[int]) -> None:
        """Drop live branches (no cost). Pruning a finished or pruned branch is an error."""
        ids = list(branch_ids)
        if not self._live.issuperset(ids):
            raise EpisodeError(f"prune: branches {sorted(set(ids) - self._live)} are not live")
        for i in ids:
            self._status[i] = PRUNED
        self._live.difference_update(ids)
        self._log("prune", ids, [], 0, 0)

    def note(self, **fields: Any) -> None:
        """Add a controller's own note (e.g. its confidence) to the trace."""
        self.trace.append(("note", fields))

    # ------------------------------------------------------------------ observations

    @property
    def opened(self) -> int:
        """Number of branches opened so far (their ids are ``range(opened)``)."""
        return len(self._src)

    @property
    def remaining(self) -> int:
        """How many more branches may be opened under the ceiling."""
        return self.max_branches - len(self._src)

    def answer(self, branch_id: int) -> str:
        """The latest answer revealed by a branch (its final answer once finished)."""
        return self._latest[branch_id]

    def answers(self, branch_ids: Iterable[int]) -> list[str]:
        """Latest answers of several branches (one call instead of one per branch)."""
        latest = self._latest
        return [latest[i] for i in branch_ids]

    def history(self, branch_id: int) -> list[str]:
        """All answers a branch has revealed so far, oldest first."""
        return list(self._src[branch_id].steps[self._first[branch_id] : self._taken[branch_id]])

    @property
    def has_confidence(self) -> bool:
        """Whether this question's branches carry per-interval confidence (collected stores only)."""
        return bool(self._pool) and self._pool[0].confidence is not None

    def confidence(self, branch_id: int) -> list[float | None]:
        """Per-interval confidence of the intervals a branch has revealed so far, oldest first: one
        value per advance it received (all of them once read whole). Only collected stores carry it
        (DeepConf group confidence over each interval; None where the server sent no log-probabilities);
        on other stores this raises :class:`EpisodeError`. Observing it costs nothing."""
        values = self._src[branch_id].confidence
        if values is None:
            raise EpisodeError("confidence: this store carries none (collect it with --top-logprobs > 0)")
        return list(values[: self._taken[branch_id]])

    def is_live(self, branch_id: int) -> bool:
        return branch_id in self._live

    def is_finished(self, branch_id: int) -> bool:
        return self._status[branch_id] == FINISHED

    def is_pruned(self, branch_id: int) -> bool:
        return self._status[branch_id] == PRUNED

    def intervals(self, branch_id: int) -> int:
        """Advances a branch has received (its final-answer advance included)."""
        return self._taken[branch_id]

    def branch_tokens(self, branch_id: int) -> int:
        """Tokens charged to a branch so far."""
        return self._charged[branch_id]

    def live(self) -> list[int]:
        """Ids of branches that are neither finished nor pruned, in opening order."""
        return sorted(self._live)

    def finished(self) -> list[int]:
        """Ids of finished branches, in opening order."""
        return [i for i, s in enumerate(self._status) if s == FINISHED]

    def unpruned(self) -> list[int]:
        return [i for i, s in enumerate(self._status) if s != PRUNED]

    # ------------------------------------------------------------------ internals

    def _open(self, n: int) -> list[int]:
        if n < 0:
            raise EpisodeError(f"cannot open {n} branches")
        start = len(self._src)
        if start + n > self.max_branches:
            raise EpisodeError(f"cannot open {n} more branches: {start} of at most {self.max_branches} already opened")
        self._src.extend(self._sources(start, start + n))
        for k in range(start, start + n):
            self._taken.append(0)
            self._charged.append(0)
            self._status.append(LIVE)
            self._live.add(k)
            self._first.append(0)
            self._latest.append(None)
        return list(range(start, start + n))

    def _sources(self, start: int, stop: int) -> list:
        """What branches ``start .. stop-1`` are read from: the pool's branches, in the seed's order."""
        pool, order = self._pool, self._order
        return [pool[order[k]] for k in range(start, stop)]

    def _wave(self, action: str, ids: list[int], steps: list[int] | None) -> list[str]:
        if steps is None:
            return self._wave_one_step(action, ids)
        freq = self.probe_freq
        src, taken, charged, status, latest = self._src, self._taken, self._charged, self._status, self._latest
        live = self._live
        wave_tokens = wave_latency = 0
        answers = []
        took: list[int] = []
        for i, k in zip(ids, steps, strict=True):
            branch = src[i]
            t = taken[i]
            probes = branch.probes
            if t + k <= probes:  # probe intervals only
                cost = k * freq
                t += k
            else:  # the probes left, then the final answer, which charges what the length still owes
                cost = (probes - t) * freq
                cost += max(0, branch.tokens - charged[i] - cost)
                t = probes + 1
                status[i] = FINISHED
                live.discard(i)
            answer = branch.steps[t - 1]
            took.append(t - taken[i])
            taken[i] = t
            charged[i] += cost
            latest[i] = answer
            answers.append(answer)
            wave_tokens += cost
            if cost > wave_latency:
                wave_latency = cost
        self._log(action, ids, answers, wave_tokens, wave_latency, took)
        return answers

    def _wave_one_step(self, action: str, ids: list[int]) -> list[str]:
        """``_wave`` with one interval per branch: the common case, kept free of the inner loop."""
        freq = self.probe_freq
        src, taken, charged, status, latest = self._src, self._taken, self._charged, self._status, self._latest
        live = self._live
        wave_tokens = wave_latency = 0
        answers = []
        for i in ids:
            branch = src[i]
            t = taken[i]
            if t < branch.probes:
                cost = freq
            else:  # the final answer: charge what the branch's length still owes
                cost = branch.tokens - charged[i]
                if cost < 0:
                    cost = 0
                status[i] = FINISHED
                live.discard(i)
            answer = branch.steps[t]
            taken[i] = t + 1
            charged[i] += cost
            latest[i] = answer
            answers.append(answer)
            wave_tokens += cost
            if cost > wave_latency:
                wave_latency = cost
        self._log(action, ids, answers, wave_tokens, wave_latency)
        return answers

    def _log(
        self, action: str, ids: list[int], answers: list[str], tokens: int, latency: int, took: list[int] | None = None
    ) -> None:
        """Charge a wave and record it; ``took`` is each branch's intervals when not all one."""
        self.tokens += tokens
        self.latency_tokens += latency
        self.trace.append((action, tuple(ids), tuple(answers), tokens, latency, tuple(took) if took else None))
