"""The parent side of the sandbox: trusted environment processes that play untrusted controllers.

:class:`SandboxPool` starts environment processes (:mod:`.environment`: fresh interpreters with an
empty environment that receive the stores **without gold**; the parent scores) and streams blocks of
episodes to them. Each environment process starts the candidate runner behind the OS boundary
(:mod:`.boundary`) and plays the real episodes for it (:mod:`.protocol`). Environment processes are
killed (their whole process group, and with them the sandbox) when a block overruns
``wall_seconds``. Each block executes the candidate's module afresh and reseeds
``random``/``numpy.random``, so results do not depend on ``jobs`` or on which process ran which block.

**How failures are reported.** Nothing is raised for a misbehaving controller: every problem is a
:class:`SandboxFailure` in ``CellResult.failures`` with its ``kind``, store, question and seed.
``kind == "error"`` is an ordinary exception in ``run()`` (that episode counts as wrong, as in
:func:`~autotts.evaluation.evaluate`). Every other kind (``violation``: an action or answer the rules
forbid; ``timeout``, ``memory``, ``crash``, ``rejected``: the file does not compile; ``protocol``: the
controller's process broke the protocol) *stops* the controller: its remaining blocks are not run and
**every** cell of that controller comes back failed (no correct answers, zero costs), so a result never
depends on how far it got. :func:`stopped` finds those; :func:`raise_for_stops` raises
:class:`SandboxViolation`. :class:`SandboxError` means the sandbox itself could not run;
:class:`SandboxUnavailable` that the OS boundary cannot be built here (nothing is run then).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.lookup import load_store
from ..evaluation.executors import default_jobs
from ..evaluation.runner import Block, CellResult, EpisodeFailure, plan_blocks, score
from ..evaluation.spec import Cell
from . import boundary
from .boundary import SandboxError, SandboxUnavailable
from .results import ProtocolError, parse_block

WORKER_MODULE = "autotts.sandbox.environment"
STARTUP_SECONDS = 120.0  # importing numpy and scipy on a loaded machine
GRACE_SECONDS = 1.0  # after SIGUSR1, how long a stopped worker may take to say where it was
STOPPING_KINDS = frozenset({"violation", "timeout", "memory", "crash", "rejected", "protocol", "skipped"})


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for untrusted controller code."""

    cpu_seconds: float = 600.0  # per candidate process (it is replaced before it runs out)
    wall_seconds: float = 120.0  # per block (25 seeds of one cell) or per inspection
    memory_mb: int = 2048  # address space of the candidate process
    scratch_mb: int = 64  # total size of its scratch folder


@dataclass
class SandboxFailure(EpisodeFailure):
    """An :class:`EpisodeFailure` with its kind: ``error`` (run() raised; the episode counts as
    wrong) or a kind that stopped the controller (see :data:`STOPPING_KINDS`)."""

    kind: str = "error"

    def __str__(self) -> str:
        if self.kind == "error":
            return super().__str__()
        where = f"{self.store}" + (f" question {self.question}" if self.question >= 0 else "")
        where += f" seed {self.seed}" if self.seed >= 0 else ""
        return f"{self.controller} (β={self.beta:g}) stopped ({self.kind}) on {where}: {self.error}"


class SandboxViolation(RuntimeError):
    """Raised by :func:`raise_for_stops` when a controller was stopped by the sandbox."""

    def __init__(self, failure: SandboxFailure):
        super().__init__(str(failure))
        self.failure = failure


def stopped(results: Sequence[CellResult]) -> SandboxFailure | None:
    """The failure that stopped a controller in ``results``, if any (the first, in cell order)."""
    for result in results:
        for failure in result.failures:
            if isinstance(failure, SandboxFailure) and failure.kind in STOPPING_KINDS and failure.kind != "skipped":
                return failure
    return None


def raise_for_stops(results: Sequence[CellResult]) -> None:
    failure = stopped(results)
    if failure is not None:
        raise SandboxViolation(failure)


def is_file_ref(ref: str) -> bool:
    return ref.endswith(".py") or ".py:" in ref


def split_file_ref(ref: str) -> tuple[Path, str | None]:
    path, sep, class_name = ref.rpartition(":") if ".py:" in ref else (ref, "", "")
    return Path(path if sep else ref), (class_name or None)


