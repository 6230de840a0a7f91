"""Which policy runs live, whether it may, and where its code runs.

:func:`load_policy` is the one place that decides whether a policy may run live:

* a registry reference (``NAME@production``, ``NAME@ALIAS``, ``NAME@VERSION``) is resolved by
  :func:`autotts.governance.resolve_policy`, which refuses a version without a standing approval
  unless ``allow_unapproved`` (then recorded in the registry's audit log);
* a built-in controller name or a controller file (``path.py[:Class]``) is no registered version, so
  it is refused unless ``allow_unapproved`` (then logged on stderr and in the decision log).

Where the code runs: built-in controllers (autotts's own code) in-process; a controller file — the
output of discovery, untrusted — behind the sandbox's OS boundary (:class:`SandboxedPolicy`, the
policy ↔ environment protocol of ``docs/protocol.md`` with a live episode on the environment side),
unless ``trusted`` (the user's own code). When the boundary cannot be built, nothing untrusted runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import sys
import tempfile
import threading
import types
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..controllers.base import Controller, get_controller_class, registered
from ..controllers.loading import UPSTREAM_POOL, UpstreamController, controller_classes_in
from ..env.core import DEFAULT_MAX_BRANCHES, FINISHED, EpisodeError
from ..sandbox import boundary, protocol
from ..sandbox.pool import is_file_ref, split_file_ref
from .episode import LiveAborted, LiveEpisode


class PolicyError(RuntimeError):
    """The policy cannot be loaded or may not run (the message says why; shown without traceback)."""


@dataclass
class PolicySource:
    """A policy to run live: its code, β, and where it came from."""

    label: str  # what logs and metrics call it: NAME@VERSION, a built-in name, or a file name
    version: str  # NAME@N for a registered version; else the built-in name or "file:<sha256[:12]>"
    beta: float
    kind: str  # "builtin" or "file"
    class_ref: str  # a registry name (builtin) or the class name inside ``source`` ("" = the only one)
    source: str = ""  # the file's text (kind "file")
    filename: str = "policy.py"
    approved: bool = False
    status: str = "unregistered"
    overrides: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "policy": self.label,
            "version": self.version,
            "beta": self.beta,
            "kind": self.kind,
            "approved": self.approved,
            "registry_status": self.status,
        }


def play_in_replay(
    source: PolicySource, store: str, seeds: int, *, want_traces: bool = False, trusted: bool = False
) -> Any:
    """The policy at its β (and overrides) on a replay store over seeds ``0..seeds-1``: the cells
    ``autotts eval`` plays, a controller file behind the sandbox unless ``trusted``. Returns its
    :class:`~autotts.evaluation.CellResult` (with traces when asked)."""
    from ..evaluation import ControllerSpec, grid
    from ..report.runs import run_cells

    with tempfile.TemporaryDirectory(prefix="autotts-replay-") as tmp:
        if source.kind == "builtin":
            ref = source.class_ref
        else:
            path = Path(tmp) / source.filename
            path.write_text(source.source, encoding="utf-8")
            ref = str(path) + (f":{source.class_ref}" if source.class_ref else "")
        spec = ControllerSpec(ref, tuple(source.overrides.items()))
        (result,) = run_cells(grid([spec], [source.beta], [store], seeds), want_traces=want_traces, trusted=trusted)
    return result


def is_registry_ref(ref: str) -> bool:
    return "@" in ref and not is_file_ref(ref)


def load_policy(
    ref: str,
    *,
    beta: float | None = None,
    allow_unapproved: bool = False,
    registry: str | Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> PolicySource:
    """Resolve ``ref`` and apply the approval rule (see the module docstring). ``beta`` overrides a
    registered version's β (recorded in logs as the β actually used)."""
    warn = warn or (lambda line: print(line, file=sys.stderr, flush=True))
    if is_registry_ref(ref):
        from ..governance import RegistryError, resolve_policy

        try:
            resolved = resolve_policy(ref, allow_unapproved=allow_unapproved, registry=registry, by="autotts live")
        except RegistryError as exc:
            raise PolicyError(str(exc)) from None
        if resolved.status != "approved":
            warn(f"warning: running {resolved.version.ref} ({resolved.status}) with --allow-unapproved (audited)")
        return PolicySource(
            label=resolved.version.ref,
            version=resolved.version.ref,
            beta=resolved.beta if beta is None else float(beta),
            kind=resolved.kind,
            class_ref=resolved.class_ref,
            source=resolved.source if resolved.kind == "file" else "",
            filename=f"{resolved.version.name}.py",
            approved=resolved.status == "approved",
            status=resolved.status,
        )
    if not allow_unapproved:
        raise PolicyError(
            f"{ref!r} is not a registered, approved version: give NAME@production (see `autotts policy`), "
            "or pass --allow-unapproved to run it anyway (logged)"
        )
    warn(f"warning: running unregistered policy {ref!r} with --allow-unapproved")
    beta = 1.0 if beta is None else float(beta)
    if is_file_ref(ref):
        path, class_name = split_file_ref(ref)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read the controller file ({exc.strerror or exc})") from None
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        return PolicySource(
            label=path.name + (f":{class_name}" if class_name else ""),
            version=f"file:{digest}",
            beta=beta,
            kind="file",
            class_ref=class_name or "",
            source=text,
            filename=path.name,
        )
    if ref not in registered():
        raise PolicyError(f"{ref!r}: no such controller (built-ins: {', '.join(sorted(registered()))})")
    return PolicySource(label=ref, version=ref, beta=beta, kind="builtin", class_ref=ref)


