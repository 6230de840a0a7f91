"""The ``command`` proposer: any program, run in the workspace with its path as the last argument.

``--command "python my_agent.py"`` runs ``python my_agent.py WORKSPACE`` with the working directory
set to the workspace; the program must leave ``candidate.py`` there. The round number, the seed and
the validator's feedback (when repairing) arrive as the environment variables ``AUTOTTS_ROUND``,
``AUTOTTS_SEED`` and ``AUTOTTS_FEEDBACK``; the prompt is in ``README.md``. If the program prints a
JSON object with ``cost_usd`` (and optionally ``input_tokens``, ``output_tokens``, ``model``) as its
last line of output, that is recorded as its cost.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

from .base import Proposal, ProposalRequest, Proposer, ProposerOptions


class CommandProposer(Proposer):
    name = "command"

    def __init__(self, command: str, timeout: float = 3600.0):
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("the command proposer needs --command 'PROGRAM ARGS'")
        self.timeout = timeout

    @classmethod
    def from_options(cls, options: ProposerOptions) -> CommandProposer:
        if not options.command:
            raise ValueError("--proposer command needs --command 'PROGRAM ARGS' (run as PROGRAM ARGS WORKSPACE)")
        return cls(options.command, timeout=max(options.timeout, 60.0))

    def propose(self, request: ProposalRequest) -> Proposal:
        env = {
            **os.environ,
            "AUTOTTS_ROUND": str(request.round),
            "AUTOTTS_SEED": str(request.seed),
            "AUTOTTS_FEEDBACK": request.feedback or "",
        }
        started = time.monotonic()
        output, errors, code = run_program([*self.argv, str(request.workspace)], request.workspace, env, self.timeout)
        log = f"$ {shlex.join([*self.argv, str(request.workspace)])}\nexit code: {code}\n"
        log += f"--- stdout\n{output}\n--- stderr\n{errors}\n"
        usage = _reported_usage(output)
        candidate = request.workspace / "candidate.py"
        source = candidate.read_text(encoding="utf-8", errors="replace") if candidate.is_file() else ""
        error = "" if source else f"the command left no candidate.py (exit code {code}; {errors.strip()[-300:]})"
        return Proposal(
            source=source,
            log=log,
            model=str(usage.get("model", "")),
            input_tokens=int(usage.get("input_tokens", 0) or 0),
            output_tokens=int(usage.get("output_tokens", 0) or 0),
            cost_usd=float(usage.get("cost_usd", 0.0) or 0.0),
            seconds=time.monotonic() - started,
            error=error,
        )


def run_program(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[str, str, int | None]:
    """Run a proposer's program to its end: ``(stdout, stderr, exit code or None if it never exited)``.
    It stays in our process group, so stopping ``autotts discover`` stops it too."""
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return partial, f"timed out after {timeout:g} s", None
    except OSError as exc:
        return "", f"cannot run {argv[0]!r}: {exc}", None
    return proc.stdout, proc.stderr, proc.returncode


def _reported_usage(output: str) -> dict:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return {}
    try:
        value = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