def evaluate_sandboxed(
    cells: Sequence[Cell],
    *,
    jobs: int | None = None,
    limits: SandboxLimits = SandboxLimits(),
    want_traces: bool = False,
    scratch: Path | None = None,
    on_block: Callable[[Block], None] | None = None,
) -> list[CellResult]:
    """Evaluate cells with every controller run behind the sandbox; results in the order of ``cells``.
    Registry names (built-in controllers) run there too. See the module docstring for how failures
    are reported. Raises :class:`SandboxUnavailable` when the OS boundary cannot be built."""
    refs = list(dict.fromkeys(c.controller.ref for c in cells))
    stores = list(dict.fromkeys(c.store for c in cells))
    with SandboxPool(refs, stores, jobs=jobs, limits=limits, scratch=scratch) as pool:
        return pool.evaluate(cells, want_traces=want_traces, on_block=on_block)


class SandboxPool:
    """Environment processes (each with its candidate process behind the boundary) for a fixed set of
    controller references and stores, started on demand."""

    def __init__(
        self,
        refs: Sequence[str],
        stores: Sequence[str],
        *,
        jobs: int | None = None,
        limits: SandboxLimits = SandboxLimits(),
        scratch: Path | None = None,
    ):
        boundary.require()  # never fail open: without the boundary, nothing untrusted runs
        self.limits = limits
        self.jobs = max(1, jobs or default_jobs())
        self.own_scratch = scratch is None
        self.scratch = Path(tempfile.mkdtemp(prefix="autotts-sandbox-")) if scratch is None else Path(scratch)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.rejected: dict[str, str] = {}
        candidates = {}
        for ref in refs:
            if is_file_ref(ref):
                candidate, problem = _read_candidate(ref)
                if problem:
                    self.rejected[ref] = problem
                else:
                    candidates[ref] = candidate
        try:
            self.golds = {name: [q.gold for q in load_store(name).questions] for name in stores}
            gold_free = {name: load_store(name).without_gold() for name in stores}
        except (LookupError, ValueError) as exc:
            raise SandboxError(str(exc)) from None
        setup = {
            "stores": gold_free,
            "candidates": candidates,
            "parent_pid": os.getpid(),
            "limits": {
                "cpu_seconds": limits.cpu_seconds,
                "memory_mb": limits.memory_mb,
                "scratch_mb": limits.scratch_mb,
            },
        }
        self.setup_frame = _frame(setup)
        self.events: queue.Queue = queue.Queue()
        # CPU seconds the candidate processes reported: their time is not in this process's
        # RUSAGE_CHILDREN (they live below bubblewrap), so benchmarks add it (measurement only)
        self.candidate_cpu = 0.0
        self.workers: list[_Worker] = []
        self.spawned = 0

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers.clear()
        if self.own_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    # ------------------------------------------------------------------ workers

    def _spawn(self) -> _Worker:
        folder = self.scratch / f"worker-{self.spawned}"
        worker = _Worker(folder, self.setup_frame, self.events, self.limits.wall_seconds)
        self.spawned += 1
        self.workers.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.stop()
        if worker in self.workers:
            self.workers.remove(worker)

    def _next_event(self, timeout: float) -> tuple[_Worker, dict | None] | None:
        try:
            return self.events.get(timeout=max(0.01, timeout))
        except queue.Empty:
            return None

    def _await_ready(self, worker: _Worker) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not worker.ready:
            event = self._next_event(deadline - time.monotonic())
            if event is None and time.monotonic() > deadline:
                raise SandboxError(f"a sandbox worker did not start within {STARTUP_SECONDS:g} s")
            if event is not None:
                self._handle_startup(*event)

    def _handle_startup(self, worker: _Worker, message: dict | None) -> None:
        if message is None:
            log = worker.log_tail()
            self._retire(worker)
            raise SandboxError(f"a sandbox worker exited during startup: {log or 'no output'}")
        if message.get("t") == "unavailable":
            self._retire(worker)
            raise SandboxUnavailable(f"cannot run untrusted code: {message.get('error')}")
        if message.get("t") == "ready":
            worker.ready = True

    # ------------------------------------------------------------------ inspection

    def inspect(self, ref: str, betas: Sequence[float]) -> dict:
        """Load ``ref`` in a worker and describe it (see :func:`.runner.describe_class`)."""
        if ref in self.rejected:
            return {"rejected": self.rejected[ref]}
        worker = next((w for w in self.workers if w.ready and w.job is None), None) or self._spawn()
        self._await_ready(worker)
        worker.assign(("inspect", {"id": -1, "ref": ref, "betas": list(betas)}), None)
        deadline = time.monotonic() + self.limits.wall_seconds
        while True:
            event = self._next_event(deadline - time.monotonic())
            if event is None:
                if time.monotonic() > deadline:
                    self._retire(worker)
                    return {"stopped": f"loading the file took longer than {self.limits.wall_seconds:g} s"}
                continue
            who, message = event
            if who is not worker:
                if message is not None and message.get("t") == "ready":
                    who.ready = True  # another worker finished starting meanwhile
                continue
            if message is None:
                code = worker.returncode()
                self._retire(worker)
                return {"stopped": f"the worker died while loading the file ({_death(code)})"}
            if message.get("t") == "inspect":
                worker.job = None
                if message.get("errors"):
                    self._retire(worker)  # it ran hostile code: do not reuse it
                return message

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self,
        cells: Sequence[Cell],
        *,
        want_traces: bool = False,
        on_block: Callable[[Block], None] | None = None,
        reverse: bool = False,
        seed_each_episode: bool = False,
    ) -> list[CellResult]:
        """Evaluate cells (results in their order). ``reverse`` plays each block's episodes backwards and
        ``seed_each_episode`` reseeds ``random``/``numpy.random`` before every episode (validation uses
        both to check that episodes are independent; they cost time, so evaluations leave them off)."""
        options = {"reverse": reverse, "seed_each_episode": seed_each_episode}
        run = _Run(self, cells, want_traces, on_block, options)
        run.execute()
        return run.results()


