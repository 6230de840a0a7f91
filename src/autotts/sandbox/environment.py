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

    def kill(self) -> None:
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

    def retire_runner(self) -> None:
        if self.runner is not None:
            self.runner.kill()
            self.runner = None
        self.loaded = None

    # ------------------------------------------------------------------ loading

    def load(self, ref: str) -> tuple[str, int, bool]:
        """Load ``ref`` in the runner: ``(kind, ceiling, has_batch)``. The ceiling is decided here:
        64 for a controller, the whole pool for a published-harness file, whose actions are then
        held to that interface's shape (one branch per wave)."""
        if self.loaded != ref:  # a process that ran another controller's code is not reused for this one
            self.retire_runner()
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
        self.row_of = [q * len(seeds) + (seed - self.seed_lo) for seed, q in order]  # episode id -> row
        self.vocab = np.array(batch._vocab, dtype=object)
        self.whole = np.zeros((batch.rows, batch.width), dtype=bool)  # read whole: only the final answer shown
        self.questions = store.questions
        self.lookup: dict[int, dict[str, int]] = {}
        self.traces: dict[int, list] | None = {} if job["want_traces"] else None
        self.open = set(range(len(order)))
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
                # per episode: id, seed, ceiling, and a tag for reseeding that does not name the question
                "episodes": [
                    [eid, seed, self.batch.width, zlib.crc32(f"{seed}|{q}".encode())]
                    for eid, (seed, q) in enumerate(self.order)
                ],
            }
        )
        while True:
            header = runner.receive()
            if header.get("t") == protocol.PLAYED:
                break
            if header.get("t") != protocol.ACT or not isinstance(header.get("ops"), list):
                raise Violation("protocol", self.first_open(), "the controller's process sent an unexpected message")
            runner.send({"t": protocol.OBS, "obs": self.apply(header["ops"])})
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

    def apply(self, ops: list) -> list:
        try:
            return self._apply(ops)
        except Violation:
            raise
        except (EpisodeError, TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:
            raise Violation(
                "violation", self.first_open(), f"an action the episode's rules do not allow: {exc}"[:300]
            ) from None

    def _apply(self, ops: list) -> list:
        batch = self.batch
        rows, width = batch.rows, batch.width
        prune_at: list[int] = []
        spawn = np.zeros(rows, dtype=np.int64)
        read = np.zeros(rows, dtype=np.int64)
        move_rows: list[int] = []
        move_cols: list[int] = []
        move_steps: list[int] = []
        waves: list[tuple] = []  # (episode id, action, row, ids or count, first index into the move lists)
        acted: set[int] = set()
        finished: list[tuple] = []
        for op in ops:
            if not (isinstance(op, list) and len(op) >= 2 and type(op[0]) is int and op[0] in self.open):
                raise Violation("protocol", self.first_open(), f"a malformed action: {str(op)[:120]}")
            eid, action, args = op[0], op[1], op[2:]
            row = self.row_of[eid]
            if row in acted:
                raise ValueError(f"episode {eid} acted after a wave within one message")
            if action == "prune":
                (ids,) = args
                if not isinstance(ids, list) or any(type(i) is not int or not 0 <= i < width for i in ids):
                    raise ValueError(f"prune: branch ids {str(ids)[:80]} are not opened branches")
                prune_at.extend(row * width + i for i in ids)
                if self.traces is not None:
                    self._trace(eid, ("prune", tuple(ids), (), 0, 0, None))
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
                acted.add(row)
                finished.append((eid, row, answer, kind, text))
            elif action in ("spawn", "read_full"):
                (n,) = args
                if type(n) is not int or n < 0 or (self.upstream and n != 1):
                    raise ValueError(f"{action}: a count of {n!r}" + self._upstream_note())
                acted.add(row)
                (spawn if action == "spawn" else read)[row] = n
                waves.append((eid, action, row, int(batch._opened[row]) if n else 0, n))
            elif action == "advance":
                ids, steps = args
                if type(ids) is not list or (self.upstream and (len(ids) != 1 or steps is not None)):
                    raise ValueError("advance: malformed" + self._upstream_note())
                if steps is None:
                    move_steps.extend([1] * len(ids))
                elif type(steps) is list and len(steps) == len(ids):
                    move_steps.extend(steps)  # checked below, with the ids, as whole arrays
                else:
                    raise ValueError("advance: one step count per branch")
                acted.add(row)
                waves.append((eid, "advance", row, ids, len(move_rows), steps is not None))
                move_rows.extend([row] * len(ids))
                move_cols.extend(ids)
            else:
                raise ValueError(f"unknown action {action!r}")
        # a row's prunes come before its wave in the message, so they are applied first
        if prune_at:
            mask = np.zeros(rows * width, dtype=bool)
            mask[prune_at] = True
            batch.prune(mask.reshape(rows, width))
        # then the waves, one per acting row
        r_idx = np.array(move_rows, dtype=np.int64)
        c_idx = np.array(move_cols, dtype=np.int64)
        ks = np.array(move_steps, dtype=np.int64)
        if len(c_idx) and ((c_idx < 0) | (c_idx >= width)).any():
            raise ValueError("advance: branch ids must be opened branches")
        taken_before = batch._intervals[r_idx, c_idx]
        charged_before = batch._charged[r_idx, c_idx]
        if spawn.any():
            batch.spawn(spawn)
        if read.any():
            batch.read_full(read)
            new = (np.arange(width) >= (batch._opened - read)[:, None]) & (np.arange(width) < batch._opened[:, None])
            self.whole |= new
        batch.advance_cells(r_idx, c_idx, ks)  # the episode rules, checked there
        moved = self._moved(r_idx, c_idx, taken_before, charged_before) if len(r_idx) else None
        obs = [self._observe(wave, moved) for wave in waves]
        for eid, row, answer, kind, text in finished:
            self.finish(eid, row, answer, kind, text)
        return obs

    def _upstream_note(self) -> str:
        return " (a published-harness controller acts on one branch per wave)" if self.upstream else ""

    def _moved(self, r_idx: np.ndarray, c_idx: np.ndarray, taken_before: np.ndarray, charged_before: np.ndarray):
        """Per advanced branch, in message order: latest answer, intervals taken, the finished ones'
        ``(position, charge)``, and the answers passed over by multi-interval advances (gathered at
        once for the whole message)."""
        batch = self.batch
        took = batch._intervals[r_idx, c_idx] - taken_before
        answers = self.vocab[batch._latest[r_idx, c_idx]].tolist()
        done = np.flatnonzero(batch._status[r_idx, c_idx] == FINISHED)
        paid = (batch._charged[r_idx[done], c_idx[done]] - charged_before[done]).tolist()
        charges = dict(zip(done.tolist(), paid, strict=True))
        passed: dict[int, list[str]] = {}
        multi = np.flatnonzero(took > 1)
        if len(multi):
            counts = took[multi] - 1
            src = np.repeat(batch._src[r_idx[multi], c_idx[multi]], counts)
            start = np.repeat(taken_before[multi], counts)
            within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            flat = self.vocab[batch._steps[src, start + within]].tolist()
            edges = np.concatenate(([0], np.cumsum(counts))).tolist()
            for k, at in enumerate(multi.tolist()):
                passed[at] = flat[edges[k] : edges[k + 1]]
        return answers, charges, took.tolist(), passed

    def _observe(self, wave: tuple, moved: Any) -> list:
        """What one wave revealed to its episode (and its trace entry)."""
        batch = self.batch
        eid, action, row = wave[:3]
        took = None
        if action == "advance":
            ids, first, multi = wave[3], wave[4], wave[5]
            end = first + len(ids)
            all_answers, all_charges, all_took, passed = moved
            answers = all_answers[first:end]
            ends = [[k - first, all_charges[k]] for k in range(first, end) if k in all_charges] if all_charges else []
            if multi:
                took = tuple(all_took[first:end])
                extra = [[k - first, passed[k]] for k in range(first, end) if k in passed] if passed else []
                reply = [0, answers, ends, list(took), extra]
            else:
                reply = [0, answers, ends]
            if self.traces is not None:
                costs = [all_charges.get(k, all_took[k] * self.probe_freq) for k in range(first, end)]
                self._trace(eid, (action, tuple(ids), tuple(answers), sum(costs), max(costs, default=0), took))
            return reply
        start, n = wave[3], wave[4]
        charges = batch._charged[row, start : start + n].tolist()
        answers = self.vocab[batch._latest[row, start : start + n]].tolist()
        if action == "spawn":
            done = (batch._status[row, start : start + n] == FINISHED).tolist()
            reply = [0, answers, [[p, c] for p, (c, d) in enumerate(zip(charges, done, strict=True)) if d]]
        else:
            reply = [0, answers, charges, batch._intervals[row, start : start + n].tolist()]
        if self.traces is not None:
            wave = (action, tuple(range(start, start + n)), tuple(answers), sum(charges), max(charges, default=0), None)
            self._trace(eid, wave)
        return reply

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
            if header.get("t") == protocol.PLAYED:
                break
            if header.get("t") != protocol.BATCH_OP:
                raise Violation("protocol", self.first_active(), "the controller's process sent an unexpected message")
            try:
                reply, out = self.apply(str(header.get("op")), arrays)
            except (EpisodeError, ValueError, TypeError, IndexError, KeyError) as exc:
                raise Violation(
                    "violation", self.first_active(), f"a batch action the rules do not allow: {exc}"[:300]
                ) from None
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

    def _array(self, arrays: dict, name: str, shape: tuple, kind: str) -> np.ndarray:
        array = arrays.get(name)
        if array is None or array.shape != shape or array.dtype.kind != kind:
            raise ValueError(f"'{name}' must be a {kind} array of shape {shape}")
        return array

    def apply(self, op: str, arrays: dict) -> tuple[dict, dict[str, np.ndarray]]:
        batch = self.batch
        rows, width = batch.rows, batch.width
        finished_before = batch._finished.copy()
        if op in ("spawn", "read_full"):
            counts = self._array(arrays, "counts", (rows,), "i")
            opened = batch._opened.copy()
            getattr(batch, op)(counts)
            ids = np.arange(width)
            changed = (ids >= opened[:, None]) & (ids < batch._opened[:, None])
        elif op == "advance":
            steps = self._array(arrays, "steps", (rows, width), "i")
            order = self._array(arrays, "order", (rows, width), "i") if "order" in arrays else None
            batch.advance(steps, order)
            changed = steps != 0
        elif op == "prune":
            mask = self._array(arrays, "mask", (rows, width), "b")
            batch.prune(mask)
            return {}, {}
        elif op == "stop":
            mask = self._array(arrays, "rows", (rows,), "b")
            shown = self._array(arrays, "answers", (rows,), "i")
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
    env.retire_runner()
    outbox.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
