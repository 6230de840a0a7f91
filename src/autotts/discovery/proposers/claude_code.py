"""The ``claude-code`` proposer: the real Claude Code CLI run headless in the workspace.

Command line (see :meth:`ClaudeCodeProposer.command_line`)::

    claude -p PROMPT --output-format json --max-turns N --model MODEL
           --tools Read,Edit,Write,Glob,Grep,Bash
           --allowedTools "Read(./**),Edit(./**),Write(./**),Glob(./**),Grep(./**),Bash"
           --disallowedTools WebFetch,WebSearch

Containment: by default (``--agent-sandbox auto`` with bubblewrap installed, or ``bwrap``) the CLI runs
under bubblewrap with a filesystem that holds only the system folders (/usr, /etc), the CLI's own
install folder, an empty /tmp and home, and the workspace (read-write) — no replay stores, no gold
answers, no autotts source, no other run. Its shell tools therefore only reach the workspace; drafts
are evaluated with ``./evaluate``, whose requests the discovery loop serves from outside the sandbox.
With ``--agent-sandbox none`` (no bubblewrap) the agent gets no shell at all (Read, Edit, Write,
Glob, Grep only) and permission rules scoped to the workspace (``Read(./**)``, ...): in headless mode
Claude Code denies any file tool call outside it (tested with the real CLI), but drafts cannot be
evaluated (``./evaluate`` needs the shell).

Cost and usage come from the CLI's result JSON (``total_cost_usd``, ``usage``, ``is_error``); its exit
code alone is not trusted.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from .base import Proposal, ProposalRequest, Proposer, ProposerOptions
from .command import run_program

FILE_TOOLS = "Read,Edit,Write,Glob,Grep"
# permission rules: file tools only on paths under the working directory (the workspace)
FILE_RULES = "Read(./**),Edit(./**),Write(./**),Glob(./**),Grep(./**)"
PASSED_ENV = (
    "ANTHROPIC_",
    "CLAUDE_",
    "AWS_",
    "GOOGLE_",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "LANG",
    "LC_",
    "TERM",
)
QUIET_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
}


class ClaudeCodeUnavailable(RuntimeError):
    pass


def find_claude(explicit: str | None = None) -> Path:
    """The ``claude`` executable: ``--command`` / ``$AUTOTTS_CLAUDE``, else on PATH."""
    candidate = explicit or os.environ.get("AUTOTTS_CLAUDE") or shutil.which("claude")
    if not candidate or not Path(candidate).exists():
        raise ClaudeCodeUnavailable(
            "the Claude Code CLI was not found: npm install -g @anthropic-ai/claude-code "
            "(or point $AUTOTTS_CLAUDE / --command at the claude executable)"
        )
    return Path(candidate).resolve()


def install_root(executable: Path) -> Path:
    """The folder to expose inside the sandbox: the npm package's node_modules (the CLI's binary and
    its platform package live side by side there)."""
    for parent in executable.parents:
        if parent.name == "node_modules":
            return parent
    return executable.parent


class ClaudeCodeProposer(Proposer):
    name = "claude-code"

    def __init__(
        self,
        executable: Path,
        *,
        model: str | None = None,
        max_turns: int = 30,
        sandbox: str = "auto",
        timeout: float = 3600.0,
    ):
        self.executable = executable
        self.model = model
        self.max_turns = max_turns
        self.timeout = timeout
        bwrap = shutil.which("bwrap")
        if sandbox == "auto":
            sandbox = "bwrap" if bwrap else "none"
        if sandbox == "bwrap" and not bwrap:
            raise ClaudeCodeUnavailable("--agent-sandbox bwrap needs bubblewrap: apt-get install bubblewrap")
        if sandbox not in ("bwrap", "none"):
            raise ValueError(f"--agent-sandbox takes auto, bwrap or none, not {sandbox!r}")
        self.sandbox = sandbox

    @classmethod
    def from_options(cls, options: ProposerOptions) -> ClaudeCodeProposer:
        return cls(
            find_claude(options.command),
            model=options.model,
            max_turns=options.max_turns,
            sandbox=options.sandbox,
            timeout=max(options.timeout, 60.0),
        )

    def command_line(self, workspace: Path, prompt: str) -> list[str]:
        shell = self.sandbox == "bwrap"  # a shell only where bubblewrap confines it
        tools = FILE_TOOLS + (",Bash" if shell else "")
        rules = FILE_RULES + (",Bash" if shell else "")
        claude = [
            str(self.executable),
            "-p",
            prompt,
            "--output-format",
            "json",
            "--max-turns",
            str(self.max_turns),
            "--tools",
            tools,
            "--allowedTools",
            rules,
            "--disallowedTools",
            "WebFetch,WebSearch",
        ]
        if self.model:
            claude += ["--model", self.model]
        if self.sandbox == "none":
            return claude
        return [*bubblewrap_prefix(workspace, install_root(self.executable)), *claude]

    def environment(self, workspace: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k.startswith(PASSED_ENV)}
        home = workspace / ".home" if self.sandbox == "none" else Path("/home/agent")
        if self.sandbox == "none":
            home.mkdir(exist_ok=True)
        env.update(QUIET_ENV)
        env.update({"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "PWD": str(workspace)})
        return env

    def propose(self, request: ProposalRequest) -> Proposal:
        workspace = request.workspace.resolve()
        prompt = agent_prompt(request, shell=self.sandbox == "bwrap")
        argv = self.command_line(workspace, prompt)
        started = time.monotonic()
        stdout, stderr, code = run_program(argv, workspace, self.environment(workspace), self.timeout)
        seconds = time.monotonic() - started
        result = parse_result(stdout)
        shown = [a if a != prompt else "<prompt>" for a in argv]
        log = f"$ {' '.join(shown)}\nexit code: {code}\n--- result\n{stdout}\n--- stderr\n{stderr}\n"
        usage = result.get("usage") or {}
        candidate = workspace / "candidate.py"
        source = candidate.read_text(encoding="utf-8", errors="replace") if candidate.is_file() else ""
        # a file the agent left is used even when the run ended in an error (e.g. out of turns)
        error = ""
        if not source and not result:
            error = f"claude produced no result JSON (exit code {code}): {stderr.strip()[-300:]}"
        elif not source and result.get("is_error"):
            error = f"claude reported an error ({result.get('subtype')}): {str(result.get('result', ''))[:300]}"
        elif not source:
            error = "the agent finished without writing candidate.py"
        return Proposal(
            source=source,
            log=log,
            model=self.model or next(iter(result.get("modelUsage") or {}), ""),
            input_tokens=int(usage.get("input_tokens", 0) or 0)
            + int(usage.get("cache_read_input_tokens", 0) or 0)
            + int(usage.get("cache_creation_input_tokens", 0) or 0),
            output_tokens=int(usage.get("output_tokens", 0) or 0),
            cost_usd=float(result.get("total_cost_usd", 0.0) or 0.0),
            seconds=seconds,
            error=error,
        )


def bubblewrap_prefix(workspace: Path, install: Path) -> list[str]:
    """bwrap arguments: system folders read-only, the CLI's install read-only, the workspace
    read-write, fresh /tmp, /proc, /dev and home; nothing else of the host's filesystem."""
    args = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    args += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            args += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            args += ["--ro-bind", str(target), str(target)]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/home"]
    args += ["--dir", "/home/agent"]
    if not str(install).startswith("/usr/"):
        args += ["--ro-bind", str(install), str(install)]
    args += ["--bind", str(workspace), str(workspace), "--chdir", str(workspace)]
    return args


def agent_prompt(request: ProposalRequest, *, shell: bool) -> str:
    check = "Check it with ./evaluate candidate.py --seeds 10 before you finish. " if shell else ""
    text = (
        f"Round {request.round}. Read README.md (the task and rules), API.md, baselines/ and history/ in this "
        f"folder, then write your controller to candidate.py. {check}Work only inside this folder."
    )
    if request.feedback:
        text += f"\n\nYour previous candidate.py was rejected: {request.feedback}\nFix it."
    return text


def parse_result(stdout: str) -> dict:
    """The CLI's result object: the last JSON object printed (``--output-format json``)."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and value.get("type") == "result":
            return value
    try:
        value = json.loads(stdout)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
