"""The policy side of the sandbox: runs untrusted controller code inside the OS boundary.

Started by the environment process (:mod:`.environment`) as ``python -m autotts.sandbox.runner``
under bubblewrap (:mod:`.boundary`). Before it reads any candidate code it imports what controllers
may use and installs the seccomp filter; from then on this process can neither start a thread or a
process nor reach anything but its stdin and stdout, which carry the protocol (``docs/protocol.md``).

Nothing here is trusted by anyone: the environment process recomputes every number. The classes
below only let controller code run unchanged against an environment in another process:

* :class:`RemoteEpisode` has the whole :class:`~autotts.env.core.Episode` interface and rules. It
  holds only what its actions revealed; each action that reveals something is a request to the
  environment. Many episodes run at once as greenlets (:class:`Scheduler`), so the actions of every
  live episode of a block travel in one message.
* :class:`RevealedBatch` is an :class:`~autotts.env.batch.EpisodeBatch` whose arrays hold only what
  the actions revealed; each action is one request. Answer ids are numbered in the order answers were
  first revealed within a question (they say "same answer or not", nothing else).
"""

from __future__ import annotations

import inspect
import json
import os
import random
import resource
import sys
import traceback
import types
import zlib
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate, compress
from pathlib import Path
from typing import Any

import numpy as np

from ..controllers.base import Controller, get_controller_class
from ..controllers.loading import UpstreamController, controller_classes_in
from ..env.batch import NO_ANSWER, PRUNED, EpisodeBatch
from ..env.core import FINISHED, Episode, EpisodeError
from . import protocol
from .protocol import ProtocolError, read_frame, write_frame

CANDIDATE_MODULE = "autotts_candidate"
ID_STRIDE = 1 << 24  # answer id = question index * ID_STRIDE + order of first revelation
MAX_ERROR_CHARS = 600
MAX_NOTE_CHARS = 2000
# episodes of a block played at once: enough that a message carries a hundred actions, few enough that
# their state stays in the CPU caches (measured on CMC: a fifth less CPU than 200, a third less than 750)
IN_FLIGHT = 100


