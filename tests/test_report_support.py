"""A discovery run folder and its report, built once per test session and shared by the report tests.

The run is made by the real ``autotts discover`` (a ``command`` proposer, two held-out stores, few
seeds, to stay fast); the report by the real ``autotts report``.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import pytest

AUTOTTS = [str(Path(sys.executable).with_name("autotts"))]
SEARCH = ["Qwen3-4B/aime24"]
HELDOUT = ["Qwen3-4B/aime25", "Qwen3-0.6B/hmmt25"]
BETAS = [0.0, 0.5, 1.0]
SEEDS = 2
_BUILT: dict[str, Path] = {}


def autotts(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real ``autotts`` command; fail the test with its stderr unless it succeeds."""
    run = subprocess.run([*AUTOTTS, *args], capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stderr
    return run


def assert_self_contained(page: Path) -> str:
    """Every PNG beside ``page`` is embedded in it as a data URI, and nothing is fetched from elsewhere
    (no scripts, no external addresses). Returns the page's text."""
    text = page.read_text(encoding="utf-8")
    embedded = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"', text)
    pngs = sorted(page.parent.glob("*.png"))
    assert pngs and len(embedded) == len(pngs)
    assert {base64.b64decode(e) for e in embedded} == {p.read_bytes() for p in pngs}
    assert "<script" not in text and "://" not in text and "<link" not in text
    return text


CANDIDATE = '''
from autotts.controllers import Controller, majority


class WidthThenDepth(Controller):
    """Open a β-sized pool, advance it to the end, majority of the finals."""

    @classmethod
    def schedule(cls, beta):
        return {"width": max(1, round(2 + 14 * beta))}

    def run(self, episode):
        ids = episode.spawn(self.params["width"])
        while episode.live():
            episode.advance(episode.live())
        return majority(episode.answer(i) for i in ids)
'''


PROPOSER = f"""
import json, os, sys
from pathlib import Path

good = {CANDIDATE!r}
# round 1 proposes a working controller, round 2 one that validation must reject
text = good if os.environ["AUTOTTS_ROUND"] == "1" else "import os\\n"
(Path(sys.argv[1]) / "candidate.py").write_text(text)
print(json.dumps({{"cost_usd": 0.01 * int(os.environ["AUTOTTS_ROUND"])}}))
"""


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-round run of the real ``autotts discover`` with a ``command`` proposer: round 1 valid
    (chosen), round 2 rejected by validation."""
    if "run" in _BUILT:
        return _BUILT["run"]
    base = tmp_path_factory.mktemp("run")
    script = base / "propose.py"
    script.write_text(PROPOSER)
    root = base / "run"
    args = ["discover", "--proposer", "command", "--command", f"{sys.executable} {script}", "--rounds", "2"]
    args += ["--out", str(root), "--betas", ",".join(map(str, BETAS)), "--seeds", str(SEEDS), "--repairs", "0"]
    args += ["--baselines", "sc", "--baseline-seeds", "1", "--jobs", "2"]
    args += [x for store in SEARCH for x in ("--search-stores", store)]
    args += [x for store in HELDOUT for x in ("--heldout-stores", store)]
    autotts(*args)
    _BUILT["run"] = root
    return root


def discovery_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder ``autotts report`` wrote for :func:`run_folder`."""
    if "report" in _BUILT:
        return _BUILT["report"]
    out = tmp_path_factory.mktemp("report")
    run_dir = str(run_folder(tmp_path_factory))
    run = autotts("report", run_dir, "--out", str(out), "--card-seeds", "2", "--jobs", "2", "--trusted")
    assert "report written to" in run.stdout
    _BUILT["report"] = out
    return out