class _Run:
    """One evaluation: streams blocks to workers, enforces wall time, collects and scores."""

    def __init__(
        self, pool: SandboxPool, cells: Sequence[Cell], want_traces: bool, on_block: Callable | None, options: dict
    ):
        self.pool = pool
        self.cells = list(cells)
        self.on_block = on_block
        self.blocks: dict[int, list[Block]] = {}
        self.stops: dict[str, SandboxFailure] = {}  # controller ref -> what stopped it
        for ref, problem in pool.rejected.items():
            cell = next((c for c in self.cells if c.controller.ref == ref), None)
            if cell is not None:
                self.stops[ref] = _failure(cell, "rejected", -1, -1, problem)
        self.pending = deque(
            {
                "id": k,
                "cell": i,
                "ref": self.cells[i].controller.ref,
                "label": self.cells[i].controller.display,
                "overrides": list(self.cells[i].controller.overrides),
                "beta": self.cells[i].beta,
                "store": self.cells[i].store,
                "seed_lo": lo,
                "seed_hi": hi,
                "want_traces": want_traces,
                **options,
            }
            for k, (i, lo, hi) in enumerate(plan_blocks(self.cells))
        )

    def execute(self) -> None:
        pool = self.pool
        try:
            while True:
                self._skip_stopped()
                busy = [w for w in pool.workers if w.job is not None]
                if not self.pending and not busy:
                    return
                self._staff()
                event = pool._next_event(self._wait_time())
                if event is not None:
                    self._handle(*event)
                self._enforce_wall_time()
        finally:
            for worker in list(pool.workers):
                if worker.job is not None:
                    pool._retire(worker)

    def _staff(self) -> None:
        """Start workers up to ``jobs`` while there is work, and give idle ready workers a block."""
        pool = self.pool
        while self.pending and len(pool.workers) < min(pool.jobs, len(self.pending) + self._busy()):
            pool._spawn()
        for worker in list(pool.workers):
            if worker.ready and worker.job is None and self.pending:
                if worker.cpu > pool.limits.cpu_seconds / 2:  # replace it before RLIMIT_CPU would kill it
                    pool._retire(worker)
                    continue
                job = self.pending.popleft()
                worker.assign(("block", job), job)

    def _busy(self) -> int:
        return sum(1 for w in self.pool.workers if w.job is not None)

    def _wait_time(self) -> float:
        deadlines = [w.deadline for w in self.pool.workers if w.job is not None]
        return min(deadlines) - time.monotonic() if deadlines else 1.0

    def _handle(self, worker: _Worker, message: dict | None) -> None:
        pool = self.pool
        if message is None:  # the worker exited
            job = worker.job
            if job is not None:
                kind, text = ("timeout", worker.timeout_text) if worker.timeout_text else ("crash", None)
                text = text or f"the worker died ({_death(worker.returncode())}); log: {worker.log_tail() or '-'}"
                store, seed, question = worker.where or (job["store"], job["seed_lo"], -1)
                self._stop(job, kind, seed, question, text)
            elif not worker.ready:
                pool._handle_startup(worker, None)
            pool._retire(worker)
            return
        kind = message.get("t")
        if kind in ("ready", "unavailable"):
            pool._handle_startup(worker, message)
        elif kind == "garbage" and worker.job is not None and "inspect" not in worker.job:
            job, worker.job = worker.job, None  # something wrote into the result stream: trust nothing more
            self._stop(job, "protocol", job["seed_lo"], -1, "the worker's result stream was corrupted")
            pool._retire(worker)
        elif kind == "where":
            worker.where = (message.get("store"), _int(message.get("seed")), _int(message.get("question")))
        elif kind == "block" and worker.job is not None:
            job, worker.job = worker.job, None
            try:
                block, failures = parse_block(message, job, len(pool.golds[job["store"]]))
            except ProtocolError as exc:
                self._stop(job, "protocol", job["seed_lo"], -1, str(exc))
                pool._retire(worker)
                return
            cpu = float(message.get("cpu") or 0.0)  # the candidate process's, as it reports it (for recycling)
            pool.candidate_cpu += cpu - worker.cpu if cpu >= worker.cpu else cpu  # lower: a new process
            worker.cpu = cpu
            cell = self.cells[job["cell"]]
            block.failures = [_failure(cell, f["kind"], f["seed"], f["question"], f["error"]) for f in failures]
            self._collect(block)
            stop = next((f for f in block.failures if f.kind in STOPPING_KINDS), None)
            if stop is not None:
                self.stops.setdefault(job["ref"], stop)
                pool._retire(worker)  # it ran hostile code: do not reuse it

    def _enforce_wall_time(self) -> None:
        now = time.monotonic()
        for worker in list(self.pool.workers):
            if worker.job is None or now < worker.deadline:
                continue
            if worker.timeout_text is None:  # first ask where it is, then kill it
                worker.timeout_text = f"exceeded the wall-clock limit of {self.pool.limits.wall_seconds:g} s"
                worker.signal(signal.SIGUSR1)
                worker.deadline = now + GRACE_SECONDS
            else:
                worker.signal(signal.SIGKILL)
                worker.deadline = now + 5.0

    def _stop(self, job: dict, kind: str, seed: int, question: int, text: str) -> None:
        cell = self.cells[job["cell"]]
        failure = _failure(cell, kind, seed, question, text)
        self.stops.setdefault(job["ref"], failure)
        self._collect(_empty_block(job, len(self.pool.golds[job["store"]]), [failure]))

    def _skip_stopped(self) -> None:
        kept = deque()
        for job in self.pending:
            if job["ref"] in self.stops:
                self._collect(_empty_block(job, len(self.pool.golds[job["store"]]), []))
            else:
                kept.append(job)
        self.pending = kept

    def _collect(self, block: Block) -> None:
        self.blocks.setdefault(block.cell_index, []).append(block)
        if self.on_block:
            self.on_block(block)

    def results(self) -> list[CellResult]:
        out = []
        for i, cell in enumerate(self.cells):
            golds = self.pool.golds[cell.store]
            stop = self.stops.get(cell.controller.ref)
            if stop is not None:
                out.append(_stopped_result(cell, len(golds), stop))
            else:
                out.append(score(cell, self.blocks[i], golds))
        return out


