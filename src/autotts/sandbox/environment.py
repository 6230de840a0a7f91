"""The trusted environment process: holds the stores and plays the real episodes for a sandboxed
controller that runs in another process, behind the OS boundary.

Started by :mod:`.pool` as ``python -m autotts.sandbox.environment`` (a fresh interpreter with an empty
environment). It receives the gold-free stores and the candidates' sources from the parent (pickle
frames: the parent is trusted), starts the candidate runner under bubblewrap (:mod:`.boundary`) and
serves it the policy <-> environment protocol (:mod:`.protocol`, ``docs/protocol.md``):

* the runner sends actions; this process applies them to real :class:`~autotts.env.core.Episode`
  objects (or a real :class:`~autotts.env.batch.EpisodeBatch`) and sends back only what each action
  revealed: the answers of the branches it advanced or read, their final charges, finished flags;
* every number reported to the parent (answers, tokens, latency, the ceiling, traces) is read from
  those real episodes, never from the runner: a controller cannot under-report its costs;
* an answer is accepted only if the episode revealed it; anything the rules forbid, a malformed
  message, a runner that dies or talks nonsense, ends the block with a recorded failure.

Results go to the parent as one JSON object per line (the format :func:`.pool.parse_block` checks).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..controllers.base import get_controller_class
from ..controllers.loading import UPSTREAM_POOL
from ..env.batch import NO_ANSWER, EpisodeBatch, answer_tables
from ..env.core import DEFAULT_MAX_BRANCHES, FINISHED, EpisodeError
from ..env.trace import trace_records
from . import boundary, protocol
from .protocol import ProtocolError, read_frame, write_frame
from .runner import ID_STRIDE, MAX_ERROR_CHARS, MAX_NOTE_CHARS

WHERE_EXIT_CODE = 70  # this process reported where it was stopped


def expect(arrays: dict[str, np.ndarray], name: str, kind: str, shape: tuple) -> np.ndarray:
    """The array ``name`` of a message, of numpy kind ``kind`` (``i`` integers, ``b`` booleans) and
    ``shape`` (None: any length), or ValueError: the candidate's process sent something malformed."""
    array = arrays.get(name)
    if (
        array is None
        or array.dtype.kind != kind
        or array.ndim != len(shape)
        or any(want is not None and got != want for got, want in zip(array.shape, shape, strict=True))
    ):
        raise ValueError(f"'{name}' must be a {kind} array of shape {shape}")
    return array


class Violation(Exception):
    """The runner broke the rules or the protocol: the block ends with this failure."""

    def __init__(self, kind: str, where: tuple[int, int], text: str):
        super().__init__(text)
        self.kind, self.where, self.text = kind, where, text


