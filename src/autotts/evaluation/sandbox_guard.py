"""Runtime containment inside a sandbox worker: resource limits, the audit hook, integrity checks.

Used only by :mod:`autotts.evaluation.sandbox_worker`, in a fresh interpreter that never held gold
answers. Layers, from the outside in:

* **rlimits**: CPU seconds (SIGXCPU, then SIGKILL), address space, file size, no core dumps, and
  no new processes where the kernel enforces it (it does not for root; the audit hook covers that).
* **audit hook** (``sys.addaudithook``, installed before candidate code is imported): denies
  sockets, processes (``os.system``, ``subprocess``, ``fork``, ``exec*``, ``posix_spawn``), ctypes,
  frame and heap introspection (``sys._getframe``, ``gc.get_objects``, ``tb_frame``...), writes
  outside the scratch folder and reads outside the scratch folder and the Python installation.
  A denial raises ``PermissionError`` in the candidate *and* is recorded, so catching it does not
  hide it: the episode is then failed as a violation.
* **seccomp** (x86-64 Linux): a kernel filter that fails ``fork``, ``vfork``, ``clone`` (except for
  threads), ``execve``, ``socket``, ``connect``, ``ptrace`` and cross-process memory access with
  EPERM, whatever Python path leads there (``_posixsubprocess.fork_exec`` raises no audit event).
* **integrity checks**: the namespaces the accounting relies on (``Episode``, builtins, the
  controller API modules) are snapshotted and compared after every episode.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import resource
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# events denied outright (exact names), and by prefix
DENIED_EVENTS = frozenset(
    {
        "_thread.start_new_thread",
        "code.__new__",
        "function.__new__",
        "gc.get_objects",
        "gc.get_referents",
        "gc.get_referrers",
        "marshal.load",
        "mmap.__new__",
        "object.__delattr__",
        "object.__getattr__",
        "object.__setattr__",
        "os.chdir",
        "os.chroot",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "os.posix_spawn",
        "os.posix_spawnp",
        "os.spawn",
        "os.startfile",
        "os.system",
        "pickle.find_class",
        "pty.spawn",
        "resource.prlimit",
        "resource.setrlimit",
        "signal.pthread_kill",
        "sqlite3.connect",
        "subprocess.Popen",
        "sys._current_exceptions",
        "sys._current_frames",
        "sys._getframe",
        "sys.addaudithook",
        "sys.setprofile",
        "sys.settrace",
        "webbrowser.open",
    }
)
DENIED_PREFIXES = ("socket.", "ctypes.", "os.exec", "http.", "urllib.", "ftplib.", "smtplib.", "telnetlib.")
# events whose arguments name paths: event -> (indices of paths, writes?)
PATH_EVENTS = {
    "os.listdir": ((0,), False),
    "os.scandir": ((0,), False),
    "glob.glob": ((0,), False),
    "os.mkdir": ((0,), True),
    "os.rmdir": ((0,), True),
    "os.remove": ((0,), True),
    "os.rename": ((0, 1), True),
    "os.link": ((0, 1), True),
    "os.symlink": ((0, 1), True),
    "os.chmod": ((0,), True),
    "os.chown": ((0,), True),
    "os.truncate": ((0,), True),
    "os.utime": ((0,), True),
    "os.setxattr": ((0,), True),
    "os.removexattr": ((0,), True),
    "shutil.copyfile": ((0, 1), True),
    "shutil.rmtree": ((0,), True),
    "shutil.move": ((0, 1), True),
    "tempfile.mkstemp": ((0,), True),
    "tempfile.mkdtemp": ((0,), True),
}
# modules a candidate must not load at run time (most are also refused by the static screen)
DENIED_IMPORTS = frozenset(
    {
        "_ctypes",
        "_multiprocessing",
        "_posixsubprocess",
        "_socket",
        "_sqlite3",
        "_ssl",
        "asyncio",
        "ctypes",
        "fcntl",
        "ftplib",
        "http",
        "mmap",
        "multiprocessing",
        "pty",
        "select",
        "selectors",
        "smtplib",
        "socket",
        "sqlite3",
        "ssl",
        "subprocess",
        "telnetlib",
        "urllib",
        "webbrowser",
    }
)
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def apply_limits(cpu_seconds: float, memory_mb: int, file_mb: int = 64) -> None:
    """Resource limits for this process (and nothing it could start)."""
    cpu = max(1, int(cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))  # SIGXCPU at the soft limit, SIGKILL at the hard
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb << 20, file_mb << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(ValueError, OSError):  # no new processes or threads (ignored for root: see the hook)
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


# x86-64 system call numbers denied by the seccomp filter (EPERM)
SECCOMP_DENIED_SYSCALLS = {
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "execveat": 322,
    "socket": 41,
    "socketpair": 53,
    "connect": 42,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
}
SYS_CLONE, SYS_CLONE3 = 56, 435
CLONE_THREAD = 0x00010000
AUDIT_ARCH_X86_64 = 0xC000003E


def install_seccomp() -> str:
    """Install the seccomp filter (irreversible for this process); returns what was done."""
    import ctypes
    import platform
    import struct

    if sys.platform != "linux" or platform.machine() != "x86_64":
        return f"seccomp: not available on {sys.platform}/{platform.machine()}"
    allow, kill = 0x7FFF0000, 0x80000000
    eperm, enosys = 0x00050000 | 1, 0x00050000 | 38
    ld_abs, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JSET|K, BPF_RET|K
    program = [(ld_abs, 0, 0, 4), (jeq, 1, 0, AUDIT_ARCH_X86_64), (ret, 0, 0, kill), (ld_abs, 0, 0, 0)]
    for number in SECCOMP_DENIED_SYSCALLS.values():
        program += [(jeq, 0, 1, number), (ret, 0, 0, eperm)]
    program += [(jeq, 0, 1, SYS_CLONE3), (ret, 0, 0, enosys)]  # libc then falls back to clone
    # clone: allowed for threads only (flags are the first argument, at offset 16)
    program += [(jeq, 0, 3, SYS_CLONE), (ld_abs, 0, 0, 16), (jset, 1, 0, CLONE_THREAD), (ret, 0, 0, eperm)]
    program += [(ret, 0, 0, allow)]
    raw = b"".join(struct.pack("<HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(raw, len(raw))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        return f"seccomp: PR_SET_NO_NEW_PRIVS failed (errno {ctypes.get_errno()})"
    if libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0) != 0:
        return f"seccomp: filter refused (errno {ctypes.get_errno()})"
    return "seccomp: on"


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to kill this worker when the parent dies (so a looping candidate cannot outlive it)."""
    import ctypes
    import signal

    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def seal_against_copies(classes: tuple[type, ...], denied: Callable[[str], None]) -> None:
    """Make copying or pickling an episode fail: a deep copy would let a controller play the copy for
    free and keep the original's accounting clean. Done in the worker only, before the snapshots."""

    def refuse(self: Any, *_: Any) -> None:
        denied(f"copying or pickling a {type(self).__name__} denied")
        raise PermissionError(f"sandbox: {type(self).__name__} objects cannot be copied")

    for cls in classes:
        for name in ("__copy__", "__deepcopy__", "__reduce__", "__reduce_ex__", "__getstate__"):
            setattr(cls, name, refuse)


