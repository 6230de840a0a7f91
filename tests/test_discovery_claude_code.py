"""The claude-code proposer with the real Claude Code CLI, pointed (ANTHROPIC_BASE_URL) at a loopback
server that speaks the streaming Messages API and scripts the agent: write candidate.py, run
./evaluate on it, then try to read the replay stores and the project (which the sandbox must hide).

Needs the CLI: ``npm install --prefix /opt/claude @anthropic-ai/claude-code`` (or $AUTOTTS_CLAUDE), and
bubblewrap for the containment part (``apt-get install bubblewrap``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from autotts.discovery.proposers.base import ProposalRequest
from autotts.discovery.proposers.claude_code import ClaudeCodeProposer, bubblewrap_prefix, parse_result
from discovery_helpers import FAST, VALID, discover, finished_rounds, round_info
from fake_servers import FakeServer, Reply

CLAUDE = os.environ.get("AUTOTTS_CLAUDE") or shutil.which("claude") or "/opt/claude/node_modules/.bin/claude"
needs_claude = pytest.mark.skipif(not Path(CLAUDE).exists(), reason="Claude Code CLI not installed")
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def _tool_results(body: dict) -> list[str]:
    texts = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if block.get("type") == "tool_result":
                inner = block.get("content")
                if isinstance(inner, list):
                    inner = " ".join(str(part.get("text", "")) for part in inner)
                texts.append(str(inner))
    return texts


def scripted_agent(workspace: Path, data_dir: Path, repo: Path):
    def respond(body: dict, index: int) -> Reply:
        tools = {tool.get("name") for tool in body.get("tools") or []}
        if "Write" not in tools:  # side requests (titles, summaries): plain text
            return Reply(text="ok")
        done = len(_tool_results(body))
        if done == 0:
            return Reply(
                text="Writing.", tool=("Write", {"file_path": str(workspace / "candidate.py"), "content": VALID})
            )
        if done == 1:
            command = "./evaluate candidate.py --seeds 2 --betas 0,1"
            return Reply(text="Evaluating.", tool=("Bash", {"command": command, "description": "evaluate"}))
        if done == 2:
            snoop = f"ls {data_dir}; ls {repo}; ls {workspace.parent / 'rounds'}; echo SNOOP-DONE"
            return Reply(text="Looking around.", tool=("Bash", {"command": snoop, "description": "look"}))
        return Reply(text="Done: candidate.py is written.")

    return respond


@pytest.mark.slow
@needs_claude
@needs_bwrap
def test_claude_code_round_in_bubblewrap(tmp_path: Path, replay_data: Path) -> None:
    run = tmp_path / "run"
    workspace = (run / "workspace").resolve()
    repo = Path(__file__).resolve().parents[1]
    with FakeServer("anthropic", scripted_agent(workspace, replay_data, repo)) as server:
        proc = discover(
            [
                "--proposer",
                "claude-code",
                "--command",
                CLAUDE,
                "--model",
                "claude-sonnet-4-5",
                "--rounds",
                "1",
                "--max-turns",
                "8",
                "--agent-sandbox",
                "bwrap",
                "--out",
                str(run),
                *FAST,
            ],
            env={"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-test"},
            timeout=400,
        )
        requests = list(server.requests)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert finished_rounds(run) == [1]
    info = round_info(run, 1)
    assert info["status"] == "valid", info
    assert info["cost_usd"] > 0  # total_cost_usd from the CLI's result JSON
    assert info["input_tokens"] > 0 and info["output_tokens"] > 0
    log = (run / "rounds" / "001" / "proposer.log").read_text()
    assert log.startswith("===== attempt 1 =====\n$ bwrap ") and '"type":"result"' in log

    final = max(requests, key=lambda body: len(_tool_results(body)))
    written, evaluated, snooped = _tool_results(final)[:3]
    assert "OK: validated and evaluated" in evaluated and "Qwen3-4B/aime24" in evaluated
    assert "SNOOP-DONE" in snooped
    assert snooped.count("No such file or directory") == 3  # stores, the repo and the run are invisible
    assert "aime25" not in snooped and "pyproject" not in snooped


@pytest.mark.slow
@needs_claude
def test_claude_code_without_bubblewrap_stays_in_the_workspace(tmp_path: Path, monkeypatch) -> None:
    """No bwrap: no shell, and Claude Code's scoped permission rules deny files outside the workspace."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-GOLD-ANSWER-42")

    def respond(body: dict, index: int) -> Reply:
        if "Write" not in {tool.get("name") for tool in body.get("tools") or []}:
            return Reply(text="ok")
        results = _tool_results(body)
        if not results:
            return Reply(text="Peeking.", tool=("Read", {"file_path": str(secret)}))
        if not any("candidate.py" in r for r in results):
            return Reply(
                text="Writing.", tool=("Write", {"file_path": str(workspace / "candidate.py"), "content": VALID})
            )
        return Reply(text="Done.")

    with FakeServer("anthropic", respond) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
        proposer = ClaudeCodeProposer(Path(CLAUDE).resolve(), model="claude-sonnet-4-5", max_turns=6, sandbox="none")
        proposal = proposer.propose(ProposalRequest(1, workspace, "unused", []))
        requests = list(server.requests)
    assert proposal.source == VALID and not proposal.error
    assert proposal.cost_usd > 0
    assert all("SECRET-GOLD-ANSWER-42" not in json.dumps(body) for body in requests)
    assert any("permission" in r for body in requests for r in _tool_results(body))


def test_command_line_and_containment_arguments(tmp_path: Path) -> None:
    proposer = ClaudeCodeProposer(Path("/opt/x/node_modules/.bin/claude"), model="m", max_turns=7, sandbox="none")
    argv = proposer.command_line(tmp_path, "PROMPT")
    assert argv[:3] == ["/opt/x/node_modules/.bin/claude", "-p", "PROMPT"]
    assert argv[argv.index("--output-format") + 1] == "json"
    assert argv[argv.index("--max-turns") + 1] == "7"
    assert argv[argv.index("--model") + 1] == "m"
    assert "Bash" not in argv[argv.index("--tools") + 1]  # no shell without bubblewrap
    assert argv[argv.index("--allowedTools") + 1].startswith("Read(./**),Edit(./**),Write(./**)")

    prefix = bubblewrap_prefix(tmp_path, Path("/opt/x/node_modules"))
    binds = [prefix[i + 1] for i, a in enumerate(prefix) if a in ("--bind", "--ro-bind")]
    assert str(tmp_path) in binds and "/opt/x/node_modules" in binds
    assert not any(b.startswith(("/work", "/root", "/home")) for b in binds)
    assert prefix[prefix.index("--bind") + 1] == str(tmp_path)  # the only writable bind


def test_result_json_is_trusted_over_exit_code() -> None:
    out = 'noise\n{"type":"result","is_error":true,"subtype":"error_max_turns","total_cost_usd":0.5}\n'
    assert parse_result(out)["is_error"] is True and parse_result(out)["total_cost_usd"] == 0.5
    assert parse_result("not json") == {}
    assert json.loads(json.dumps(parse_result('{"type":"result","usage":{"input_tokens":3}}')))["usage"]
