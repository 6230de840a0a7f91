"""A sandbox worker: plays blocks of episodes for untrusted controllers in a fresh interpreter.

Started by :mod:`autotts.evaluation.sandbox` as ``python -m autotts.evaluation.sandbox_worker``
with its scratch folder as working directory. Protocol: the parent (trusted) sends length-prefixed
pickle frames on stdin (a setup frame with gold-free stores and candidate sources, then commands);
the worker answers with one JSON object per line on the stdout it inherited (JSON, so the parent
never unpickles anything a candidate could have shaped). The candidate's own prints go to a log in
the scratch folder.

Each block executes the candidate's module afresh (so nothing carries over between blocks and the
results do not depend on which worker ran what), reseeds ``random`` and ``numpy.random``, and
checks after every episode that the accounting is honest: each opened branch's charge must be the
one its intervals imply, the charges must add up to ``episode.tokens``, and no more branches than
the ceiling may be open. These checks read the episode through functions captured before any
candidate code ran. A block played through a candidate's optional ``run_batch`` (one lockstep
:class:`~autotts.env.batch.EpisodeBatch`, when no traces are wanted) gets the same checks on every row,
from the branch states each row had when it stopped, against the store itself.
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import random
import resource
import signal
import struct
import sys
import traceback
import types
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..controllers import base as controllers_base
from ..controllers import votes as controllers_votes
from ..controllers.base import Controller, get_controller_class
from ..controllers.loading import UPSTREAM_POOL, UpstreamController, controller_classes_in
from ..env import core as env_core
from ..env.batch import EpisodeBatch
from ..env.core import DEFAULT_MAX_BRANCHES, Episode, branch_order
from ..env.trace import trace_records
from ..env.upstream import UpstreamQuestion
from .sandbox_guard import (
    BUILTINS,
    Guard,
    Integrity,
    apply_limits,
    die_with_parent,
    disarm_process_spawning,
    install_seccomp,
    python_roots,
    seal_against_copies,
)

CANDIDATE_MODULE = "autotts_candidate"
WHERE_EXIT_CODE = 70  # the worker reported where it was stopped
MAX_ERROR_CHARS = 600
HARNESS_FILES = frozenset({__file__, str(Path(__file__).with_name("sandbox_guard.py"))})

# accounting readers captured before any candidate code runs (a later patch of Episode cannot redirect them)
_opened = vars(Episode)["opened"].fget
_intervals = vars(Episode)["intervals"]
_charged = vars(Episode)["branch_tokens"]
_tokens = vars(Episode)["tokens"].__get__
_latency = vars(Episode)["latency_tokens"].__get__
_order = branch_order
_max = max
_sum = sum
_batch_results = EpisodeBatch.results
_batch_branches = EpisodeBatch.final_branches
_base_run_batch = Controller.run_batch


class Worker:
    def __init__(self, setup: dict, outbox: Any, guard: Guard, harness_section: Callable[[], Any]):
        self.stores = setup["stores"]
        self.candidates = setup["candidates"]
        self.outbox = outbox
        self.guard = guard
        self.harness_section = harness_section
        self.where: list[Any] = [None, None, None]  # store, seed, question of the running episode
        self.code = {ref: compile(c["source"], c["filename"], "exec") for ref, c in self.candidates.items()}
        self.integrity = Integrity(
            {
                "builtins": BUILTINS,
                "Episode": Episode,
                "UpstreamQuestion": UpstreamQuestion,
                "Controller": Controller,
                "autotts.env.core": env_core,
                "autotts.controllers.base": controllers_base,
                "autotts.controllers.votes": controllers_votes,
            },
            every_episode=("builtins", "Episode"),
        )

    # ------------------------------------------------------------------ messages

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

    # ------------------------------------------------------------------ loading candidates

    def controller_class(self, ref: str) -> tuple[type[Controller], int]:
        """A fresh class for ``ref`` (its module executed anew) and the branch ceiling to enforce."""
        if ref not in self.code:  # a registry name: trusted built-in code
            cls = get_controller_class(ref)
            return cls, cls.max_branches
        module = types.ModuleType(CANDIDATE_MODULE)
        module.__file__ = self.candidates[ref]["filename"]
        sys.modules[CANDIDATE_MODULE] = module
        exec(self.code[ref], vars(module))
        class_name = self.candidates[ref]["class_name"]
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
            # a candidate does not choose its own ceiling: the 64-branch rule holds for every file
            return cls, DEFAULT_MAX_BRANCHES
        if callable(getattr(cls, "solve", None)):
            wrapper = type(cls.__name__, (UpstreamController,), {"method_class": cls, "name": cls.__name__})
            return wrapper, UPSTREAM_POOL
        raise LookupError(f"{cls.__name__} is neither a Controller nor has solve(question)")

    # ------------------------------------------------------------------ blocks

    def play_block(self, job: dict) -> dict:
        store = self.stores[job["store"]]
        seed_lo, seed_hi = job["seed_lo"], job["seed_hi"]
        n_seeds, n_questions = seed_hi - seed_lo, len(store.questions)
        answers: list[list[str | None]] = [[None] * n_questions for _ in range(n_seeds)]
        tokens = [[0] * n_questions for _ in range(n_seeds)]
        latency = [[0] * n_questions for _ in range(n_seeds)]
        failures: list[dict] = []
        traces: list[dict] = []
        result = {"t": "block", "id": job["id"], "nonce": job["nonce"], "answers": answers, "tokens": tokens}
        result["latency"] = latency
        result.update(failures=failures, traces=traces)

        def fail(kind: str, seed: int, question: int, error: str) -> None:
            failures.append({"kind": kind, "seed": seed, "question": question, "error": error[:MAX_ERROR_CHARS]})

        self.where[:] = [job["store"], seed_lo, -1]
        tag = f"{job['store']}|{job['beta']!r}|{seed_lo}"
        reseed(tag)
        seeds = list(range(seed_lo, seed_hi))
        questions = list(enumerate(store.questions))
        if job.get("reverse"):  # validation plays a block backwards: results must not depend on the order
            seeds.reverse()
            questions.reverse()
        seed_each_episode = job.get("seed_each_episode", False)
        try:
            cls, ceiling = self.controller_class(job["ref"])
            controller = cls(job["beta"], **dict(job["overrides"]))
        except BaseException as exc:  # noqa: BLE001 - the candidate's constructor may raise anything
            fail(self.kind_of(exc), seed_lo, -1, "building the controller failed: " + self.describe(exc))
            return self.finish(result)
        batched = not (job["want_traces"] or job.get("reverse") or seed_each_episode)
        if batched and getattr(cls, "run_batch", _base_run_batch) is not _base_run_batch:
            return self.play_batch(result, controller, store, seeds, ceiling, fail)
        for seed in seeds:
            row = seed - seed_lo
            self.where[1] = seed
            for q, question in questions:
                self.where[2] = q
                if seed_each_episode:
                    reseed(f"{tag}|{seed}|{q}")
                episode = Episode(question, seed, max_branches=ceiling)
                answer = None
                try:
                    answer = controller.run(episode)
                    if answer is not None and type(answer) is not str:
                        raise TypeError(f"run() returned {type(answer).__name__}, expected str or None")
                except BaseException as exc:  # noqa: BLE001 - SystemExit and friends are failures too
                    answer = None
                    fail(self.kind_of(exc), seed, q, self.describe(exc))
                answers[row][q] = answer
                tokens[row][q] = _tokens(episode)
                latency[row][q] = _latency(episode)
                problem = self.violation(episode, question, seed, ceiling)
                if problem:
                    answers[row][q] = None
                    fail("violation", seed, q, problem)
                if job["want_traces"]:
                    traces.append(self.trace(job, seed, q, answer, episode))
                if failures and failures[-1]["kind"] in ("violation", "memory"):
                    return self.finish(result)  # the worker may be compromised: stop here
        problem = self.integrity.problem()
        if problem:
            fail("violation", seed_hi - 1, n_questions - 1, problem)
        return self.finish(result)

    def play_batch(
        self, result: dict, controller: Controller, store: Any, seeds: list[int], ceiling: int, fail
    ) -> dict:
        """The block through the candidate's ``run_batch``: one lockstep batch of every question and
        seed, then the same checks as per episode, on every row."""
        batch = EpisodeBatch(store.questions, seeds, max_branches=ceiling)
        try:
            controller.run_batch(batch)
            answers, tokens, latency = _batch_results(batch)
        except BaseException as exc:  # noqa: BLE001 - SystemExit and friends are failures too
            fail(self.kind_of(exc), seeds[0], -1, "run_batch: " + self.describe(exc))
            return self.finish(result)
        denials = self.guard.take_denials()
        problem = ("sandbox violation: " + "; ".join(dict.fromkeys(denials))) if denials else None
        problem = problem or self.integrity.problem()
        where = (seeds[0], -1)
        if problem is None:
            intervals, charged = _batch_branches(batch)
            found = batch_accounting_problem(store, seeds, ceiling, intervals, charged, tokens, latency)
            if found:
                *where, problem = found
        if problem:
            fail("violation", where[0], where[1], problem)
            return self.finish(result)
        for k, answer in enumerate(answers):  # rows are question-major
            q, row = divmod(k, len(seeds))
            result["answers"][row][q] = answer
            result["tokens"][row][q] = int(tokens[k])
            result["latency"][row][q] = int(latency[k])
        return self.finish(result)

    def finish(self, result: dict) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["cpu"] = usage.ru_utime + usage.ru_stime
        return result

    def violation(self, episode: Episode, question: Any, seed: int, ceiling: int) -> str | None:
        """What the sandbox caught during this episode, or a dishonest account of its costs."""
        denials = self.guard.take_denials()
        if denials:
            return "sandbox violation: " + "; ".join(dict.fromkeys(denials))
        problem = self.integrity.quick_problem()
        if problem:
            return "sandbox violation: " + problem
        return accounting_problem(episode, question, seed, ceiling)

    def trace(self, job: dict, seed: int, q: int, answer: str | None, episode: Episode) -> dict:
        return {
            "controller": job["label"],
            "beta": job["beta"],
            "store": job["store"],
            "seed": seed,
            "question": q,
            "answer": answer,
            "tokens": _tokens(episode),
            "latency_tokens": _latency(episode),
            "trace": trace_records(episode.trace),
        }

    # ------------------------------------------------------------------ inspection (validation)

    def inspect(self, job: dict) -> dict:
        """What validation needs to know about a file, found by executing it here, not in the parent."""
        out: dict[str, Any] = {"t": "inspect", "id": job["id"], "errors": []}
        try:
            module = types.ModuleType(CANDIDATE_MODULE)
            sys.modules[CANDIDATE_MODULE] = module
            exec(self.code[job["ref"]], vars(module))
            own = [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == CANDIDATE_MODULE]
            natives = [c for c in own if issubclass(c, Controller)]
            out["controllers"] = [c.__name__ for c in natives]
            out["upstream"] = [c.__name__ for c in own if c not in natives and callable(getattr(c, "solve", None))]
            if len(natives) == 1:
                out.update(describe_class(natives[0], job["betas"], self.describe, self.harness_section))
        except BaseException as exc:  # noqa: BLE001
            out["errors"].append("importing the file failed: " + self.describe(exc))
        denials = self.guard.take_denials()
        if denials:
            out["errors"].append("sandbox violation: " + "; ".join(dict.fromkeys(denials)))
        return out

    # ------------------------------------------------------------------ errors

    @staticmethod
    def kind_of(exc: BaseException) -> str:
        if isinstance(exc, MemoryError):
            return "memory"
        if isinstance(exc, PermissionError) and str(exc).startswith("sandbox:"):
            return "violation"
        return "error"

    def describe(self, exc: BaseException) -> str:
        """``Type: message`` plus where in the candidate it happened (frames read with the hook lifted)."""
        try:
            text = f"{type(exc).__name__}: {exc}"
        except BaseException:  # noqa: BLE001 - a candidate's __str__ may raise
            text = type(exc).__name__
        tb = exc.__traceback__
        with self.harness_section():
            frames = traceback.StackSummary.extract(traceback.walk_tb(tb), lookup_lines=False)
            # the candidate's frames (and the library's), not the harness's own
            places = [
                f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames if f.filename not in HARNESS_FILES
            ]
            places = places[-3:]
        del tb
        return text + (f" (at {' <- '.join(reversed(places))})" if places else "")


def reseed(tag: str) -> None:
    """Seed the global generators a controller may use, from the work's identity (not the worker's)."""
    random.seed(tag)
    np.random.seed(zlib.crc32(tag.encode()))


def accounting_problem(episode: Episode, question: Any, seed: int, ceiling: int) -> str | None:
    """None when every charge follows the episode rules (DESIGN §3), else what does not add up."""
    opened = _opened(episode)
    if opened > ceiling:
        return f"opened {opened} branches, above the ceiling of {ceiling}"
    pool = question.branches
    order = _order(seed, len(pool))
    freq = question.probe_freq
    total = widest = 0
    for i in range(opened):
        branch = pool[order[i]]
        taken, charged = _intervals(episode, i), _charged(episode, i)
        if taken <= branch.probes:
            honest = charged == taken * freq
        else:  # finished: read whole, or advanced to its end
            honest = taken == branch.probes + 1 and charged in (
                branch.tokens,
                _max(branch.probes * freq, branch.tokens),
            )
        if not honest:
            return f"accounting: branch {i} was charged {charged} tokens for {taken} intervals"
        total += charged
        widest = _max(widest, charged)
    tokens, latency = _tokens(episode), _latency(episode)
    if tokens != total:
        return f"accounting: episode reports {tokens} tokens but its branches were charged {total}"
    if not widest <= latency <= total:
        return f"accounting: latency {latency} is outside [{widest}, {total}]"
    return None


def batch_accounting_problem(
    store: Any,
    seeds: list[int],
    ceiling: int,
    intervals: np.ndarray,
    charged: np.ndarray,
    tokens: np.ndarray,
    latency: np.ndarray,
) -> tuple[int, int, str] | None:
    """:func:`accounting_problem` for every row of a batch (rows question-major), from the branch
    states the batch kept when each row stopped, checked against the store itself: ``(seed,
    question, what does not add up)`` of the first dishonest row, or None."""
    width = intervals.shape[1]
    orders = np.array([_order(seed, len(store.questions[0].branches))[:width] for seed in seeds])
    for q, question in enumerate(store.questions):
        rows = slice(q * len(seeds), (q + 1) * len(seeds))
        taken, paid = intervals[rows], charged[rows]
        probes = np.array([b.probes for b in question.branches])[orders]
        length = np.array([b.tokens for b in question.branches])[orders]
        freq = question.probe_freq
        opened = taken > 0
        honest = np.where(
            taken <= probes,
            paid == taken * freq,
            (taken == probes + 1) & ((paid == length) | (paid == np.maximum(probes * freq, length))),
        )
        # ids are opened in order, so an opened branch never follows an unopened one
        in_order = ~(opened[:, 1:] & ~opened[:, :-1]).any(axis=1)
        total, widest = paid.sum(axis=1), paid.max(axis=1)
        bad = (~honest.all(axis=1)) | (~in_order) | (opened.sum(axis=1) > ceiling)
        bad |= (tokens[rows] != total) | (latency[rows] < widest) | (latency[rows] > total)
        if bad.any():
            row = int(np.argmax(bad))
            charges = paid[row][opened[row]].tolist()
            shown = ", ".join(map(str, charges[:8])) + (", ..." if len(charges) > 8 else "")
            return (
                seeds[row],
                q,
                f"accounting: {int(tokens[rows][row])} tokens and latency {int(latency[rows][row])} reported "
                f"for branch charges [{shown}] (sum {sum(charges)})",
            )
    return None


def describe_class(cls: type, betas: list[float], describe: Callable[[BaseException], str], harness_section) -> dict:
    """Constructor signature, ceiling, schedules (two passes over the β grid) and construction errors."""
    init = cls.__init__
    out: dict[str, Any] = {"class": cls.__name__, "inherits_init": init is Controller.__init__}
    out["has_run"] = getattr(cls, "run", None) is not Controller.run
    out["has_run_batch"] = getattr(cls, "run_batch", None) is not Controller.run_batch
    out["init"] = None
    if type(init) is types.FunctionType:  # only a plain function: reading it runs no candidate code
        with harness_section():  # reading __code__ is an audited event
            out["init"] = function_parameters(init)
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


def function_parameters(function: types.FunctionType) -> list[dict]:
    """Parameters after ``self`` as ``{"name", "kind", "default"}`` (``inspect.Parameter`` kind names)."""
    code = function.__code__
    names = code.co_varnames
    positional, keyword_only = code.co_argcount, code.co_kwonlyargcount
    defaults = len(function.__defaults__ or ())
    kw_defaults = function.__kwdefaults__ or {}
    params = []
    for i in range(positional):
        kind = "POSITIONAL_ONLY" if i < code.co_posonlyargcount else "POSITIONAL_OR_KEYWORD"
        params.append({"name": names[i], "kind": kind, "default": i >= positional - defaults})
    index = positional + keyword_only
    if code.co_flags & inspect.CO_VARARGS:
        params.append({"name": names[index], "kind": "VAR_POSITIONAL", "default": True})
        index += 1
    for name in names[positional : positional + keyword_only]:
        params.append({"name": name, "kind": "KEYWORD_ONLY", "default": name in kw_defaults})
    if code.co_flags & inspect.CO_VARKEYWORDS:
        params.append({"name": names[index], "kind": "VAR_KEYWORD", "default": True})
    return params[1:]


# ---------------------------------------------------------------- process entry


def read_frame(inbox: Any) -> Any:
    header = inbox.read(8)
    if len(header) < 8:
        return None
    (size,) = struct.unpack("<Q", header)
    return pickle.loads(inbox.read(size))  # from the trusted parent only


def preload() -> None:
    """Import what candidates may use before the hook is installed (so imports need no new files)."""
    import bisect  # noqa: F401
    import collections  # noqa: F401
    import dataclasses  # noqa: F401
    import fractions  # noqa: F401
    import functools  # noqa: F401
    import heapq  # noqa: F401
    import itertools  # noqa: F401
    import math  # noqa: F401
    import statistics  # noqa: F401

    import scipy.special  # noqa: F401
    import scipy.stats  # noqa: F401


def main() -> None:
    inbox = sys.stdin.buffer
    outbox = os.fdopen(os.dup(1), "wb")
    log = os.open("worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)  # candidate prints go to the log, never into the result stream
    os.dup2(log, 2)
    setup = read_frame(inbox)
    die_with_parent(setup["parent_pid"])
    if any(q.gold is not None for store in setup["stores"].values() for q in store.questions):
        raise SystemExit("refusing to run: a store with gold answers was sent to a sandbox worker")
    preload()
    limits = setup["limits"]
    apply_limits(limits["cpu_seconds"], limits["memory_mb"])
    guard = Guard(Path.cwd(), python_roots(), setup["denied_roots"])
    disarm_process_spawning(guard.deny)
    seal_against_copies((Episode, UpstreamQuestion), guard.deny)
    seccomp = install_seccomp()
    harness_section = guard.install()
    worker = Worker(setup, outbox, guard, harness_section)
    signal.signal(signal.SIGUSR1, worker.report_where)
    worker.send({"t": "ready", "pid": os.getpid(), "seccomp": seccomp})
    while True:
        command = read_frame(inbox)
        if command is None or command[0] == "stop":
            break
        kind, job = command
        worker.send(worker.play_block(job) if kind == "block" else worker.inspect(job))
    outbox.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