def disarm_process_spawning(denied: Callable[[str], None]) -> None:
    """Replace the unaudited process-spawning primitive with one that records a violation."""
    import _posixsubprocess

    def fork_exec(*_: Any, **__: Any) -> None:
        denied("process creation (_posixsubprocess.fork_exec) denied")
        raise PermissionError("sandbox: process creation denied")

    _posixsubprocess.fork_exec = fork_exec


class Guard:
    """The audit hook and the record of what it denied."""

    def __init__(self, scratch: Path, read_roots: list[str], denied_roots: list[str]):
        self.scratch = os.path.realpath(scratch)
        self.read_roots = tuple(os.path.realpath(r) for r in read_roots) + (self.scratch,)
        self.denied_roots = tuple(os.path.realpath(r) for r in denied_roots)
        self.denials: list[str] = []

    def install(self) -> Callable[[], Any]:
        """Install the hook; returns ``harness_section()``, a context manager that lifts the hook
        for the harness's own bookkeeping (formatting tracebacks reads ``tb_frame``). It exists only
        as a local of the worker's main function, which candidate code cannot reach: frames and
        the heap are what the hook denies."""
        trusted = [False]
        check = self._check
        denials = self.denials

        def hook(event: str, args: tuple) -> None:
            if trusted[0]:
                return
            problem = check(event, args)
            if problem is not None:
                denials.append(problem)
                raise PermissionError(f"sandbox: {problem}")

        sys.addaudithook(hook)

        @contextmanager
        def harness_section() -> Iterator[None]:
            trusted[0] = True
            try:
                yield
            finally:
                trusted[0] = False

        return harness_section

    def deny(self, problem: str) -> None:
        self.denials.append(problem)

    def take_denials(self) -> list[str]:
        taken = list(self.denials)
        self.denials.clear()
        return taken

    def _check(self, event: str, args: tuple) -> str | None:
        if event == "open":
            return self._check_open(args)
        if event == "import":
            top = str(args[0]).split(".")[0]
            return f"import of {args[0]!r} denied" if top in DENIED_IMPORTS else None
        if event in DENIED_EVENTS or event.startswith(DENIED_PREFIXES):
            return f"{event} denied"
        rule = PATH_EVENTS.get(event)
        if rule is not None:
            indices, writes = rule
            for i in indices:
                if i < len(args) and args[i] is not None:
                    problem = self._check_path(event, args[i], writes)
                    if problem:
                        return problem
        return None

    def _check_open(self, args: tuple) -> str | None:
        path, mode, flags = (tuple(args) + (None, None, 0))[:3]
        writes = bool(mode and any(c in str(mode) for c in "wax+")) or bool((flags or 0) & WRITE_FLAGS)
        return self._check_path("open", path, writes)

    def _check_path(self, event: str, path: Any, writes: bool) -> str | None:
        if not isinstance(path, str | bytes | os.PathLike):
            return f"{event} of file descriptor {path!r} denied"
        real = os.path.realpath(os.fsdecode(path))
        if any(_within(real, root) for root in self.denied_roots):
            return f"{event} of {real} denied (protected data)"
        if writes:
            return None if _within(real, self.scratch) else f"{event} for writing outside the scratch folder: {real}"
        if any(_within(real, root) for root in self.read_roots):
            return None
        return f"{event} of {real} denied (outside the scratch folder and the Python installation)"


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Integrity:
    """Snapshots of namespaces a candidate must not change, compared after each episode."""

    def __init__(self, watched: dict[str, Any], every_episode: tuple[str, ...]):
        self.watched = watched
        self.snapshots = {name: dict(vars(obj)) for name, obj in watched.items()}
        self.every_episode = every_episode

    def problem(self, names: tuple[str, ...] | None = None) -> str | None:
        for name in names or tuple(self.watched):
            current = vars(self.watched[name])
            if current != self.snapshots[name]:
                before = self.snapshots[name]
                changed = sorted(k for k in set(current) | set(before) if current.get(k, _MISSING) is not before.get(k))
                return f"changed {name}.{', '.join(map(str, changed[:3])) or '?'} (monkeypatching)"
        return None

    def quick_problem(self) -> str | None:
        return self.problem(self.every_episode)


_MISSING = object()


def python_roots() -> list[str]:
    """Folders of the Python installation and of the autotts package (read-only for candidates)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(__file__).resolve().parents[1])}
    roots.update(p for p in sys.path if p and "site-packages" in p)
    return sorted(roots)


BUILTINS = builtins
