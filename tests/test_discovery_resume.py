"""A run killed with SIGKILL (during a proposal, and during an evaluation) and resumed has every round
exactly once, and a proposal saved before the kill is not bought again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from discovery_helpers import FAST, VALID, finished_rounds, journal

AGENT = """
import os, pathlib, sys, time
workspace = pathlib.Path(sys.argv[1])
state = pathlib.Path(os.environ["AGENT_STATE"])
number = os.environ["AUTOTTS_ROUND"]
with open(state / "invocations.log", "a") as log:
    log.write(number + "\\n")
if number == "2" and not (state / "slept").exists():
    (state / "slept").write_text("x")
    time.sleep(120)  # killed here
(workspace / "candidate.py").write_text(pathlib.Path(os.environ["AGENT_SOURCE"]).read_text())
"""


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from autotts.cli import main; main()", "discover", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so the kill takes its workers too
    )


def _wait_for(condition, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _events(run: Path, name: str, number: int) -> bool:
    return (run / "journal.jsonl").is_file() and any(
        e["event"] == name and e.get("round") == number for e in journal(run)
    )


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path: Path) -> None:
    state, run = tmp_path / "agent", tmp_path / "run"
    state.mkdir()
    (state / "agent.py").write_text(AGENT)
    (state / "candidate.py").write_text(VALID)
    env = {"AGENT_STATE": str(state), "AGENT_SOURCE": str(state / "candidate.py")}
    command = f"{sys.executable} {state / 'agent.py'}"

    # 1. killed while the proposer of round 2 is working
    proc = _start(["--proposer", "command", "--command", command, "--rounds", "3", "--out", str(run), *FAST], env)
    _wait_for(lambda: (state / "slept").exists() or proc.poll() is not None)
    _kill(proc)
    assert finished_rounds(run) == [1]

    # 2. resumed, then killed once round 3's proposal is saved (during its validation or evaluation)
    proc = _start(["--resume", str(run)], env)
    _wait_for(lambda: _events(run, "proposal_saved", 3) or proc.poll() is not None)
    _kill(proc)
    assert finished_rounds(run) in ([1, 2], [1, 2, 3])

    # 3. resumed to the end
    done = subprocess.run(
        [sys.executable, "-c", "from autotts.cli import main; main()", "discover", "--resume", str(run)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert finished_rounds(run) == [1, 2, 3]  # every round exactly once, in order
    invocations = (state / "invocations.log").read_text().split()
    assert invocations == ["1", "2", "2", "3"]  # round 3's saved proposal was reused, not bought again
    events = journal(run)
    assert sum(e["event"] == "run_resumed" for e in events) == 2
    assert sum(e["event"] == "baselines_done" for e in events) == 1
    for number in (1, 2, 3):
        folder = run / "rounds" / f"{number:03d}"
        info = json.loads((folder / "round.json").read_text())
        assert info["status"] == "valid", info
        assert (folder / "results.csv").read_text().count("\n") == 1 + 3  # header + 3 β × 1 store
        assert not list(folder.glob(".*.tmp"))  # no torn temporary files left behind
    summary = json.loads((run / "summary.json").read_text())
    assert summary["rounds_done"] == 3 and summary["chosen_round"] in (1, 2, 3)
