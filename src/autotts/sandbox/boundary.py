"""The operating-system boundary around untrusted controller code.

Candidate code runs in a process started by :func:`launch` under **bubblewrap** (``bwrap``), with:

* new user, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``): it sees no other
  process (it cannot signal the environment, the parent or anything else), has no network
  interface but an unconnected loopback, and runs as an unprivileged user with every capability
  dropped;
* an **empty environment** (``--clearenv``; only ``HOME``, ``LANG`` and the Python settings below are
  set), so no API key or secret of the parent is ever present;
* a file system holding only the Python installation (read-only) and a scratch folder on a
  ``tmpfs`` with a total size quota (a candidate cannot fill a disk); no ``/proc``, no stores, no
  home folder, no repository;
* resource limits set before ``bwrap`` starts and inherited by everything inside: address space
  (memory), CPU seconds, file size (the log it may write outside), no core dumps;
* a **seccomp** filter (:func:`install_seccomp`), installed by the runner before it reads candidate
  code and irreversible from then on, that fails every way of making a new thread or process
  (``clone``, ``clone3``, ``fork``, ``vfork``, ``execve``) and other kernel interfaces a controller has
  no use for (sockets, ``ptrace``, pidfds, namespaces, ``mount``, ``bpf``, ``io_uring``...). The
  process tree is therefore exactly one process, threads included, by construction;
* ``--die-with-parent``: when the trusted environment process dies, the sandbox dies with it.

The wall clock is enforced from outside (the parent kills the environment process, and with it the
sandbox). When the boundary cannot be built (no ``bwrap``, user namespaces disabled, a machine the
seccomp filter does not know), :func:`require` raises :class:`SandboxUnavailable` naming what is
missing; callers refuse to run untrusted code rather than fall back to running it unconfined.

Why these tools: bubblewrap is the namespace sandbox Flatpak and the Claude Code CLI use, packaged by
every Linux distribution, and needs no daemon; seccomp is the kernel's own system-call filter. The
filter is a few lines of classic BPF written here because the Python bindings of libseccomp are not
on PyPI in a maintained form and the program is a plain deny list.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import resource
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

RUNNER_MODULE = "autotts.sandbox.runner"
SCRATCH = "/scratch"  # where the candidate's scratch folder appears inside the sandbox
INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`)"


class SandboxError(RuntimeError):
    """The sandbox itself could not run (an environment process failed to start, an unknown store...)."""


class SandboxUnavailable(SandboxError):
    """The OS boundary cannot be built on this machine; untrusted code is not run."""


@dataclass(frozen=True)
class BoundaryLimits:
    memory_mb: int = 2048  # address space of the candidate process
    cpu_seconds: int = 600  # CPU time of the candidate process (it is replaced well before)
    scratch_mb: int = 64  # total size of its scratch folder
    log_mb: int = 16  # the log its prints go to, outside the sandbox


# ---------------------------------------------------------------- availability


@functools.cache
def problem() -> str | None:
    """Why the boundary cannot be built here, or None when it can (checked once per process by
    starting a real sandbox)."""
    if sys.platform != "linux":
        return f"the sandbox needs Linux (namespaces and seccomp); this is {sys.platform}"
    if platform.machine() not in SYSCALLS:
        return f"the sandbox's seccomp filter does not know {platform.machine()} (known: {', '.join(SYSCALLS)})"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
    try:
        done = subprocess.run(
            command(bwrap, ["-S", "-c", "pass"], BoundaryLimits()),
            capture_output=True,
            timeout=60,
            env={},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not start a sandbox: {exc}"
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip()[:300]
        return (
            f"bubblewrap could not start a sandbox ({said or f'exit code {done.returncode}'}); it needs user "
            "namespaces: check `sysctl kernel.unprivileged_userns_clone` (1) and `user.max_user_namespaces` (> 0), "
            "or, in a container, that it may create namespaces"
        )
    return None


def require() -> None:
    """Raise :class:`SandboxUnavailable` unless the boundary can be built."""
    found = problem()
    if found:
        raise SandboxUnavailable(f"cannot run untrusted code: {found}. Use --trusted only for code you trust.")


# ---------------------------------------------------------------- the command


def read_only_roots() -> list[str]:
    """What the sandbox sees read-only: the Python installation (base and virtual environment)
    and the folders on ``sys.path`` (where autotts itself is imported from), nothing else."""
    roots = {sys.base_prefix, sys.prefix, str(Path(sys.executable).parent)}
    roots.update(p for p in sys.path if p and os.path.isabs(p) and os.path.isdir(p))
    kept: list[str] = []
    for root in sorted(roots, key=len):  # drop folders inside another kept folder
        real = os.path.realpath(root)
        if not any(real == k or real.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(real)
    return kept


def command(bwrap: str, python_args: list[str], limits: BoundaryLimits) -> list[str]:
    """The ``bwrap`` command line that runs ``python <python_args>`` inside the boundary."""
    argv = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--uid", "65534",
        "--gid", "65534",
        "--cap-drop", "ALL",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv", "HOME", SCRATCH,
        "--setenv", "TMPDIR", SCRATCH,
        "--setenv", "LANG", "C.UTF-8",
        "--setenv", "PYTHONHASHSEED", "0",  # set and dict orders agree across workers
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        "--setenv", "OPENBLAS_NUM_THREADS", "1",
        "--setenv", "OMP_NUM_THREADS", "1",
        "--setenv", "MKL_NUM_THREADS", "1",
    ]  # fmt: skip
    for system_dir in ("/usr", "/lib", "/lib64", "/lib32", "/bin"):
        if os.path.islink(system_dir):  # merged /usr: keep the link
            argv += ["--symlink", os.readlink(system_dir), system_dir]
        elif os.path.isdir(system_dir):
            argv += ["--ro-bind", system_dir, system_dir]
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for root in read_only_roots():
        if not root.startswith(("/usr/", "/lib")):
            argv += ["--ro-bind", root, root]
    argv += ["--dev", "/dev", "--size", str(limits.scratch_mb << 20), "--tmpfs", SCRATCH, "--chdir", SCRATCH]
    # autotts is imported from where this process imports it (a checkout, or site-packages)
    package_parent = str(Path(__file__).resolve().parents[2])
    argv += ["--setenv", "PYTHONPATH", package_parent]
    return [*argv, "--", sys.executable, *python_args]  # the venv's interpreter link: its site-packages


def launch(limits: BoundaryLimits, log_path: Path) -> subprocess.Popen:
    """Start the candidate runner inside the boundary; its stdin/stdout carry the protocol, its
    stderr (and its prints) go to ``log_path``. Call :func:`require` first."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}")
    argv = command(bwrap, ["-s", "-P", "-m", RUNNER_MODULE], limits)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env={},
            close_fds=True,
            preexec_fn=functools.partial(_limit_resources, limits),
        )


