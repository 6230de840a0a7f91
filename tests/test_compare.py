"""Paired comparisons: statistics from real evaluations, and the ``autotts compare`` command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from autotts.cli import app
from autotts.evaluation import Cell, ControllerSpec, evaluate
from autotts.report.compare import Comparison, bootstrap_saving
from test_report_support import run_folder as build_run

STORES = ["Qwen3-4B/aime25", "Qwen3-1.7B/hmmt25"]
SEEDS = 3
AUTOTTS = [str(Path(sys.executable).with_name("autotts"))]


@pytest.fixture(scope="module")
def results() -> dict[str, list]:
    specs = {"cmc": ControllerSpec("cmc"), "sc": ControllerSpec("sc")}
    cells = [Cell(spec, 1.0, store, SEEDS) for spec in specs.values() for store in STORES]
    out = evaluate(cells, jobs=1)
    return {"cmc": out[: len(STORES)], "sc": out[len(STORES) :]}


def test_comparison_numbers_come_from_the_results(results) -> None:
    c = Comparison.of("cmc", results["cmc"], "sc", results["sc"])
    assert c.accuracy_a == pytest.approx(np.mean([r.accuracy for r in results["cmc"]]))
    assert c.tokens_b == pytest.approx(np.mean([r.mean_tokens for r in results["sc"]]))
    diff, low, high = c.accuracy_difference
    assert diff == pytest.approx(c.accuracy_a - c.accuracy_b)
    assert low <= diff <= high
    saving, s_low, s_high = c.token_saving
    assert saving == pytest.approx(100 * (1 - c.tokens_a / c.tokens_b))
    assert s_low <= saving <= s_high and saving > 20  # CMC at β=1 reads far less than SC@64


def test_self_comparison_is_exactly_zero(results) -> None:
    c = Comparison.of("sc", results["sc"], "sc again", results["sc"])
    assert c.accuracy_difference == (0.0, 0.0, 0.0)
    assert c.token_saving == pytest.approx((0.0, 0.0, 0.0))
    assert "not distinguishable in accuracy" in c.verdict()


def test_saving_interval_widens_with_noise() -> None:
    rng = np.random.default_rng(0)
    b = rng.uniform(1e5, 1e6, 30)
    tight = bootstrap_saving(b * 0.6, b)
    noisy = bootstrap_saving(b * rng.uniform(0.2, 1.0, 30), b)
    assert tight[0] == pytest.approx(40.0) and tight[2] - tight[1] < 1e-6
    assert noisy[2] - noisy[1] > 5


def test_unpaired_results_are_refused(results) -> None:
    with pytest.raises(ValueError, match="not paired"):
        Comparison.of("a", results["cmc"], "b", list(reversed(results["sc"])))


def test_verdict_reads_like_the_issue(results) -> None:
    text = Comparison.of("cmc", results["cmc"], "sc", results["sc"]).verdict()
    assert re.fullmatch(
        r"cmc (saves|spends) \d+%( more)? tokens \[-?\d+, -?\d+\] at [+−]\d+\.\d accuracy points "
        r"\[[+−]\d+\.\d, [+−]\d+\.\d\] vs sc; .+",
        text,
    ), text


@pytest.mark.slow
def test_compare_command_prints_the_paired_figures(results) -> None:
    run = subprocess.run(
        [*AUTOTTS, "compare", "cmc", "sc", *sum((["--store", s] for s in STORES), []), "--seeds", str(SEEDS), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    expected = Comparison.of("cmc", results["cmc"], "sc", results["sc"])
    assert data["accuracy_difference"] == pytest.approx(list(expected.accuracy_difference))
    assert data["token_saving_percent"] == pytest.approx(list(expected.token_saving))
    assert data["verdict"] == expected.verdict()
    assert [c["stores"] for c in data["per_store"]] == [[s] for s in STORES]
    assert data["per_store"][0]["accuracy_a"] == pytest.approx(results["cmc"][0].accuracy)


@pytest.mark.slow
def test_compare_command_table_and_verdict() -> None:
    run = subprocess.run(
        [*AUTOTTS, "compare", "cmc@0.5", "sc@1", "--store", STORES[0], "--seeds", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "COLUMNS": "160"},
    )
    assert run.returncode == 0, run.stderr
    assert "cmc@0.5 saves" in run.stdout and "vs sc@1" in run.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nonexistent-controller", "sc"], "unknown controller"),
        (["cmc@1.5", "sc"], "β takes numbers in [0, 1]"),
        (["cmc", "sc", "--store", "Nope/none"], "Nope/none"),
        (["missing_file.py", "sc"], "no such controller file"),
    ],
)
def test_compare_command_rejects_bad_input_without_traceback(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["compare", *args, "--seeds", "1"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_compare_a_discovery_runs_chosen_controller(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's file runs in the sandbox (no --trusted) and gives the in-process numbers."""
    from autotts.sandbox import seam as sandbox

    run_dir = build_run(tmp_path_factory)
    sandboxed: list[str] = []
    real = sandbox.evaluate_sandboxed

    def spy(cells, **kwargs):
        sandboxed.extend(c.controller.ref for c in cells)
        return real(cells, **kwargs)

    monkeypatch.setattr(sandbox, "evaluate_sandboxed", spy)
    result = CliRunner().invoke(
        app, ["compare", str(run_dir), "sc", "--store", STORES[0], "--seeds", "2", "--json", "-j", "1"]
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["a"] == f"{run_dir.name}:round 1"
    candidate = ControllerSpec(str(run_dir / "rounds" / "001" / "candidate.py"))
    (expected,) = evaluate([Cell(candidate, 1.0, STORES[0], 2)], jobs=1)
    assert data["accuracy_a"] == pytest.approx(expected.accuracy)
    assert data["tokens_a"] == pytest.approx(expected.mean_tokens)
    assert sandboxed == [str(run_dir / "rounds" / "001" / "candidate.py")]  # only the file, not sc
