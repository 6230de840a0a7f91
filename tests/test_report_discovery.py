"""``autotts report RUN``: a discovery run folder rendered into a self-contained report."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autotts.cli import app
from autotts.evaluation import Cell, ControllerSpec, evaluate, tokens_at_accuracy
from autotts.report.compare import Comparison, fmt_interval
from test_report_support import HELDOUT, SEEDS, assert_self_contained
from test_report_support import discovery_report as build_report
from test_report_support import run_folder as build_run


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_run(tmp_path_factory)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_report(tmp_path_factory)


def read(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_every_image_is_embedded(report: Path) -> None:
    assert_self_contained(report / "report.html")
    names = {p.name for p in report.glob("*.png")}
    assert {"trajectory.png", "heldout_scaling.png", "heldout_oracle.png", "card_schedule.png"} <= names


@pytest.mark.slow
def test_trajectory_marks_the_failed_round(report: Path, run_folder: Path) -> None:
    rows = read(report / "trajectory.csv")
    assert [r["status"] for r in rows] == ["valid", "invalid"]
    assert "`import os` is not allowed" in rows[1]["reason"] and rows[1]["failed"] == "True"
    search = [r for r in read(run_folder / "rounds/001/results.csv") if float(r["beta"]) == 1.0]
    assert float(rows[0]["search_accuracy"]) == pytest.approx(sum(float(r["accuracy"]) for r in search) / len(search))
    assert float(rows[0]["cost_usd"]) == pytest.approx(0.01) and float(rows[1]["cost_usd"]) == pytest.approx(0.02)
    assert "`import os` is not allowed" in (report / "report.html").read_text()


@pytest.mark.slow
def test_table_numbers_equal_a_fresh_evaluation(report: Path, run_folder: Path) -> None:
    candidate = ControllerSpec(str(run_folder / "rounds/001/candidate.py"))
    fresh = evaluate(
        [Cell(candidate, 1.0, s, SEEDS) for s in HELDOUT]
        + [Cell(ControllerSpec("sc"), 1.0, s, SEEDS) for s in HELDOUT],
        jobs=1,
    )
    table = read(report / "heldout_table1.csv")
    for result, sc64 in zip(fresh[: len(HELDOUT)], fresh[len(HELDOUT) :], strict=True):
        row = next(
            r for r in table if r["store"] == result.store and r["method"] == "round 1" and float(r["beta"]) == 1.0
        )
        assert float(row["accuracy"]) == pytest.approx(result.accuracy, abs=0.005)
        assert float(row["tokens"]) == pytest.approx(result.mean_tokens, abs=0.05)
        paired = Comparison.of("round 1", [result], "SC@64", [sc64])
        assert row["Δacc vs SC@64"] == fmt_interval(*paired.accuracy_difference)
        assert row["token saving % vs SC@64"] == fmt_interval(*paired.token_saving)
        assert row["token saving % vs CMC"]
    for result in fresh[len(HELDOUT) :]:
        row = next(r for r in table if r["store"] == result.store and r["method"] == "SC")
        assert float(row["accuracy"]) == pytest.approx(result.accuracy, abs=0.005)
    frontier = read(report / "heldout_frontier.csv")
    assert {r["method"] for r in frontier} >= {"round 1", "SC", "CMC", "Parallel-Probe"}
    oracle = read(report / "heldout_oracle.csv")
    assert [r["store"] for r in oracle] == HELDOUT


@pytest.mark.slow
def test_report_contains_the_policy_card_and_code(report: Path) -> None:
    html = (report / "report.html").read_text()
    assert "Policy card of round 1" in html and "class WidthThenDepth" in html
    assert "Where it fails" in html


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    for target, message in ((tmp_path, "not a run folder"), (tmp_path / "absent", "no such run folder")):
        result = CliRunner().invoke(app, ["report", str(target)])
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
        assert message in result.stderr


@pytest.mark.slow
def test_frontier_figures_follow_from_the_results(report: Path) -> None:
    results = read(report / "heldout_results.csv")
    frontier = {(r["method"], r["store"]): r for r in read(report / "heldout_frontier.csv")}
    for store in HELDOUT:
        sc64 = next(r for r in results if r["controller"] == "SC" and r["store"] == store and float(r["beta"]) == 1)
        for method in ("round 1", "CMC", "ASC"):
            points = [
                (float(r["tokens"]), float(r["accuracy"]))
                for r in results
                if r["controller"] == method and r["store"] == store
            ]
            row = frontier[(method, store)]
            assert float(row["peak accuracy"]) == pytest.approx(max(a for _, a in points), abs=0.01)
            reach = tokens_at_accuracy(points, float(sc64["accuracy"]))
            if reach is None:
                assert row["tokens at SC@64 accuracy"] == "" and row["saving % vs SC@64"] == ""
            else:
                assert float(row["tokens at SC@64 accuracy"]) == pytest.approx(reach, rel=1e-4)
                saving = 100 * (1 - reach / float(sc64["tokens"]))
                assert float(row["saving % vs SC@64"]) == pytest.approx(saving, abs=0.01)


@pytest.mark.slow
def test_the_answer_comes_first(report: Path) -> None:
    """The verdict box opens the page; the code and the hashes come after everything else."""
    html = (report / "report.html").read_text()
    body = html[html.index("<body>") :]
    box = body.index('<section class="summary">')

    def at(heading: str) -> int:
        return body.index(f">{heading}</h2>")

    assert box < at("Discovery trajectory") < at("Per held-out store") < at("Provenance")
    assert body.index("<details><summary>Source of candidate.py") > at("Policy card of round 1")
    assert body.index("sha256") > at("Provenance")
    verdict = body[body.index('<p class="verdict">') : body.index("</p>", box)]
    assert "round 1 at β=1 is" in verdict and "SC@64" in verdict and "CMC" in verdict
    summary = {(r["chosen β"], r["against"]): r for r in read(report / "heldout_summary.csv")}
    assert set(summary) == {("0.5", "SC@64"), ("0.5", "CMC β=0.5"), ("1", "SC@64"), ("1", "CMC β=1")}
    # the box's pooled figures are the pooled rows of Table 1
    table = read(report / "heldout_table1.csv")
    pooled = next(
        r for r in table if r["store"].startswith("mean of") and r["method"] == "round 1" and r["beta"] == "1.0"
    )
    assert summary[("1", "SC@64")]["Δ accuracy, points [95% CI]"] == pooled["Δacc vs SC@64"]
    assert summary[("1", "CMC β=1")]["token saving % [95% CI]"] == pooled["token saving % vs CMC"]
    for name in ("heldout_pooled.png", "heldout_differences.png"):
        assert (report / name).stat().st_size > 10_000


@pytest.mark.slow
def test_pooled_frontier_row_is_read_off_the_mean_curve(report: Path) -> None:
    results = read(report / "heldout_results.csv")
    frontier = {(r["method"], r["store"]): r for r in read(report / "heldout_frontier.csv")}
    sc64 = [r for r in results if r["controller"] == "SC" and float(r["beta"]) == 1]
    target = sum(float(r["accuracy"]) for r in sc64) / len(sc64)
    for method in ("round 1", "CMC"):
        betas = sorted({float(r["beta"]) for r in results if r["controller"] == method})
        points = []
        for beta in betas:
            members = [r for r in results if r["controller"] == method and float(r["beta"]) == beta]
            points.append(
                (
                    sum(float(r["tokens"]) for r in members) / len(members),
                    sum(float(r["accuracy"]) for r in members) / len(members),
                )
            )
        reach = tokens_at_accuracy(points, target)
        row = frontier[(method, f"mean of {len(HELDOUT)} stores")]
        if reach is None:
            assert row["tokens at SC@64 accuracy"] == ""
        else:
            assert float(row["tokens at SC@64 accuracy"]) == pytest.approx(reach, rel=1e-4)