def class_from_source(source: str, filename: str, class_name: str) -> tuple[type[Controller], str]:
    """Execute a controller file's text in this process (trusted code only) and find its class."""
    name = "autotts_live_" + hashlib.sha256(source.encode()).hexdigest()[:12]
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    try:
        exec(compile(source, filename, "exec"), vars(module))
    except Exception as exc:
        raise PolicyError(f"{filename}: loading the controller failed: {type(exc).__name__}: {exc}") from None
    if class_name:
        cls = vars(module).get(class_name)
        if not isinstance(cls, type):
            raise PolicyError(f"{filename}: defines no class {class_name!r}")
    else:
        found = controller_classes_in(module)
        if len(found) != 1:
            raise PolicyError(f"{filename}: expected exactly one controller class, found {len(found)}")
        cls = found[0]
    if issubclass(cls, Controller):
        return cls, "controller"
    if callable(getattr(cls, "solve", None)):
        return type(cls.__name__, (UpstreamController,), {"method_class": cls, "name": cls.__name__}), "upstream"
    raise PolicyError(f"{filename}: {cls.__name__} is neither a Controller nor has solve(question)")


class InProcessPolicy:
    """A trusted controller (built-in, or a file with ``--trusted``) run in the calling thread."""

    sandboxed = False

    def __init__(self, source: PolicySource):
        self.source = source
        if source.kind == "builtin":
            self.cls = get_controller_class(source.class_ref)
        else:
            self.cls, _ = class_from_source(source.source, source.filename, source.class_ref)
        self.ceiling = self.cls.max_branches
        self.cls(source.beta, **source.overrides)  # a bad β or override fails now, not on the first request

    def play(self, episode: LiveEpisode) -> str | None:
        answer = self.cls(self.source.beta, **self.source.overrides).run(episode)
        if answer is not None and not isinstance(answer, str):
            raise TypeError(f"run() returned {type(answer).__name__}, expected str or None")
        return answer

    def close(self) -> None:
        pass


class PolicyViolation(Exception):
    """A sandboxed controller broke the rules or the protocol (its process is replaced)."""


