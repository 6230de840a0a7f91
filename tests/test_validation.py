"""Validation of candidate files: the static screen, the sandboxed checks, the CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from autotts.cli import app
from autotts.discovery.screen import screen_source
from autotts.discovery.validation import validate_candidate
from autotts.evaluation import Cell, ControllerSpec, evaluate
from autotts.sandbox import evaluate_sandboxed

HERE = Path(__file__).parent
CANDIDATES = HERE / "candidates"
HOSTILE = sorted((HERE / "hostile").glob("*.py"))

HEADER = "from autotts.controllers import Controller, majority\n\n\n"


def write(tmp_path: Path, body: str, name: str = "candidate.py") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def check(result, name: str) -> dict:
    return next(c for c in result.checks if c["name"] == name)


# ---------------------------------------------------------------- the static screen


@pytest.mark.parametrize(
    ("snippet", "rule"),
    [
        ("import os", "imports"),
        ("from subprocess import run", "imports"),
        ("import autotts.env.core", "imports"),
        ("from autotts.controllers.base import register", "imports"),
        ("from autotts.controllers.loading import load_file_controller", "imports"),
        ("from scipy import io", "imports"),
        ("from math import *", "imports"),
        ("x = getattr(1, 'real')", "builtins"),
        ("eval('1')", "builtins"),
        ("open('f')", "builtins"),
        ("y = vars()", "builtins"),
        ("T = type('T', (), {})", "builtins"),
        ("import numpy as np\nnp.lib.stride_tricks.as_strided", "builtins"),
        ("x = (1).__class__", "dunders"),
        ("x = __builtins__", "dunders"),
        ("class A:\n    def __getattr__(self, name):\n        return 1", "dunders"),
        ("class A(metaclass=type):\n    pass", "dunders"),
        ("def run(self, episode):\n    return episode._pool", "private"),
        ("def helper(ep):\n    return ep._src[0]", "private"),
        ("from autotts.env import Episode\nEpisode.advance = None", "monkeypatch"),
        ("def run(self, episode):\n    episode.tokens = 0", "monkeypatch"),
        ("def run(self, e):\n    e.latency_tokens = 0", "monkeypatch"),
        ("def run(self, episode):\n    alias = episode\n    alias.tokens = 0", "monkeypatch"),
        ("def run(self, episode):\n    episode.trace[0] = None", "monkeypatch"),
        ("def run(self, episode):\n    type(episode).advance = None", "monkeypatch"),
        ("import math\nmath.pi = 3", "monkeypatch"),
        ("def run(self, episode):\n    return '{0._pool}'.format(episode)", "format"),
        ("def run(self, episode, fmt):\n    return fmt.format(episode)", "format"),
    ],
)
def test_screen_flags(snippet, rule):
    findings = screen_source(snippet)
    assert rule in {f.rule for f in findings}, findings
    assert all(f.line >= 1 and f.message for f in findings)


def test_screen_accepts_ordinary_controller_code():
    source = textwrap.dedent(
        """
        from __future__ import annotations
        import math, random, heapq
        from collections import Counter, deque
        from dataclasses import dataclass
        import numpy as np
        from scipy import stats
        from autotts.controllers import Controller, majority, vote_stats, confidence
        from autotts.env import Episode

        @dataclass
        class Arm:
            wins: int = 0

        class Good(Controller):
            def __init__(self, beta: float):
                super().__init__(beta)
                self._cache = {}

            @classmethod
            def schedule(cls, beta):
                return {"k": int(round(2 + 62 * beta))}

            def run(self, episode: Episode) -> str | None:
                arm = Arm()
                arm.wins += 1
                self._cache["n"] = len(episode.live())
                ids = episode.spawn(2)
                text = f"{len(ids)} {self._cache}" + "{:.2f}".format(math.pi)
                counts = Counter(episode.answers(ids))
                return majority(counts.elements()) if text else None

        if __name__ == "__main__":
            print(Good(0.5))
        """
    )
    assert screen_source(source) == []


BEHAVIOURAL = {  # see test_sandbox.py
    "cross_episode_cache.py",
    "flood_log.py",
    "infinite_loop.py",
    "memory_bomb.py",
    "non_string.py",
    "raises.py",
    "batch_write_costs.py",
}


def test_every_hostile_file_fails_validation_with_a_reason():
    for path in HOSTILE:
        if path.name in BEHAVIOURAL:
            continue  # nothing to see statically: contained at run time (test_sandbox.py, quick-run test below)
        result = validate_candidate(path)
        assert not result.ok, path.name
        assert result.reason and ":" in result.reason
        failed = [c for c in result.checks if c["ok"] is False]
        assert failed and failed[0]["detail"] in result.reason
        assert all(c["ok"] is None for c in result.checks if c["name"] == "quick run"), "it must never run"


# ---------------------------------------------------------------- sandboxed checks


@pytest.mark.slow
def test_honest_candidates_validate():
    for path in (CANDIDATES / "honest_vote.py", CANDIDATES / "cmc_like.py", CANDIDATES / "batched_vote.py"):
        result = validate_candidate(path)
        assert result.ok, result.reason
        assert result.reason == ""
        batch_check = check(result, "run_batch agrees")["ok"]
        assert batch_check is (True if path.name == "batched_vote.py" else None)  # skipped without run_batch
        if batch_check is None:  # said plainly: the file has no lockstep form (no earlier check failed)
            assert "no run_batch" in check(result, "run_batch agrees")["detail"]
        assert all(c["ok"] for c in result.checks if c["name"] != "run_batch agrees"), result.checks
        assert sorted(result.tokens_by_beta) == [0.0, 0.5, 1.0]
        data = json.loads(json.dumps(result.to_json()))
        assert data["ok"] and data["class_name"] == result.class_name


@pytest.mark.slow
def test_a_run_batch_that_decides_differently_is_rejected(tmp_path):
    source = (CANDIDATES / "batched_vote.py").read_text()
    one_window_more = 'for k in range(self.params["windows"] + 1):'
    path = write(tmp_path, source.replace('for k in range(self.params["windows"]):', one_window_more))
    source_ok = validate_candidate(CANDIDATES / "batched_vote.py")
    assert check(source_ok, "run_batch agrees")["ok"] is True
    result = validate_candidate(path)
    assert not result.ok and "run_batch and run disagree" in result.reason
    assert check(result, "monotone tokens")["ok"] is None


@pytest.mark.slow
def test_extra_constructor_argument_is_rejected_unless_no_beta_rule(tmp_path):
    path = write(
        tmp_path,
        """
        class Wide(Controller):
            def __init__(self, beta, width=8):
                super().__init__(beta)
                self.width = width

            def run(self, episode):
                return majority(episode.read_full(self.width))
        """,
    )
    strict = validate_candidate(path)
    assert not strict.ok and strict.reason.startswith("constructor:") and "width" in strict.reason
    assert validate_candidate(path, beta_rule=False).ok


@pytest.mark.slow
def test_non_monotone_budget_is_rejected(tmp_path):
    path = write(
        tmp_path,
        """
        class Backwards(Controller):
            @classmethod
            def schedule(cls, beta):
                return {"k": max(1, round(64 ** (1 - beta)))}

            def run(self, episode):
                return majority(episode.read_full(self.params["k"]))
        """,
    )
    result = validate_candidate(path)
    assert not result.ok and result.reason.startswith("monotone tokens:")
    assert result.tokens_by_beta[0.0] > result.tokens_by_beta[1.0]


@pytest.mark.slow
def test_impure_schedule_is_rejected(tmp_path):
    path = write(
        tmp_path,
        """
        CALLS = []

        class Drifting(Controller):
            @classmethod
            def schedule(cls, beta):
                CALLS.append(beta)
                return {"k": 1 + len(CALLS) % 5}

            def run(self, episode):
                return majority(episode.read_full(self.params["k"]))
        """,
    )
    result = validate_candidate(path)
    assert not result.ok and result.reason.startswith("schedule:") and "pure function" in result.reason


@pytest.mark.slow
def test_remembering_answers_across_episodes_is_rejected(tmp_path):
    """Module state survives from one episode to the next within a process: validation plays the
    episodes in two orders and sees the answers change."""
    path = write(
        tmp_path,
        """
        KNOWN = {}


        class Memo(Controller):
            def run(self, episode):
                key = tuple(episode.read_full(2))  # a fingerprint of the question
                if key not in KNOWN:
                    KNOWN[key] = majority(episode.read_full(30))
                return KNOWN[key]
        """,
    )
    result = validate_candidate(path, betas=(0.0, 1.0))
    assert not result.ok and result.reason.startswith("independent episodes:")


@pytest.mark.slow
def test_each_episode_gets_its_own_controller_instance(tmp_path):
    """State kept on ``self`` cannot leak between episodes: every episode has a fresh instance."""
    path = write(
        tmp_path,
        """
        class Memo(Controller):
            def __init__(self, beta):
                super().__init__(beta)
                self.known = {}

            def run(self, episode):
                key = tuple(episode.read_full(2))
                if key not in self.known:
                    self.known[key] = majority(episode.read_full(30))
                return self.known[key]
        """,
    )
    result = validate_candidate(path, betas=(0.0, 1.0))
    assert result.ok, result.reason
    (cell,) = evaluate_sandboxed([Cell(ControllerSpec(str(path)), 1.0, "Qwen3-4B/aime24", 2)], jobs=1)
    (sc32,) = evaluate([Cell(ControllerSpec("sc", (("k", 32),)), 1.0, "Qwen3-4B/aime24", 2)], jobs=1)
    assert not cell.failures and np.array_equal(cell.tokens, sc32.tokens)  # 32 branches read in every episode


@pytest.mark.slow
def test_numpy_values_in_schedule_get_a_hint(tmp_path):
    path = write(
        tmp_path,
        """
        import numpy as np

        class Numpyish(Controller):
            @classmethod
            def schedule(cls, beta):
                return {"k": np.int64(1)}

            def run(self, episode):
                return majority(episode.read_full(1))
        """,
    )
    result = validate_candidate(path)
    assert not result.ok and "float()" in result.reason


@pytest.mark.slow
def test_shape_problems_are_reported(tmp_path):
    two = write(tmp_path, "class A(Controller):\n    pass\n\nclass B(Controller):\n    pass\n", "two.py")
    assert "exactly one" in validate_candidate(two).reason
    upstream = tmp_path / "upstream.py"
    upstream.write_text("class Method:\n    def solve(self, question):\n        return question.probe_new()[0]\n")
    assert "subclass autotts.controllers.Controller" in validate_candidate(upstream).reason
    greedy = write(
        tmp_path, "class G(Controller):\n    max_branches = 128\n\n    def run(self, episode):\n        return None\n"
    )
    assert validate_candidate(greedy).reason.startswith("ceiling:")
    broken = tmp_path / "broken.py"
    broken.write_text("def run(:\n")
    result = validate_candidate(broken)
    assert result.reason.startswith("parses: line 1")
    assert [c["ok"] for c in result.checks][-1] is None  # later checks are marked as not run


@pytest.mark.slow
def test_a_raising_candidate_fails_the_quick_run_with_its_episode(tmp_path):
    path = write(
        tmp_path,
        """
        class Fragile(Controller):
            def run(self, episode):
                episode.read_full(1)
                raise ValueError("no idea")
        """,
    )
    result = validate_candidate(path, betas=(0.0, 1.0))
    assert result.reason.startswith("quick run:")
    assert "ValueError: no idea" in result.reason and "question 0 seed 0" in result.reason


# ---------------------------------------------------------------- the command


@pytest.mark.slow
def test_validate_command_exit_codes_and_json(tmp_path):
    runner = CliRunner()
    good = runner.invoke(app, ["validate", str(CANDIDATES / "honest_vote.py")])
    assert good.exit_code == 0, good.output
    assert "valid" in good.output and "monotone tokens" in good.output
    bad = runner.invoke(app, ["validate", str(HOSTILE[0]), "--json"])
    assert bad.exit_code == 1
    verdict = json.loads(bad.stdout)
    assert verdict["ok"] is False and verdict["reason"] and verdict["checks"]
    assert runner.invoke(app, ["validate", str(tmp_path / "missing.py")]).exit_code == 2
    assert runner.invoke(app, ["validate", str(CANDIDATES / "honest_vote.py"), "--betas", "2"]).exit_code == 2
    assert "Examples" in runner.invoke(app, ["validate", "--help"]).output
