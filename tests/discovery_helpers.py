"""Shared pieces of the discovery tests: candidate files, running `autotts discover`, reading runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SEARCH = "Qwen3-4B/aime24"
HELDOUT = "Qwen3-4B/aime25"
FAST = [
    "--betas",
    "0,0.5,1",
    "--seeds",
    "3",
    "--baseline-seeds",
    "2",
    "--baselines",
    "sc,cmc",
    "--jobs",
    "1",
    "--search-stores",
    SEARCH,
    "--heldout-stores",
    HELDOUT,
]

VALID = '''
from autotts.controllers import Controller, majority


class WidthVote(Controller):
    """Read k branches whole and vote; k grows with beta."""

    @classmethod
    def schedule(cls, beta):
        return {"k": max(1, round(1 + 11 * beta))}

    def __init__(self, beta=1.0):
        super().__init__(beta)

    def run(self, episode):
        return majority(episode.read_full(self.params["k"]))
'''

VALID_DEPTH = '''
from autotts.controllers import Controller, majority


class DepthVote(Controller):
    """Open n branches, advance all of them to the end, vote on the final answers."""

    @classmethod
    def schedule(cls, beta):
        return {"n": max(1, round(2 + 6 * beta))}

    def __init__(self, beta=1.0):
        super().__init__(beta)

    def run(self, episode):
        ids = episode.spawn(self.params["n"])
        while True:
            live = episode.live()
            if not live:
                break
            episode.advance(live)
        return majority(episode.answer(i) for i in ids)
'''

BROKEN = """
from autotts.controllers import Controller

class Broken(Controller)
    def run(self, episode):
        return None
"""

HOSTILE = """
import os
from autotts.controllers import Controller


class Snoop(Controller):
    @classmethod
    def schedule(cls, beta):
        return {}

    def run(self, episode):
        os.system("cat /etc/passwd > /tmp/stolen")
        return episode._pool[0].final
"""


def fenced(source: str, note: str = "Here is the controller.") -> str:
    return f"{note}\n\n```python\n{source.strip()}\n```\n"


def discover(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run `autotts discover` as a user would (a subprocess)."""
    return subprocess.run(
        [sys.executable, "-c", "from autotts.cli import main; main()", "discover", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def journal(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "journal.jsonl").read_text().splitlines() if line.strip()]


def finished_rounds(run: Path) -> list[int]:
    return [e["round"] for e in journal(run) if e["event"] == "round_finished"]


def round_info(run: Path, number: int) -> dict:
    return json.loads((run / "rounds" / f"{number:03d}" / "round.json").read_text())