class _Runner:
    """One sandboxed controller process with the policy's code loaded."""

    def __init__(self, source: PolicySource, limits: boundary.BoundaryLimits, folder: Path):
        from ..sandbox.environment import Runner, Violation

        self._violation = Violation
        try:
            self.proc = Runner(limits, folder)
        except Violation as exc:
            raise PolicyError(f"the sandboxed controller process did not start: {exc.text}") from None
        self.source = source
        self.vocab: dict[str, int] = {}
        self.kind = self.load()

    def load(self) -> str:
        """Execute the policy's module afresh (nothing carries over between requests)."""
        src = self.source
        if src.kind == "builtin":
            self.send({"t": protocol.LOAD, "builtin": src.class_ref})
        else:
            self.send(
                {
                    "t": protocol.LOAD,
                    "source": src.source,
                    "filename": src.filename,
                    "class_name": src.class_ref or None,
                }
            )
        header, _ = self.receive()
        if header.get("t") == protocol.FAILED:
            raise PolicyError(str(header.get("error"))[:600])
        if header.get("t") != protocol.LOADED or header.get("kind") not in ("controller", "upstream"):
            raise PolicyViolation("the controller's process answered the load with nonsense")
        return header["kind"]

    def send(self, header: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
        try:
            self.proc.send(header, arrays)
        except self._violation as exc:
            raise PolicyViolation(exc.text) from None

    def receive(self) -> tuple[dict, dict[str, np.ndarray]]:
        try:
            return self.proc.receive_arrays()
        except self._violation as exc:
            raise PolicyViolation(exc.text) from None

    def kill(self, politely: bool = False) -> None:
        self.proc.kill(politely=politely)


class SandboxedPolicy:
    """An untrusted controller file, played behind the OS boundary through protocol v1.

    One sandboxed process per concurrent request (kept in a pool and reused; replaced after any
    violation). Each request is one ``play`` of one episode in run mode: the process sends one wave
    per ``act`` message, which is played on the :class:`LiveEpisode` here (the rules are checked by the
    episode itself; an illegal action ends the request with a violation), and the ``obs`` reply carries
    exactly what the wave revealed. The controller cannot tell this from a replay block.
    """

    sandboxed = True

    def __init__(self, source: PolicySource, *, processes: int = 4, memory_mb: int = 2048, cpu_seconds: int = 3600):
        boundary.require()  # never fail open
        self.source = source
        self.limits = boundary.BoundaryLimits(memory_mb=memory_mb, cpu_seconds=cpu_seconds, scratch_mb=64)
        self._folder = tempfile.TemporaryDirectory(prefix="autotts-live-")
        self._idle: queue.LifoQueue[_Runner] = queue.LifoQueue()
        self._all: list[_Runner] = []
        self._lock = threading.Lock()
        self._count = 0
        first = self._start()  # fails now, with the reason, when the file does not load
        self.kind = first.kind
        self.ceiling = UPSTREAM_POOL if self.kind == "upstream" else DEFAULT_MAX_BRANCHES
        self._idle.put(first)
        self.processes = processes

    def _start(self) -> _Runner:
        with self._lock:
            self._count += 1
            folder = Path(self._folder.name) / f"runner-{self._count}"
        folder.mkdir(parents=True, exist_ok=True)
        runner = _Runner(self.source, self.limits, folder)
        with self._lock:
            self._all.append(runner)
        return runner

    def _take(self) -> _Runner:
        try:
            runner = self._idle.get_nowait()
        except queue.Empty:
            return self._start()
        if runner.proc.process.poll() is not None:
            self._drop(runner)
            return self._start()
        return runner

    def _drop(self, runner: _Runner) -> None:
        runner.kill()
        with self._lock, contextlib.suppress(ValueError):
            self._all.remove(runner)

    def play(self, episode: LiveEpisode) -> str | None:
        runner = self._take()
        ok = False
        killer = lambda: runner.kill()  # noqa: E731 - an aborted episode must unblock this thread
        episode.on_abort = killer
        try:
            runner.kind = runner.load()
            answer = self._play(runner, episode)
            ok = True
            return answer
        except PolicyViolation as exc:
            if episode.aborted is not None:
                raise episode.aborted from None
            raise PolicyError(f"the sandboxed controller broke the protocol or the rules: {exc}") from None
        finally:
            episode.on_abort = None
            if ok and self._idle.qsize() < self.processes:
                self._idle.put(runner)
            else:
                self._drop(runner)

    def _play(self, runner: _Runner, episode: LiveEpisode) -> str | None:
        src = self.source
        runner.vocab = {}
        tag = zlib.crc32(f"{episode.seed}|{episode.question}".encode())
        runner.send(
            {
                "t": protocol.PLAY,
                "mode": "run",
                "beta": src.beta,
                "overrides": [[k, v] for k, v in src.overrides.items()],
                "reseed": f"live|{src.version}|{src.beta!r}",
                "sequential": False,
                "probe_freq": episode.probe_freq,
                "confidence": episode.has_confidence,
                "episodes": [[0, episode.seed, episode.max_branches, tag]],
            }
        )
        answer: str | None = None
        done = False
        while True:
            header, arrays = runner.receive()
            kind = header.get("t")
            if kind == protocol.PLAYED:
                break
            if kind != protocol.ACT or not isinstance(header.get("ops"), list):
                raise PolicyViolation("an unexpected message")
            if done:
                raise PolicyViolation("an action after the episode ended")
            try:
                reply, out, ended = self._apply(runner, episode, header["ops"], arrays)
            except (EpisodeError, TypeError, ValueError, IndexError, KeyError) as exc:
                raise PolicyViolation(f"an action the episode's rules do not allow: {exc}"[:300]) from None
            if ended is not None:
                done = True
                answer, error = ended
                if error is not None:
                    raise PolicyError(f"the controller raised: {error}"[:700])
            runner.send({"t": protocol.OBS, **reply}, out)
        if not done:
            raise PolicyViolation("the controller's process stopped before the episode ended")
        return answer

    def _apply(self, runner: _Runner, episode: LiveEpisode, ops: list, arrays: dict):
        from ..sandbox.environment import expect

        waves = expect(arrays, "episode", "i", (None,))
        kinds = expect(arrays, "kind", "i", (len(waves),)).tolist()
        sizes = expect(arrays, "size", "i", (len(waves),)).tolist()
        ids = expect(arrays, "ids", "i", (None,)).tolist()
        steps = expect(arrays, "steps", "i", (len(ids),)).tolist()
        if len(waves) > 1 or (len(waves) and int(waves[0]) != 0):
            raise ValueError("one episode, one wave per message")
        ended = None
        for op in ops:
            if not (isinstance(op, list) and len(op) >= 2 and op[0] == 0):
                raise ValueError(f"a malformed action: {str(op)[:120]}")
            action, args = op[1], op[2:]
            if action == "prune":
                (branches,) = args
                if not isinstance(branches, list) or any(type(i) is not int for i in branches):
                    raise ValueError("prune: malformed branch ids")
                episode.prune(branches)
            elif action == "note":
                (text,) = args
                fields = json.loads(text) if isinstance(text, str) and len(text) <= 2000 else None
                if isinstance(fields, dict):
                    episode.note(**{str(k): v for k, v in fields.items()})
            elif action == "done":
                answer, kind, text = args
                if kind is not None:
                    ended = (None, str(text)[:600])
                elif answer is not None and (type(answer) is not str or not episode.was_revealed(answer)):
                    raise PolicyViolation(f"returned {str(answer)[:60]!r}, an answer this episode never revealed")
                else:
                    ended = (answer, None)
            else:
                raise ValueError(f"unknown action {action!r}")
        if ended is not None and len(waves):
            raise ValueError("an episode ended in the message that carries one of its waves")
        out_answers: list[str] = []
        charge: list[int] = []
        finished: list[bool] = []
        took: list[int] = []
        passed_at: list[int] = []
        passed_n: list[int] = []
        passed: list[str] = []
        confidence: list[float] = []
        if len(waves):
            kind, size = int(kinds[0]), int(sizes[0])
            if self.kind == "upstream" and (size != 1 or any(s != 1 for s in steps)):
                raise ValueError("a published-harness controller acts on one branch per wave, one interval at a time")
            if kind == 1:
                if len(ids) != size:
                    raise ValueError("the advance lists a different number of branches than its size")
                before = {i: (episode.intervals(i), episode.branch_tokens(i)) for i in ids if 0 <= i < episode.opened}
                if len(steps) and all(s == 1 for s in steps):
                    episode.advance(ids)
                else:
                    episode.advance(ids, steps)
                touched = ids
            elif kind in (0, 2):
                start = episode.opened
                before = {}
                if kind == 0:
                    episode.spawn(size)
                else:
                    episode.read_full(size)
                touched = list(range(start, start + size))
            else:
                raise ValueError(f"a wave of unknown kind {kind}")
            for pos, i in enumerate(touched):
                taken0, charged0 = before.get(i, (0, 0))
                branch = episode._src[i]
                t = episode.intervals(i)
                out_answers.append(episode.answer(i))
                charge.append(episode.branch_tokens(i) - charged0)
                finished.append(episode._status[i] == FINISHED)
                took.append(t - taken0)
                if kind == 1 and t - taken0 > 1:
                    passed_at.append(pos)
                    passed_n.append(t - taken0 - 1)
                    passed.extend(branch.steps[taken0 : t - 1])
                if episode.has_confidence:
                    values = list(branch.interval_confidence[taken0:t])
                    values += [None] * (t - taken0 - len(values))
                    confidence.extend(float("nan") if v is None else float(v) for v in values[: t - taken0])
        words: list[str] = []

        def number(answer: str) -> int:
            if answer not in runner.vocab:
                runner.vocab[answer] = len(runner.vocab)
                words.append(answer)
            return runner.vocab[answer]

        answer_ids = [number(a) for a in out_answers]
        passed_ids = [number(a) for a in passed]
        out = {
            "answer": np.array(answer_ids, dtype=np.int64),
            "charge": np.array(charge, dtype=np.int64),
            "finished": np.array(finished, dtype=bool),
            "took": np.array(took, dtype=np.int64),
            "passed_at": np.array(passed_at, dtype=np.int64),
            "passed_n": np.array(passed_n, dtype=np.int64),
            "passed": np.array(passed_ids, dtype=np.int64),
        }
        if episode.has_confidence:
            out["confidence"] = np.array(confidence, dtype=np.float64)
        return {"vocab": words}, out, ended

    def close(self) -> None:
        with self._lock:
            runners = list(self._all)
            self._all.clear()
        for runner in runners:
            runner.kill(politely=True)
        self._folder.cleanup()


def build_policy(
    source: PolicySource, *, trusted: bool = False, processes: int = 4
) -> InProcessPolicy | SandboxedPolicy:
    """In-process for built-ins and trusted files; behind the sandbox for every other file."""
    if source.kind == "builtin" or trusted:
        return InProcessPolicy(source)
    try:
        return SandboxedPolicy(source, processes=processes)
    except boundary.SandboxUnavailable as exc:
        raise PolicyError(
            f"an untrusted controller file only runs behind the sandbox, which is unavailable: {exc}"
        ) from None


__all__ = [
    "InProcessPolicy",
    "LiveAborted",
    "PolicyError",
    "PolicySource",
    "SandboxedPolicy",
    "build_policy",
    "load_policy",
]