class Channel:
    """The protocol stream to the environment."""

    def __init__(self, inbox: Any, outbox: Any):
        self.inbox, self.outbox = inbox, outbox

    def send(self, header: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
        write_frame(self.outbox, header, arrays)

    def receive(self) -> tuple[dict, dict[str, np.ndarray]]:
        frame = read_frame(self.inbox)
        if frame is None:
            os._exit(0)  # the environment went away: nothing left to do
        return frame


# ---------------------------------------------------------------- run(): episodes as greenlets


SPAWN, ADVANCE, READ_FULL = 0, 1, 2  # wave kinds in an ``act`` message's columns


class Cohort:
    """Episodes whose waves travel in the same messages, with what the next message will carry."""

    def __init__(self, bodies: Sequence[Callable[[Any], None]]):
        self.queue = deque(bodies)  # episodes not started yet
        self.runnable: list[tuple[Any, Any]] = []  # (greenlet, what to resume it with)
        self.active = 0
        self.ops: list[list] = []  # prunes, notes and ends of episodes, in order
        self.wave_episode: list[int] = []
        self.wave_kind: list[int] = []
        self.wave_size: list[int] = []
        self.ids: list[int] = []  # branch ids of the advances, concatenated
        self.steps: list[int] = []  # their step counts
        self.parked: list[Any] = []  # episodes waiting for this cohort's next observations, in order
        self.deferred: list[Any] = []  # what the episodes not yet resumed were to be resumed with
        self.sizes: list[int] = []  # wave sizes of the message in flight


class Scheduler:
    """Plays many ``run()`` episodes at once; an episode that needs an answer from the environment
    parks until the message carrying every parked episode's wave has been answered. Waves travel as
    columns (episode, kind, branch count, branch ids, steps), their observations likewise.

    Episodes are split into two cohorts whose messages alternate, so that this process plays one
    cohort while the environment answers the other's message (the protocol stays strictly in order:
    the environment answers messages in the order they were sent)."""

    def __init__(self, channel: Channel):
        import greenlet

        self.channel = channel
        self.greenlet = greenlet.greenlet
        self.current = greenlet.getcurrent
        self.main = greenlet.getcurrent()
        self.cohort = Cohort(())  # the cohort whose episode is running
        self.urgent = False
        self.confidence = False  # whether the store carries per-interval confidence
        self.vocab: list[str] = []  # answer strings by the ids the environment sends

    def ask(self, episode: int, kind: int, size: int, ids: list[int] | None, steps: list[int] | None) -> tuple:
        """Send a wave with the next message and wait for what it reveals: ``(answers, charges,
        finished, took, passed)``, one entry per branch (``passed``: position -> answers skipped over)."""
        cohort = self.cohort
        cohort.wave_episode.append(episode)
        cohort.wave_kind.append(kind)
        cohort.wave_size.append(size)
        if ids is not None:
            cohort.ids.extend(ids)
            cohort.steps.extend(steps)
        cohort.parked.append(self.current())
        return self.main.switch()

    def tell(self, op: list) -> None:
        """Send ``op`` with the next message; it reveals nothing, so nobody waits."""
        self.cohort.ops.append(op)

    def play(self, bodies: Sequence[Callable[[Any], None]], in_flight: int) -> None:
        """Run every episode body, at most ``in_flight`` at once, trading messages until all are done."""
        halves = [Cohort(bodies[0::2]), Cohort(bodies[1::2])] if in_flight > 1 else [Cohort(bodies)]
        limit = max(1, in_flight // len(halves))
        waiting: deque[Cohort] = deque()  # cohorts with a message in flight, oldest first
        idle = list(halves)
        while True:
            for cohort in idle:
                if self._advance(cohort, limit):
                    waiting.append(cohort)
            if not waiting:
                return
            cohort = waiting.popleft()
            replies = self._replies(cohort.sizes)
            deferred, cohort.deferred = cohort.deferred, []
            parked, cohort.parked = cohort.parked, []
            if len(replies) + len(deferred) != len(parked):
                raise ProtocolError("the environment's observations do not match the waves sent")
            cohort.runnable = list(zip(parked, replies + deferred, strict=True))
            idle = [cohort]

    def _advance(self, cohort: Cohort, limit: int) -> bool:
        """Play a cohort's runnable episodes until each parks or ends, then send its message; False
        when the cohort has nothing left to send."""
        self.cohort = cohort
        while True:
            while cohort.queue and cohort.active < limit:
                cohort.runnable.append((self.greenlet(cohort.queue.popleft()), None))
                cohort.active += 1
            runnable, cohort.runnable = cohort.runnable, []
            for k, (task, value) in enumerate(runnable):
                task.switch(value)
                if task.dead:
                    cohort.active -= 1
                if self.urgent:  # an episode hit a limit: report it now, not after every other episode
                    self.urgent = False
                    cohort.parked.extend(t for t, _ in runnable[k + 1 :])
                    cohort.deferred = [v for _, v in runnable[k + 1 :]]
                    break
            if cohort.ops or cohort.wave_episode:
                break
            if not cohort.queue:
                return False
        cohort.sizes = cohort.wave_size
        arrays = {
            "episode": np.array(cohort.wave_episode, dtype=np.int64),
            "kind": np.array(cohort.wave_kind, dtype=np.int8),
            "size": np.array(cohort.wave_size, dtype=np.int64),
            "ids": np.array(cohort.ids, dtype=np.int64),
            "steps": np.array(cohort.steps, dtype=np.int64),
        }
        self.channel.send({"t": protocol.ACT, "ops": cohort.ops}, arrays)
        cohort.ops, cohort.wave_episode, cohort.wave_kind, cohort.wave_size = [], [], [], []
        cohort.ids, cohort.steps = [], []
        return True

    def _replies(self, sizes: list[int]) -> list[tuple]:
        """The observation message, cut into one reply per wave sent."""
        header, got = self.channel.receive()
        if header.get("t") != protocol.OBS:
            raise ProtocolError("expected the environment's observations")
        self.vocab.extend(header.get("vocab") or [])
        vocab = self.vocab
        answers = [vocab[i] for i in got["answer"].tolist()] if sizes else []
        charges, finished, took = got["charge"].tolist(), got["finished"].tolist(), got["took"].tolist()
        if len(answers) != sum(sizes) or len(charges) != len(answers):
            raise ProtocolError("the environment revealed a wrong number of answers")
        passed: dict[int, list[str]] = {}
        if len(got["passed"]):
            flat = [vocab[i] for i in got["passed"].tolist()]
            at = 0
            for position, count in zip(got["passed_at"].tolist(), got["passed_n"].tolist(), strict=True):
                passed[position] = flat[at : at + count]
                at += count
        ends = list(accumulate(sizes))
        by_wave: dict[int, dict[int, list[str]]] = {}
        for k, skipped in passed.items():  # few: only branches that took several intervals at once
            wave = bisect_right(ends, k)
            by_wave.setdefault(wave, {})[k - (ends[wave] - sizes[wave])] = skipped
        confidence = self._confidence(got, took)
        replies, offset = [], 0
        for wave, end in enumerate(ends):
            skipped = by_wave.get(wave, {})
            reply = (answers[offset:end], charges[offset:end], finished[offset:end], took[offset:end], skipped)
            replies.append((*reply, confidence[offset:end] if confidence else None))
            offset = end
        return replies

    def _confidence(self, got: dict[str, np.ndarray], took: list[int]) -> list[list[float | None]] | None:
        """Per branch, the confidence of each interval it revealed (None where the server sent none)."""
        if not self.confidence:
            return None
        flat = [None if c != c else c for c in got["confidence"].tolist()]  # NaN -> None
        if len(flat) != sum(took):
            raise ProtocolError("the environment sent a wrong number of confidence values")
        out, at = [], 0
        for count in took:
            out.append(flat[at : at + count])
            at += count
        return out


class RemoteEpisode(Episode):
    """An :class:`Episode` whose branches live in the environment process: the same interface and
    rules (illegal actions raise the same :class:`EpisodeError` before anything is sent), but every
    answer and every charge arrives only when an action reveals it."""

    __slots__ = ("_id", "_scheduler", "_hist", "_confidence")

    def __init__(self, scheduler: Scheduler, episode_id: int, seed: int, max_branches: int, probe_freq: int):
        # no Episode.__init__: there is no question here, only what the environment reveals
        self.seed = seed
        self.max_branches = max_branches
        self.probe_freq = probe_freq
        self.trace = []
        self.tokens = 0
        self.latency_tokens = 0
        self._id = episode_id
        self._scheduler = scheduler
        self._hist: list[list[str]] = []  # answers each branch revealed, oldest first
        self._confidence: dict[int, list[float | None]] = {}  # confidence of each interval revealed
        self._src = self._hist  # Episode counts opened branches by len(_src)
        self._taken, self._charged, self._status, self._latest = [], [], [], []
        self._first: list[int] = []
        self._live = set()

    def _sources(self, start: int, stop: int) -> list:
        """A branch here is only the answers it has revealed so far."""
        return [[] for _ in range(start, stop)]

    def _wave_one_step(self, action: str, ids: list[int]) -> list[str]:
        if action == "spawn":
            reply = self._scheduler.ask(self._id, SPAWN, len(ids), None, None)
        else:
            reply = self._scheduler.ask(self._id, ADVANCE, len(ids), ids, [1] * len(ids))
        return self._reveal(action, ids, reply, False)

    def _wave(self, action: str, ids: list[int], steps: list[int] | None) -> list[str]:
        if steps is None:
            return self._wave_one_step(action, ids)
        reply = self._scheduler.ask(self._id, ADVANCE, len(ids), ids, steps)
        return self._reveal(action, ids, reply, True)

    def read_full(self, n: int = 1) -> list[str]:
        ids = self._open(n)
        return self._reveal("read_full", ids, self._scheduler.ask(self._id, READ_FULL, n, None, None), False)

    def _reveal(self, action: str, ids: list[int], reply: tuple, multi: bool) -> list[str]:
        """Book what a wave revealed, as :class:`Episode` books what it charges."""
        answers, charges, finished, took, passed, confidence = reply
        if confidence is not None:
            for i, values in zip(ids, confidence, strict=True):
                self._confidence.setdefault(i, []).extend(values)
        if len(answers) != len(ids):
            raise ProtocolError("the environment revealed a wrong number of answers")
        taken, charged, latest, hist = self._taken, self._charged, self._latest, self._hist
        if multi or action == "read_full":
            for pos, i in enumerate(ids):
                if pos in passed:
                    hist[i].extend(passed[pos])
                taken[i] += took[pos]
        else:  # one interval each: the common case, kept free of the lookups above
            for i in ids:
                taken[i] += 1
        for i, answer, cost in zip(ids, answers, charges):  # noqa: B905 - lengths checked above
            hist[i].append(answer)
            charged[i] += cost
            latest[i] = answer
        if True in finished:
            status, live, first = self._status, self._live, self._first
            for pos in compress(range(len(ids)), finished):
                i = ids[pos]
                status[i] = FINISHED
                live.discard(i)
                if action == "read_full":
                    first[i] = taken[i] - 1
        if multi:
            self._log(action, ids, answers, sum(charges), max(charges, default=0), took)
        else:
            self._log(action, ids, answers, sum(charges), max(charges, default=0))
        return answers

    def prune(self, branch_ids: Iterable[int]) -> None:
        ids = list(branch_ids)
        super().prune(ids)
        self._scheduler.tell([self._id, "prune", ids])

    def note(self, **fields: Any) -> None:
        super().note(**fields)
        text = json.dumps(fields, default=repr)[:MAX_NOTE_CHARS]
        self._scheduler.tell([self._id, "note", text])

    def history(self, branch_id: int) -> list[str]:
        return list(self._hist[branch_id])

    @property
    def has_confidence(self) -> bool:
        return self._scheduler.confidence

    def confidence(self, branch_id: int) -> list[float | None]:
        if not self._scheduler.confidence:
            raise EpisodeError("confidence: this store carries none (collect it with --top-logprobs > 0)")
        self._hist[branch_id]  # noqa: B018 - an unopened branch raises IndexError, as in Episode
        return list(self._confidence.get(branch_id, []))


# ---------------------------------------------------------------- run_batch(): one revealed batch


class RevealedBatch(EpisodeBatch):
    """An :class:`EpisodeBatch` for ``run_batch`` whose arrays are filled only by what the
    environment reveals after each action."""

    def __init__(self, channel: Channel, questions: int, seeds: Sequence[int], width: int, probe_freq: int):
        # no EpisodeBatch.__init__: it would need the store
        self._channel = channel
        self.rows = questions * len(seeds)
        self.width = width
        self.probe_freq = probe_freq
        self._row_question = np.repeat(np.arange(questions), len(seeds))
        self._row_seed = np.tile(np.array(list(seeds), dtype=np.int64), questions)
        self._offset = self._row_question * ID_STRIDE
        self._local_vocab = 1
        self._ids = np.arange(width)
        self._vote_cache = None
        shape = (self.rows, width)
        self._status = np.full(shape, -1, dtype=np.int8)
        self._intervals = np.zeros(shape, dtype=np.int64)
        self._latest = np.full(shape, NO_ANSWER, dtype=np.int64)
        self._charged = np.zeros(shape, dtype=np.int64)
        self._finish_log = np.full(shape, NO_ANSWER, dtype=np.int64)
        self._opened = np.zeros(self.rows, dtype=np.int64)
        self._spent = np.zeros(self.rows, dtype=np.int64)
        self._latency = np.zeros(self.rows, dtype=np.int64)
        self._finished = np.zeros(self.rows, dtype=np.int64)
        self._active = np.ones(self.rows, dtype=bool)
        self._origin = np.arange(self.rows)
        self._queued: list[tuple[str, dict[str, np.ndarray]]] = []
        for name in ("_src", "_probes", "_final_cost", "_branch_tokens", "_votes", "_first_vote"):
            setattr(self, name, np.zeros((self.rows, 0), dtype=np.int64))  # nothing of the store lives here
        self._publish()

    def vote_stats(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._vote_cache is None:
            leader, top1, top2 = self._tally(self._finish_log, self._finish_log >= 0, None)
            self._vote_cache = tuple(v.view() for v in (leader, top1, top2))  # type: ignore[assignment]
            for view in self._vote_cache:
                view.flags.writeable = False
        return self._vote_cache

    def spawn(self, counts: np.ndarray | int) -> None:
        if self._new_branches(counts, "spawn") is not None:
            self._request("spawn", counts=np.broadcast_to(np.asarray(counts, dtype=np.int64), (self.rows,)))

    def read_full(self, counts: np.ndarray | int) -> None:
        if self._new_branches(counts, "read_full") is not None:
            self._request("read_full", counts=np.broadcast_to(np.asarray(counts, dtype=np.int64), (self.rows,)))

    def advance(self, steps: np.ndarray, order: np.ndarray | None = None) -> None:
        steps = self._checked_steps(steps)
        arrays = {"steps": steps}
        if order is not None:
            arrays["order"] = np.asarray(order, dtype=np.int64)
        self._request("advance", **arrays)

    def prune(self, mask: np.ndarray) -> None:
        mask = self._checked_prune(mask)
        self._status[mask] = PRUNED
        self._queue("prune", mask=mask)

    def stop(self, rows: np.ndarray, answers: np.ndarray | int) -> None:
        rows = np.asarray(rows, dtype=bool)
        if rows.shape != (self.rows,) or not rows.any():
            return super().stop(rows, answers)  # the base raises for the shape, or does nothing
        chosen = self._checked_stop(rows, answers)
        full = np.full(self.rows, NO_ANSWER, dtype=np.int64)
        full[rows] = chosen
        self._queue("stop", rows=rows, answers=full)
        self._active &= ~rows

    def compact(self) -> np.ndarray:
        keep = super().compact()
        self._queue("compact")
        return keep

    def results(self) -> Any:
        raise EpisodeError("results: the environment keeps the results, not the controller")

    def final_branches(self) -> Any:
        raise EpisodeError("final_branches: the environment keeps the branch states, not the controller")

    def _queue(self, op: str, **arrays: np.ndarray) -> None:
        """An action that reveals nothing travels with the next one that does (or with ``played``)."""
        self._queued.append((op, {name: np.array(a) for name, a in arrays.items()}))  # copies: views change

    def pending(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """The queued actions as one message's ``ops`` and arrays (``k.name`` for the k-th action's)."""
        names = [op for op, _ in self._queued]
        arrays = {f"{k}.{name}": array for k, (_, given) in enumerate(self._queued) for name, array in given.items()}
        self._queued = []
        return names, arrays

    def _request(self, op: str, **arrays: np.ndarray) -> None:
        self._queue(op, **arrays)
        names, payload = self.pending()
        self._channel.send({"t": protocol.BATCH_OP, "ops": names}, payload)
        header, got = self._channel.receive()
        if header.get("t") != protocol.BATCH_OBS:
            raise ProtocolError("expected the environment's batch observation")
        if header.get("error"):
            raise EpisodeError(str(header["error"]))
        if "cells" in got:
            cells = got["cells"]
            self._intervals.reshape(-1)[cells] = got["intervals"]
            self._latest.reshape(-1)[cells] = got["latest"]
            self._charged.reshape(-1)[cells] = got["charged"]
            self._status.reshape(-1)[cells] = got["status"]
            rows = got["rows"]
            self._spent[rows] = got["spent"]
            self._latency[rows] = got["latency"]
            self._finished[rows] = got["finished"]
            self._finish_log.reshape(-1)[got["log_at"]] = got["log_ids"]
            self._local_vocab = max(self._local_vocab, int(header.get("vocab", 1)))
            self._vote_cache = None


# ---------------------------------------------------------------- loading and inspecting candidates


class Runner:
    def __init__(self, channel: Channel):
        self.channel = channel
        self.cls: type[Controller] | None = None

    def load(self, message: dict) -> dict:
        """Execute the candidate's module afresh (nothing carries over between blocks) and find its class."""
        try:
            if message.get("builtin"):
                self.cls = get_controller_class(str(message["builtin"]))
                kind = "controller"
            else:
                self.cls, kind = self._load_file(message)
        except BaseException as exc:  # noqa: BLE001 - anything a module's top level may raise
            self.cls = None
            return {"t": protocol.FAILED, "error": "loading the controller failed: " + describe(exc)}
        return {"t": protocol.LOADED, "class": self.cls.__name__, "kind": kind, "batch": self.cls.has_batch()}

    def _load_file(self, message: dict) -> tuple[type[Controller], str]:
        module = types.ModuleType(CANDIDATE_MODULE)
        module.__file__ = str(message.get("filename") or "candidate.py")
        sys.modules[CANDIDATE_MODULE] = module
        exec(compile(str(message["source"]), module.__file__, "exec"), vars(module))
        class_name = message.get("class_name")
        if class_name:
            found = [vars(module).get(class_name)]
            if not isinstance(found[0], type):
                raise LookupError(f"the file defines no class {class_name!r}")
        else:
            found = controller_classes_in(module)
            if len(found) != 1:
                names = ", ".join(c.__name__ for c in found) or "none"
                raise LookupError(f"expected exactly one controller class, found {len(found)} ({names})")
        cls = found[0]
        if issubclass(cls, Controller):
            return cls, "controller"
        if callable(getattr(cls, "solve", None)):
            wrapper = type(cls.__name__, (UpstreamController,), {"method_class": cls, "name": cls.__name__})
            return wrapper, "upstream"
        raise LookupError(f"{cls.__name__} is neither a Controller nor has solve(question)")

    def inspect(self, message: dict) -> dict:
        """What validation needs to know about a file, found by executing it here."""
        out: dict[str, Any] = {"t": protocol.INSPECTED, "errors": []}
        try:
            module = types.ModuleType(CANDIDATE_MODULE)
            module.__file__ = str(message.get("filename") or "candidate.py")
            sys.modules[CANDIDATE_MODULE] = module
            exec(compile(str(message["source"]), module.__file__, "exec"), vars(module))
            own = [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == CANDIDATE_MODULE]
            natives = [c for c in own if issubclass(c, Controller)]
            out["controllers"] = [c.__name__ for c in natives]
            out["upstream"] = [c.__name__ for c in own if c not in natives and callable(getattr(c, "solve", None))]
            if len(natives) == 1:
                out.update(describe_class(natives[0], list(message.get("betas") or [])))
        except BaseException as exc:  # noqa: BLE001
            out["errors"].append("importing the file failed: " + describe(exc))
        return out

    # ------------------------------------------------------------------ playing

    def play(self, message: dict) -> dict:
        cls = self.cls
        if cls is None:
            return {"t": protocol.PLAYED, "error": "no controller is loaded"}
        beta = float(message["beta"])
        overrides = dict(message.get("overrides") or [])
        tag = str(message.get("reseed", ""))
        reseed(tag)
        if message.get("mode") == "batch":
            spec = message["batch"]
            batch = RevealedBatch(self.channel, spec["questions"], spec["seeds"], spec["width"], spec["probe_freq"])
            try:
                cls(beta, **overrides).run_batch(batch)
                error = None
            except BaseException as exc:  # noqa: BLE001
                error = [kind_of(exc), "run_batch: " + describe(exc)]
            names, arrays = batch.pending()  # the last prunes, stops and compactions
            self.channel.send({"t": protocol.PLAYED, "error": error, "cpu": cpu_seconds(), "ops": names}, arrays)
            return None
        scheduler = Scheduler(self.channel)
        scheduler.confidence = bool(message.get("confidence"))
        sequential = bool(message.get("sequential"))
        freq = int(message["probe_freq"])

        def body_for(eid: int, seed: int, ceiling: int, episode_tag: Any = None) -> Callable[[], None]:
            def body(_: Any = None) -> None:
                if sequential:  # the same stream for the same episode, in whatever order episodes come
                    reseed(f"{tag}|{episode_tag}")
                episode = RemoteEpisode(scheduler, eid, seed, ceiling, freq)
                try:
                    answer = cls(beta, **overrides).run(episode)
                    if answer is not None and type(answer) is not str:
                        raise TypeError(f"run() returned {type(answer).__name__}, expected str or None")
                    scheduler.tell([eid, "done", answer, None, None])
                except BaseException as exc:  # noqa: BLE001 - SystemExit and friends are failures too
                    kind = kind_of(exc)
                    scheduler.tell([eid, "done", None, kind, describe(exc)])
                    scheduler.urgent = kind == "memory"

            return body

        bodies = [body_for(*episode) for episode in message["episodes"]]
        scheduler.play(bodies, 1 if sequential else IN_FLIGHT)
        return {"t": protocol.PLAYED, "error": None, "cpu": cpu_seconds()}


def describe_class(cls: type, betas: list[float]) -> dict:
    """Constructor parameters, ceiling, schedules (two passes over the β grid) and construction errors."""
    init = cls.__init__
    out: dict[str, Any] = {"class": cls.__name__, "inherits_init": init is Controller.__init__}
    out["has_run"] = getattr(cls, "run", None) is not Controller.run
    out["has_run_batch"] = getattr(cls, "run_batch", None) is not Controller.run_batch
    out["init"] = None
    if type(init) is types.FunctionType:
        try:
            out["init"] = [
                {"name": p.name, "kind": p.kind.name, "default": p.default is not inspect.Parameter.empty}
                for p in list(inspect.signature(init).parameters.values())[1:]
            ]
        except (TypeError, ValueError):
            out["init"] = None
    ceiling = getattr(cls, "max_branches", None)
    out["max_branches"] = ceiling if isinstance(ceiling, int) else (None if ceiling is None else repr(ceiling))
    passes = []
    for _ in range(2):
        values = []
        for beta in betas:
            try:
                values.append({"json": json.dumps(cls.schedule(beta), sort_keys=True, allow_nan=False)})
            except BaseException as exc:  # noqa: BLE001
                values.append({"error": describe(exc)})
        passes.append(values)
    out["schedules"] = passes
    built = []
    for beta in betas:
        try:
            cls(beta)
            built.append(None)
        except BaseException as exc:  # noqa: BLE001
            built.append(describe(exc))
    out["construct"] = built
    return out


# ---------------------------------------------------------------- helpers


def reseed(tag: str) -> None:
    """Seed the global generators a controller may use, from the work's identity (not the worker's)."""
    random.seed(tag)
    np.random.seed(zlib.crc32(tag.encode()))


def kind_of(exc: BaseException) -> str:
    return "memory" if isinstance(exc, MemoryError) else "error"


def describe(exc: BaseException) -> str:
    """``Type: message`` plus where in the candidate's file it happened."""
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:  # noqa: BLE001 - a candidate's __str__ may raise
        text = type(exc).__name__
    try:
        frames = traceback.extract_tb(exc.__traceback__)
        places = [f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames if "autotts/" not in f.filename]
    except BaseException:  # noqa: BLE001
        places = []
    text += f" (at {' <- '.join(reversed(places[-3:]))})" if places else ""
    return text[:MAX_ERROR_CHARS]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def preload() -> None:
    """Import what controllers may use before the filter is installed and candidate code runs."""
    import bisect  # noqa: F401
    import collections  # noqa: F401
    import dataclasses  # noqa: F401
    import fractions  # noqa: F401
    import functools  # noqa: F401
    import heapq  # noqa: F401
    import itertools  # noqa: F401
    import math  # noqa: F401
    import statistics  # noqa: F401

    import greenlet  # noqa: F401
    import scipy.special  # noqa: F401
    import scipy.stats  # noqa: F401

    import autotts.controllers  # noqa: F401
    import autotts.env  # noqa: F401


def main() -> None:
    from .boundary import SandboxUnavailable, install_seccomp

    inbox = sys.stdin.buffer
    outbox = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the candidate's prints go to the log, never into the protocol stream
    channel = Channel(inbox, outbox)
    preload()
    try:
        install_seccomp()
    except SandboxUnavailable as exc:
        channel.send({"t": protocol.FAILED, "error": f"seccomp: {exc}", "boundary": True})
        os._exit(3)
    channel.send({"t": "ready", "seccomp": "on"})
    runner = Runner(channel)
    handlers = {protocol.LOAD: runner.load, protocol.INSPECT: runner.inspect, protocol.PLAY: runner.play}
    while True:
        header, _ = channel.receive()
        if header["t"] == protocol.STOP:
            break
        reply = handlers[header["t"]](header)
        if reply is not None:
            channel.send(reply)
    outbox.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