class Runner:
    """The sandboxed candidate process, seen from here."""

    def __init__(self, limits: boundary.BoundaryLimits, folder: Path):
        self.process = boundary.launch(limits, folder / "candidate.log")
        self.folder = folder
        header = self.receive()
        if header.get("t") != "ready":
            raise boundary.SandboxUnavailable(str(header.get("error") or "the sandboxed runner did not start"))

    def send(self, header: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
        try:
            write_frame(self.process.stdin, header, arrays)
        except (BrokenPipeError, OSError):
            raise Violation("crash", (-1, -1), self.death()) from None

    def receive(self) -> dict:
        return self.receive_arrays()[0]

    def receive_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        try:
            frame = read_frame(self.process.stdout)
        except ProtocolError as exc:
            raise Violation("protocol", (-1, -1), f"the controller's process broke the protocol: {exc}") from None
        if frame is None:
            raise Violation("crash", (-1, -1), self.death())
        return frame

    def death(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except Exception:  # noqa: BLE001
            code = None
        log = self.log_tail()
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            meaning = {"SIGXCPU": "CPU time limit exceeded", "SIGKILL": "killed", "SIGSEGV": "segmentation fault"}
            what = f"{name}: {meaning.get(name, 'terminated by a signal')}"
        else:
            what = f"exit code {code}"
        return f"the controller's process died ({what}); log: {log or '-'}"

    def log_tail(self, chars: int = 400) -> str:
        path = self.folder / "candidate.log"
        return path.read_bytes()[-chars:].decode("utf-8", "replace").strip() if path.is_file() else ""

    def kill(self, *, politely: bool = False) -> None:
        """End the runner: asked to stop first when it has behaved (so its CPU time is accounted to
        this process), killed otherwise or when it does not stop within a second."""
        if politely and self.process.poll() is None:
            with contextlib.suppress(Exception):
                write_frame(self.process.stdin, {"t": protocol.STOP})
                self.process.wait(timeout=1)
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()


class Environment:
    def __init__(self, setup: dict, outbox: Any):
        self.stores = setup["stores"]
        self.candidates = setup["candidates"]
        limits = setup["limits"]
        self.limits = boundary.BoundaryLimits(
            memory_mb=limits["memory_mb"], cpu_seconds=int(limits["cpu_seconds"]), scratch_mb=limits["scratch_mb"]
        )
        self.outbox = outbox
        self.folder = Path.cwd()
        self.runner: Runner | None = None
        self.loaded: str | None = None  # the controller whose code the runner has executed
        self.where: list[Any] = [None, -1, -1]  # store, seed, question of the work in progress
        self.cpu = 0.0

    def send(self, message: dict) -> None:
        self.outbox.write(json.dumps(message, default=str).encode() + b"\n")
        self.outbox.flush()

    def report_where(self, *_: Any) -> None:
        """SIGUSR1 from the parent (wall-clock limit): say which episode was running, then exit."""
        store, seed, question = self.where
        try:
            self.send({"t": "where", "store": store, "seed": seed, "question": question})
        finally:
            os._exit(WHERE_EXIT_CODE)

    def ensure_runner(self) -> Runner:
        if self.runner is None or self.runner.process.poll() is not None:
            self.runner = Runner(self.limits, self.folder)
        return self.runner

    def retire_runner(self, *, politely: bool = False) -> None:
        if self.runner is not None:
            self.runner.kill(politely=politely)
            self.runner = None
        self.loaded = None

    # ------------------------------------------------------------------ loading

    def load(self, ref: str) -> tuple[str, int, bool]:
        """Load ``ref`` in the runner: ``(kind, ceiling, has_batch)``. The ceiling is decided here:
        64 for a controller, the whole pool for a published-harness file, whose actions are then
        held to that interface's shape (one branch per wave)."""
        if self.loaded != ref:  # a process that ran another controller's code is not reused for this one
            self.retire_runner(politely=True)
        runner = self.ensure_runner()
        self.loaded = ref
        if ref in self.candidates:
            candidate = self.candidates[ref]
            runner.send({"t": protocol.LOAD, **candidate})
        else:
            get_controller_class(ref)  # a registry name: trusted, known here too
            runner.send({"t": protocol.LOAD, "builtin": ref})
        header = runner.receive()
        if header.get("t") == protocol.FAILED:
            raise Violation("error", (-1, -1), str(header.get("error"))[:MAX_ERROR_CHARS])
        kind = header.get("kind")
        if header.get("t") != protocol.LOADED or kind not in ("controller", "upstream"):
            raise Violation("protocol", (-1, -1), "the controller's process answered the load with nonsense")
        if ref not in self.candidates:
            ceiling = get_controller_class(ref).max_branches
        else:
            ceiling = UPSTREAM_POOL if kind == "upstream" else DEFAULT_MAX_BRANCHES
        return kind, ceiling, header.get("batch") is True

    # ------------------------------------------------------------------ blocks

    def play_block(self, job: dict) -> dict:
        store = self.stores[job["store"]]
        seed_lo, seed_hi = job["seed_lo"], job["seed_hi"]
        n_seeds, n_questions = seed_hi - seed_lo, len(store.questions)
        result: dict[str, Any] = {
            "t": "block",
            "id": job["id"],
            "answers": [[None] * n_questions for _ in range(n_seeds)],
            "tokens": [[0] * n_questions for _ in range(n_seeds)],
            "latency": [[0] * n_questions for _ in range(n_seeds)],
            "failures": [],
            "traces": [],
        }
        self.where[:] = [job["store"], seed_lo, -1]
        try:
            kind, ceiling, has_batch = self.load(job["ref"])
            sequential = bool(job.get("seed_each_episode"))
            batched = has_batch and not (job["want_traces"] or job.get("reverse") or sequential)
            if batched:
                BatchSession(self, job, store, ceiling, result).play()
            else:
                EpisodeSession(self, job, store, ceiling, kind == "upstream", result).play()
        except Violation as exc:
            seed, question = exc.where
            result["failures"].append(
                {"kind": exc.kind, "seed": seed if seed >= 0 else seed_lo, "question": question, "error": exc.text}
            )
            result["answers"] = [[None] * n_questions for _ in range(n_seeds)]  # nothing of a broken block counts
            self.retire_runner()  # it ran code that broke the rules: do not reuse it
        result["cpu"] = self.cpu
        return result

    def inspect(self, job: dict) -> dict:
        out: dict[str, Any] = {"t": "inspect", "id": job["id"], "errors": []}
        if self.loaded is not None:
            self.retire_runner()
        try:
            runner = self.ensure_runner()
            runner.send({"t": protocol.INSPECT, **self.candidates[job["ref"]], "betas": list(job["betas"])})
            header = runner.receive()
        except Violation as exc:
            out["errors"].append(exc.text)
            self.retire_runner()
            return out
        if header.get("t") != protocol.INSPECTED:
            out["errors"].append("the controller's process answered the inspection with nonsense")
            self.retire_runner()
            return out
        header.pop("v", None)
        header.pop("t", None)
        out.update(header)
        if not isinstance(out.get("errors"), list):
            out["errors"] = ["the controller's process sent malformed errors"]
        self.retire_runner()  # it executed the candidate's code outside a block: start afresh
        return out


class EpisodeSession:
    """One block played through ``run()``: every episode of the block is live at once in the runner,
    and each message carries one action of each (after any prunes and notes). Here the episodes are
    rows of one real :class:`EpisodeBatch` (the same rules as :class:`~autotts.env.core.Episode`,
    tested episode for episode), so a message costs a few array operations whatever its size; the
    trace, when wanted, is written here from what was executed."""

    def __init__(self, env: Environment, job: dict, store: Any, ceiling: int, upstream: bool, result: dict):
        self.env, self.job, self.result = env, job, result
        self.upstream = upstream
        self.seed_lo = job["seed_lo"]
        seeds = list(range(job["seed_lo"], job["seed_hi"]))
        order = [(seed, q) for seed in seeds for q in range(len(store.questions))]
        if job.get("reverse"):  # validation plays a block backwards: results must not depend on the order
            order.reverse()
        self.order = order
        self.batch = batch = EpisodeBatch(store.questions, seeds, max_branches=ceiling)
        self.row_of = np.array([q * len(seeds) + (seed - self.seed_lo) for seed, q in order])  # episode id -> row
        self.to_runner = np.full(len(batch._vocab), -1, dtype=np.int64)  # answer id -> the id the runner knows
        self.sent = 0
        self.vocab = np.array(batch._vocab, dtype=object)
        self.whole = np.zeros((batch.rows, batch.width), dtype=bool)  # read whole: only the final answer shown
        self.questions = store.questions
        self.lookup: dict[int, dict[str, int]] = {}
        self.confidence = confidence_table(store.questions, batch._steps.shape)  # None: the store has none
        self.traces: dict[int, list] | None = {} if job["want_traces"] else None
        self.open = set(range(len(order)))
        self.is_open = np.ones(len(order), dtype=bool)
        self.probe_freq = store.questions[0].probe_freq

    def play(self) -> None:
        runner = self.env.runner
        job = self.job
        runner.send(
            {
                "t": protocol.PLAY,
                "mode": "run",
                "beta": job["beta"],
                "overrides": job["overrides"],
                "reseed": f"{job['store']}|{job['beta']!r}|{job['seed_lo']}",
                "sequential": bool(job.get("seed_each_episode")),
                "probe_freq": self.probe_freq,
                "confidence": self.confidence is not None,
                # per episode: id, seed, ceiling, and a tag for reseeding that does not name the question
                "episodes": [
                    [eid, seed, self.batch.width, zlib.crc32(f"{seed}|{q}".encode())]
                    for eid, (seed, q) in enumerate(self.order)
                ],
            }
        )
        while True:
            header, arrays = runner.receive_arrays()
            if header.get("t") == protocol.PLAYED:
                break
            if header.get("t") != protocol.ACT or not isinstance(header.get("ops"), list):
                raise Violation("protocol", self.first_open(), "the controller's process sent an unexpected message")
            reply, out = self.apply(header["ops"], arrays)
            runner.send({"t": protocol.OBS, **reply}, out)
        cpu = header.get("cpu")
        self.env.cpu = float(cpu) if isinstance(cpu, int | float) else 0.0
        if self.open:
            raise Violation("protocol", self.first_open(), "the controller's process stopped before all episodes ended")
        self.result["traces"].sort(key=lambda t: (t["seed"], t["question"]))

    def first_open(self) -> tuple[int, int]:
        if not self.open:
            return (-1, -1)
        where = self.order[min(self.open)]
        self.env.where[1:] = list(where)
        return where

    # ------------------------------------------------------------------ one message

    def apply(self, ops: list, arrays: dict) -> tuple[dict, dict[str, np.ndarray]]:
        try:
            return self._apply(ops, arrays)
        except Violation:
            raise
        except (EpisodeError, TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:
            raise Violation(
                "violation", self.first_open(), f"an action the episode's rules do not allow: {exc}"[:300]
            ) from None

    def _apply(self, ops: list, arrays: dict) -> tuple[dict, dict[str, np.ndarray]]:
        batch = self.batch
        rows, width = batch.rows, batch.width
        # the waves, as columns: one per acting episode
        episodes = expect(arrays, "episode", "i", (None,)).astype(np.int64)
        kinds = expect(arrays, "kind", "i", (len(episodes),)).astype(np.int64)
        sizes = expect(arrays, "size", "i", (len(episodes),)).astype(np.int64)
        ids = expect(arrays, "ids", "i", (None,)).astype(np.int64)
        steps = expect(arrays, "steps", "i", (len(ids),)).astype(np.int64)
        if len(episodes):
            unknown = (episodes < 0) | (episodes >= len(self.order))
            if ((kinds < 0) | (kinds > 2) | (sizes < 0) | unknown).any():
                raise ValueError("a wave of an unknown kind, size or episode")
            if not self.is_open[episodes].all():
                raise Violation("protocol", self.first_open(), "a wave of an episode that has ended")
            if len(np.unique(episodes)) != len(episodes):
                raise ValueError("an episode sent two waves in one message")
            if int(sizes[kinds == 1].sum()) != len(ids):
                raise ValueError("the advances list a different number of branches than their sizes")
            if self.upstream and ((sizes != 1).any() or (steps != 1).any()):
                raise ValueError("a published-harness controller acts on one branch per wave, one interval at a time")
        wave_rows = self.row_of[episodes]
        # prunes, notes and ends of episodes: before the waves (an episode's come before its wave)
        prune_at: list[int] = []
        finished: list[tuple] = []
        for op in ops:
            if not (isinstance(op, list) and len(op) >= 2 and type(op[0]) is int and 0 <= op[0] < len(self.order)):
                raise Violation("protocol", self.first_open(), f"a malformed action: {str(op)[:120]}")
            eid, action, args = op[0], op[1], op[2:]
            if not self.is_open[eid]:
                raise Violation("protocol", self.first_open(), f"an action of an ended episode: {str(op)[:80]}")
            if action == "prune":
                (branches,) = args
                if not isinstance(branches, list) or any(type(i) is not int or not 0 <= i < width for i in branches):
                    raise ValueError(f"prune: branch ids {str(branches)[:80]} are not opened branches")
                prune_at.extend(self.row_of[eid] * width + i for i in branches)
                if self.traces is not None:
                    self._trace(eid, ("prune", tuple(branches), (), 0, 0, None))
            elif action == "note":
                (text,) = args
                if not (isinstance(text, str) and len(text) <= MAX_NOTE_CHARS):
                    raise ValueError("a malformed note")
                if self.traces is not None:
                    fields = json.loads(text)
                    if isinstance(fields, dict):
                        self._trace(eid, ("note", {str(k): v for k, v in fields.items()}))
            elif action == "done":
                answer, kind, text = args
                finished.append((eid, answer, kind, text))
            else:
                raise ValueError(f"unknown action {action!r}")
        if finished and np.isin([f[0] for f in finished], episodes).any():
            raise ValueError("an episode ended in the message that carries one of its waves")
        if prune_at:
            mask = np.zeros(rows * width, dtype=bool)
            mask[prune_at] = True
            batch.prune(mask.reshape(rows, width))
        # every branch of every wave, in wave order: its row and branch id
        total = int(sizes.sum())
        cell_rows = np.repeat(wave_rows, sizes)
        starts = np.cumsum(sizes) - sizes
        within = np.arange(total) - np.repeat(starts, sizes)
        cell_kind = np.repeat(kinds, sizes)
        opening, advancing = cell_kind != 1, cell_kind == 1
        if len(ids) and ((ids < 0) | (ids >= width)).any():
            raise ValueError("advance: branch ids must be opened branches")
        taken_before = np.zeros(total, dtype=np.int64)  # branches opened in this wave start from nothing
        charged_before = np.zeros(total, dtype=np.int64)
        taken_before[advancing] = batch._intervals[cell_rows[advancing], ids]
        charged_before[advancing] = batch._charged[cell_rows[advancing], ids]
        cell_cols = np.empty(total, dtype=np.int64)
        cell_cols[opening] = batch._opened[cell_rows[opening]] + within[opening]  # before the waves open them
        cell_cols[advancing] = ids
        for kind, action in ((0, batch.spawn), (2, batch.read_full)):  # the ceiling is checked there
            counts = np.zeros(rows, dtype=np.int64)
            chosen = kinds == kind
            counts[wave_rows[chosen]] = sizes[chosen]
            if counts.any():
                action(counts)
        batch.advance_cells(cell_rows[advancing], ids, steps)
        if (kinds == 2).any():
            self.whole[cell_rows[cell_kind == 2], cell_cols[cell_kind == 2]] = True
        # what the waves revealed
        took = batch._intervals[cell_rows, cell_cols] - taken_before
        charge = batch._charged[cell_rows, cell_cols] - charged_before
        done = batch._status[cell_rows, cell_cols] == FINISHED
        latest = batch._latest[cell_rows, cell_cols]
        passed_at = np.flatnonzero(advancing & (took > 1))
        passed_n = took[passed_at] - 1
        src = np.repeat(batch._src[cell_rows[passed_at], cell_cols[passed_at]], passed_n)
        first = np.repeat(taken_before[passed_at], passed_n)
        step = np.arange(int(passed_n.sum())) - np.repeat(np.cumsum(passed_n) - passed_n, passed_n)
        passed = batch._steps[src, first + step]
        words, shown_latest = self.shown(latest)
        more_words, shown_passed = self.shown(passed)
        vocab = words + more_words  # the runner numbers them in this order too
        if self.confidence is not None:  # each interval a wave revealed, its confidence (NaN: none sent)
            src = np.repeat(batch._src[cell_rows, cell_cols], took)
            step = np.arange(int(took.sum())) - np.repeat(np.cumsum(took) - took, took)
            shown_confidence = self.confidence[src, np.repeat(taken_before, took) + step]
        if self.traces is not None:
            self._trace_waves(episodes, kinds, sizes, cell_cols, latest, charge, took)
        for eid, answer, kind, text in finished:
            self.finish(eid, self.row_of[eid], answer, kind, text)
        out = {
            "answer": shown_latest,
            "charge": charge,
            "finished": done,
            "took": took,
            "passed_at": passed_at.astype(np.int64),
            "passed_n": passed_n,
            "passed": shown_passed,
        }
        if self.confidence is not None:
            out["confidence"] = shown_confidence
        return {"vocab": vocab}, out

    def shown(self, real_ids: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Answer ids of this block's batch -> the ids the runner knows; returns the strings it learns
        now (in id order) and the translated ids."""
        fresh = np.unique(real_ids[self.to_runner[real_ids] < 0]) if len(real_ids) else real_ids
        words = self.vocab[fresh].tolist() if len(fresh) else []
        self.to_runner[fresh] = self.sent + np.arange(len(fresh))
        self.sent += len(fresh)
        return words, self.to_runner[real_ids]

    def _trace_waves(self, episodes, kinds, sizes, cols, latest, charge, took) -> None:
        names = ("spawn", "advance", "read_full")
        cols, answers, charges, steps = cols.tolist(), self.vocab[latest].tolist(), charge.tolist(), took.tolist()
        offset = 0
        for eid, kind, size in zip(episodes.tolist(), kinds.tolist(), sizes.tolist(), strict=True):
            end = offset + size
            costs = charges[offset:end]
            multi = kind == 1 and any(k != 1 for k in steps[offset:end])
            branches, shown = tuple(cols[offset:end]), tuple(answers[offset:end])
            took = tuple(steps[offset:end]) if multi else None
            self._trace(eid, (names[kind], branches, shown, sum(costs), max(costs, default=0), took))
            offset = end

    def _trace(self, eid: int, entry: tuple) -> None:
        self.traces.setdefault(eid, []).append(entry)

    def revealed(self, row: int, answer: str) -> bool:
        """Whether the episode of ``row`` was shown ``answer`` (a probe or final answer it paid for)."""
        batch = self.batch
        q = int(batch._row_question[row])
        if q not in self.lookup:
            offset = int(batch._offset[row])
            self.lookup[q] = {a: offset + i for i, a in enumerate(answer_tables(self.questions[q]).vocab)}
        answer_id = self.lookup[q].get(answer)
        opened = int(batch._opened[row])
        if answer_id is None or not opened:
            return False
        table = batch._steps[batch._src[row, :opened]]  # opened x depth: every answer of those branches
        taken = batch._intervals[row, :opened, None]
        t = np.arange(table.shape[1])[None, :]
        shown = (t < taken) & (~self.whole[row, :opened, None] | (t == taken - 1))
        return bool((table[shown] == answer_id).any())

    def finish(self, eid: int, row: int, answer: Any, kind: Any, text: Any) -> None:
        seed, q = self.order[eid]
        if answer is not None and type(answer) is not str:
            raise ValueError("an answer that is not a string")
        if answer is not None and not self.revealed(row, answer):
            raise Violation("violation", (seed, q), f"returned {answer[:60]!r}, an answer this episode never revealed")
        batch = self.batch
        r = seed - self.seed_lo
        self.result["answers"][r][q] = answer
        self.result["tokens"][r][q] = int(batch._spent[row])
        self.result["latency"][r][q] = int(batch._latency[row])
        if kind is not None:
            failure_kind = "memory" if kind == "memory" else "error"
            error = str(text)[:MAX_ERROR_CHARS] if text is not None else "failed"
            self.result["failures"].append({"kind": failure_kind, "seed": seed, "question": q, "error": error})
            self.result["answers"][r][q] = None
            if failure_kind == "memory":  # the process is at its limit: stop here, as for any stopping kind
                raise Violation("memory", (seed, q), error)
        if self.traces is not None:
            self.result["traces"].append(
                {
                    "controller": self.job["label"],
                    "beta": self.job["beta"],
                    "store": self.job["store"],
                    "seed": seed,
                    "question": q,
                    "answer": self.result["answers"][r][q],
                    "tokens": int(batch._spent[row]),
                    "latency_tokens": int(batch._latency[row]),
                    "trace": trace_records(self.traces.get(eid, [])),
                }
            )
        self.open.discard(eid)
        self.is_open[eid] = False


def confidence_table(questions: Any, shape: tuple[int, int]) -> np.ndarray | None:
    """Per-interval confidence laid out like :class:`EpisodeBatch`'s answer table (pool branch of each
    question × interval; NaN where the server sent none), or None for a store without it."""
    if not questions or questions[0].branches[0].confidence is None:
        return None
    table = np.full(shape, np.nan)
    pool = len(questions[0].branches)
    for k, question in enumerate(questions):
        for b, branch in enumerate(question.branches):
            values = [np.nan if c is None else c for c in branch.confidence or ()]
            table[k * pool + b, : len(values)] = values
    return table


class BatchSession:
    """One block played through ``run_batch()``: a real :class:`EpisodeBatch` here, a
    :class:`~autotts.sandbox.runner.RevealedBatch` there, one request per batch action."""

    def __init__(self, env: Environment, job: dict, store: Any, ceiling: int, result: dict):
        self.env, self.job, self.result = env, job, result
        self.seeds = list(range(job["seed_lo"], job["seed_hi"]))
        self.batch = EpisodeBatch(store.questions, self.seeds, max_branches=ceiling)
        sizes = [len(answer_tables(q).vocab) for q in store.questions]
        self.question_of = np.repeat(np.arange(len(sizes)), sizes)
        self.to_shown = np.full(int(np.sum(sizes)), NO_ANSWER, dtype=np.int64)  # real id -> id the runner sees
        self.from_shown: dict[int, int] = {}
        self.shown_count = np.zeros(len(sizes), dtype=np.int64)
        self.seen = np.zeros((self.batch.rows, 64), dtype=bool)  # original row x local id: revealed to that row

    def play(self) -> None:
        runner, job, batch = self.env.runner, self.job, self.batch
        runner.send(
            {
                "t": protocol.PLAY,
                "mode": "batch",
                "beta": job["beta"],
                "overrides": job["overrides"],
                "reseed": f"{job['store']}|{job['beta']!r}|{job['seed_lo']}",
                "batch": {
                    "questions": len(self.shown_count),
                    "seeds": self.seeds,
                    "width": batch.width,
                    "probe_freq": batch.probe_freq,
                },
            }
        )
        while True:
            header, arrays = runner.receive_arrays()
            if header.get("t") not in (protocol.PLAYED, protocol.BATCH_OP):
                raise Violation("protocol", self.first_active(), "the controller's process sent an unexpected message")
            reply, out = self.apply_all(header.get("ops") or [], arrays)
            if header.get("t") == protocol.PLAYED:
                break
            runner.send({"t": protocol.BATCH_OBS, **reply}, out)
        cpu = header.get("cpu")
        self.env.cpu = float(cpu) if isinstance(cpu, int | float) else 0.0
        error = header.get("error")
        if error is not None:
            kind = "memory" if isinstance(error, list) and error[:1] == ["memory"] else "error"
            text = str(error[1] if isinstance(error, list) and len(error) > 1 else error)[:MAX_ERROR_CHARS]
            self.result["failures"].append({"kind": kind, "seed": self.seeds[0], "question": -1, "error": text})
            return
        if batch._active.any():
            row = int(np.argmax(batch._active))
            text = f"run_batch: results: {batch.where(row)} has not stopped"
            self.result["failures"].append({"kind": "error", "seed": self.seeds[0], "question": -1, "error": text})
            return
        answers, tokens, latency = batch.results()
        n_seeds = len(self.seeds)
        for k, answer in enumerate(answers):  # rows are question-major
            q, row = divmod(k, n_seeds)
            self.result["answers"][row][q] = answer
            self.result["tokens"][row][q] = int(tokens[k])
            self.result["latency"][row][q] = int(latency[k])

    def first_active(self) -> tuple[int, int]:
        batch = self.batch
        if not batch._active.any():
            return (self.seeds[0], -1)
        row = int(np.argmax(batch._active))
        return int(batch._row_seed[row]), int(batch._row_question[row])

    def apply_all(self, ops: Any, arrays: dict) -> tuple[dict, dict[str, np.ndarray]]:
        """The actions of one message in order (those that reveal nothing travel with the next one
        that does); returns what the last revealed."""
        if not isinstance(ops, list) or len(ops) > 100_000:
            raise Violation("protocol", self.first_active(), "a malformed list of batch actions")
        reply: tuple[dict, dict[str, np.ndarray]] = ({}, {})
        for k, op in enumerate(ops):
            prefix = f"{k}."
            given = {name[len(prefix) :]: a for name, a in arrays.items() if name.startswith(prefix)}
            try:
                reply = self.apply(str(op), given)
            except (EpisodeError, ValueError, TypeError, IndexError, KeyError) as exc:
                raise Violation(
                    "violation", self.first_active(), f"a batch action the rules do not allow: {exc}"[:300]
                ) from None
        return reply

    def apply(self, op: str, arrays: dict) -> tuple[dict, dict[str, np.ndarray]]:
        batch = self.batch
        rows, width = batch.rows, batch.width
        finished_before = batch._finished.copy()
        if op in ("spawn", "read_full"):
            counts = expect(arrays, "counts", "i", (rows,))
            opened = batch._opened.copy()
            getattr(batch, op)(counts)
            ids = np.arange(width)
            changed = (ids >= opened[:, None]) & (ids < batch._opened[:, None])
        elif op == "advance":
            steps = expect(arrays, "steps", "i", (rows, width))
            order = expect(arrays, "order", "i", (rows, width)) if "order" in arrays else None
            batch.advance(steps, order)
            changed = steps != 0
        elif op == "prune":
            mask = expect(arrays, "mask", "b", (rows, width))
            batch.prune(mask)
            return {}, {}
        elif op == "stop":
            mask = expect(arrays, "rows", "b", (rows,))
            shown = expect(arrays, "answers", "i", (rows,))
            batch.stop(mask, self.real_answers(mask, shown))
            return {}, {}
        elif op == "compact":
            batch.compact()
            return {}, {}
        else:
            raise ValueError(f"unknown batch action {op!r}")
        return self.delta(changed, finished_before)

    def real_answers(self, mask: np.ndarray, shown: np.ndarray) -> np.ndarray:
        """The real ids of the answers a runner stopped rows with; each must have been revealed to that row."""
        batch = self.batch
        real = np.full(batch.rows, NO_ANSWER, dtype=np.int64)
        for r in np.flatnonzero(mask & (shown != NO_ANSWER)):
            m = int(shown[r])
            local = m % ID_STRIDE
            known = self.from_shown.get(m)
            origin = int(batch._origin[r])
            if known is None or local >= self.seen.shape[1] or not self.seen[origin, local]:
                raise Violation(
                    "violation",
                    (int(batch._row_seed[r]), int(batch._row_question[r])),
                    "run_batch stopped a row with an answer id that row was never shown",
                )
            real[r] = known
        return real

    def shown(self, real_ids: np.ndarray) -> np.ndarray:
        """Real answer ids -> the ids the runner sees (numbered in order of first revelation per question)."""
        valid = real_ids >= 0
        new = np.unique(real_ids[valid & (self.to_shown[np.where(valid, real_ids, 0)] < 0)])
        for g in new.tolist():
            q = int(self.question_of[g])
            self.to_shown[g] = q * ID_STRIDE + int(self.shown_count[q])
            self.from_shown[int(self.to_shown[g])] = g
            self.shown_count[q] += 1
        if self.shown_count.max(initial=0) > self.seen.shape[1]:
            grown = np.zeros((self.seen.shape[0], 2 * int(self.shown_count.max())), dtype=bool)
            grown[:, : self.seen.shape[1]] = self.seen
            self.seen = grown
        return np.where(valid, self.to_shown[np.where(valid, real_ids, 0)], NO_ANSWER)

    def delta(self, changed: np.ndarray, finished_before: np.ndarray) -> tuple[dict, dict[str, np.ndarray]]:
        """What an action revealed, for the runner's arrays: the changed cells, their rows, the finish log."""
        batch = self.batch
        width = batch.width
        cells = np.flatnonzero(changed)
        rows = np.unique(cells // width)
        latest = self.shown(batch._latest.reshape(-1)[cells])
        cell_rows = cells // width
        has = latest >= 0
        self.seen[batch._origin[cell_rows[has]], latest[has] % ID_STRIDE] = True
        added = batch._finished[rows] - finished_before[rows]
        log_rows = np.repeat(rows, added)
        starts = np.repeat(finished_before[rows], added)
        log_cols = starts + np.arange(int(added.sum())) - np.repeat(np.cumsum(added) - added, added)
        log_at = (log_rows * width + log_cols).astype(np.int64)
        log_ids = self.shown(batch._finish_log.reshape(-1)[log_at])
        out = {
            "cells": cells.astype(np.int64),
            "intervals": batch._intervals.reshape(-1)[cells],
            "latest": latest,
            "charged": batch._charged.reshape(-1)[cells],
            "status": batch._status.reshape(-1)[cells],
            "rows": rows.astype(np.int64),
            "spent": batch._spent[rows],
            "latency": batch._latency[rows],
            "finished": batch._finished[rows],
            "log_at": log_at,
            "log_ids": log_ids,
        }
        return {"vocab": int(self.shown_count.max(initial=0))}, out


# ---------------------------------------------------------------- process entry


def read_setup(inbox: Any) -> Any:
    header = inbox.read(8)
    if len(header) < 8:
        return None
    (size,) = struct.unpack("<Q", header)
    return pickle.loads(inbox.read(size))  # from the trusted parent only


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when the parent dies, even mid-block (and with it the sandbox under it)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def main() -> None:
    inbox = sys.stdin.buffer
    outbox = os.fdopen(os.dup(1), "wb")
    log = os.open("environment.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    setup = read_setup(inbox)
    die_with_parent(setup["parent_pid"])
    if any(q.gold is not None for store in setup["stores"].values() for q in store.questions):
        raise SystemExit("refusing to run: a store with gold answers was sent to a sandbox environment")
    env = Environment(setup, outbox)
    signal.signal(signal.SIGUSR1, env.report_where)
    try:
        env.ensure_runner()
    except (boundary.SandboxUnavailable, Violation) as exc:
        env.send({"t": "unavailable", "error": str(exc)})
        os._exit(3)
    env.send({"t": "ready", "pid": os.getpid(), "seccomp": "on"})
    while True:
        command = read_setup(inbox)
        if command is None or command[0] == "stop":
            break
        kind, job = command
        env.send(env.play_block(job) if kind == "block" else env.inspect(job))
    env.retire_runner(politely=True)
    outbox.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