def _limit_resources(limits: BoundaryLimits) -> None:
    """In the child before ``bwrap`` runs: limits inherited by everything in the sandbox."""
    memory = limits.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.log_mb << 20, limits.log_mb << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


# ---------------------------------------------------------------- seccomp

# system calls failed with EPERM once the filter is installed, by architecture
SYSCALLS = {
    "x86_64": {
        "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "clone3": 435,
        "socket": 41, "socketpair": 53, "connect": 42, "bind": 49, "listen": 50, "accept": 43, "accept4": 288,
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kill": 62, "tkill": 200,
        "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297,
        "pidfd_open": 434, "pidfd_send_signal": 424, "pidfd_getfd": 438,
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
        "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "keyctl": 250, "add_key": 248,
        "request_key": 249, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "personality": 135, "setpriority": 141, "sched_setaffinity": 203, "prctl": 157,
    },
}  # fmt: skip
AUDIT_ARCH = {"x86_64": 0xC000003E}


def seccomp_program(machine: str) -> bytes:
    """The classic-BPF filter: wrong architecture -> kill; a listed call -> EPERM; else allow."""
    allow, kill_process, eperm = 0x7FFF0000, 0x80000000, 0x00050000 | 1
    load, jump_eq, ret = 0x20, 0x15, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
    program = [(load, 0, 0, 4), (jump_eq, 1, 0, AUDIT_ARCH[machine]), (ret, 0, 0, kill_process), (load, 0, 0, 0)]
    for number in sorted(SYSCALLS[machine].values()):
        program += [(jump_eq, 0, 1, number), (ret, 0, 0, eperm)]
    program.append((ret, 0, 0, allow))
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)


def install_seccomp() -> None:
    """Install the filter on this process (irreversible). Raises :class:`SandboxUnavailable` when it
    cannot be installed: the caller must then not run candidate code."""
    machine = platform.machine()
    if machine not in SYSCALLS:
        raise SandboxUnavailable(f"no seccomp filter for {machine}")
    raw = seccomp_program(machine)
    buffer = ctypes.create_string_buffer(raw, len(raw))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(raw) // 8, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        raise SandboxUnavailable(f"PR_SET_NO_NEW_PRIVS failed (errno {ctypes.get_errno()})")
    if libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0) != 0:
        raise SandboxUnavailable(f"the seccomp filter was refused (errno {ctypes.get_errno()})")