# ---------------------------------------------------------------- one worker process


class _Worker:
    """One environment process, seen from the parent."""

    def __init__(self, folder: Path, setup_frame: bytes, events: queue.Queue, wall_seconds: float):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.ready = False
        self.job: dict | None = None
        self.deadline = float("inf")
        self.timeout_text: str | None = None
        self.where: tuple | None = None
        self.cpu = 0.0
        self.wall_seconds = wall_seconds
        with open(folder / "environment.stderr.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-s", "-P", "-m", WORKER_MODULE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=folder,
                env=_worker_env(folder),
                start_new_session=True,  # its own process group, killed as a whole
            )
        # the setup frame (stores: megabytes) is written from the thread, so starting several workers
        # overlaps their interpreter start-up instead of waiting for each to import numpy and scipy
        self.reader = threading.Thread(target=self._read, args=(events, setup_frame), daemon=True)
        self.reader.start()

    def _read(self, events: queue.Queue, setup_frame: bytes) -> None:
        self._write(setup_frame)
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                message = {"t": "garbage"}
            events.put((self, message if isinstance(message, dict) else {"t": "garbage"}))
        self.process.wait()
        events.put((self, None))

    def _write(self, data: bytes) -> bool:
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def assign(self, command: tuple, job: dict | None) -> None:
        self.job = job if job is not None else {"inspect": True}
        self.where = None
        self.timeout_text = None
        self.deadline = time.monotonic() + self.wall_seconds
        self._write(_frame(command))

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.job is None and self._write(_frame(("stop",))):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=2)
            self.signal(signal.SIGKILL)  # the whole group, whatever it managed to start
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()

    def returncode(self) -> int | None:
        try:
            return self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None

    def log_tail(self, chars: int = 400) -> str:
        texts = []
        for name in ("environment.stderr.log", "environment.log", "candidate.log"):
            path = self.folder / name
            if path.is_file():
                texts.append(path.read_bytes()[-chars:].decode("utf-8", "replace").strip())
        return " | ".join(t for t in texts if t)[-chars:]


# ---------------------------------------------------------------- helpers


def _read_candidate(ref: str) -> tuple[dict, str | None]:
    """The file's source, or why it cannot be run (unreadable, does not compile: compiling runs no code)."""
    path, class_name = split_file_ref(ref)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, f"cannot read {path}: {exc}"
    candidate = {"source": source, "filename": path.name, "class_name": class_name}
    try:
        compile(source, str(path), "exec")
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        return candidate, f"{path.name}: line {line}: {getattr(exc, 'msg', exc)}"
    return candidate, None


def _worker_env(folder: Path) -> dict[str, str]:
    """The environment process's whole environment: nothing of the parent's (no API keys)."""
    package_parent = str(Path(__file__).resolve().parents[2])
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(folder),
        "TMPDIR": str(folder),
        "LANG": "C.UTF-8",
        "PYTHONPATH": package_parent,  # the same autotts as the parent's
        "PYTHONHASHSEED": "0",  # set and dict orders of strings agree across processes
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("<Q", len(data)) + data


def _failure(cell: Cell, kind: str, seed: int, question: int, error: str) -> SandboxFailure:
    return SandboxFailure(cell.store, question, seed, cell.beta, cell.controller.display, error, kind)


def _empty_block(job: dict, questions: int, failures: list) -> Block:
    n = job["seed_hi"] - job["seed_lo"]
    zeros = np.zeros((n, questions), dtype=np.int64)
    return Block(job["cell"], job["seed_lo"], job["seed_hi"], [[None] * questions] * n, zeros, zeros.copy(), failures)


def _stopped_result(cell: Cell, questions: int, stop: SandboxFailure) -> CellResult:
    zeros = np.zeros((cell.seeds, questions), dtype=np.int64)
    failure = stop
    if stop.store != cell.store or stop.beta != cell.beta:
        failure = _failure(
            cell, "skipped", -1, -1, f"not run: the controller was stopped ({stop.kind}) on {stop.store}"
        )
    return CellResult(
        cell=cell,
        correct=np.zeros((cell.seeds, questions), dtype=bool),
        tokens=zeros,
        latency=zeros.copy(),
        answers=[[None] * questions for _ in range(cell.seeds)],
        failures=[failure],
    )


def _death(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        meaning = {"SIGXCPU": "CPU time limit exceeded", "SIGKILL": "killed", "SIGSEGV": "segmentation fault"}
        return f"{name}: {meaning.get(name, 'terminated by a signal')}"
    return f"exit code {code}"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1
