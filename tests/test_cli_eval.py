"""``autotts eval`` and ``autotts reproduce`` run as a user runs them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

AUTOTTS = [sys.executable, "-m", "autotts.cli"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*AUTOTTS, *args], capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow
def test_eval_json_rows_have_the_contract_fields_and_means():
    result = run(
        "eval",
        "-c",
        "sc",
        "-c",
        "asc",
        "--store",
        "Qwen3-4B/aime24",
        "--store",
        "Qwen3-8B/aime24",
        "--beta",
        "1",
        "--seeds",
        "10",
        "--json",
    )
    rows = json.loads(result.stdout)
    per_store = [r for r in rows if not r["store"].startswith("mean")]
    assert {(r["controller"], r["store"]) for r in per_store} == {
        (c, s) for c in ("sc", "asc") for s in ("Qwen3-4B/aime24", "Qwen3-8B/aime24")
    }
    for r in per_store:
        assert {
            "controller",
            "beta",
            "store",
            "accuracy",
            "accuracy_ci",
            "tokens",
            "latency_tokens",
            "seeds",
            "questions",
        } <= set(r)
        low, high = r["accuracy_ci"]
        assert low <= r["accuracy"] <= high and r["seeds"] == 10 and r["questions"] == 30
    means = [r for r in rows if r["store"].startswith("mean")]
    sc_rows = [r for r in per_store if r["controller"] == "sc"]
    sc_mean = next(r for r in means if r["controller"] == "sc")
    assert abs(sc_mean["accuracy"] - sum(r["accuracy"] for r in sc_rows) / 2) < 1e-3


@pytest.mark.slow
def test_results_do_not_depend_on_jobs():
    args = ("eval", "-c", "cmc", "--store", "Qwen3-1.7B/aime24", "--beta", "0.3,0.8", "--seeds", "8", "--json")
    one = json.loads(run(*args, "--jobs", "1").stdout)
    two = json.loads(run(*args, "--jobs", "2").stdout)
    assert one == two


@pytest.mark.slow
def test_param_override_changes_the_budget():
    base = json.loads(run("eval", "-c", "sc", "--store", "Qwen3-4B/aime24", "--seeds", "3", "--json").stdout)
    small = json.loads(
        run("eval", "-c", "sc", "-p", "k=4", "--store", "Qwen3-4B/aime24", "--seeds", "3", "--json").stdout
    )
    assert small[0]["tokens"] < base[0]["tokens"] / 10
    bad = run("eval", "-c", "sc", "-p", "window=3", "--store", "Qwen3-4B/aime24", check=False)
    assert bad.returncode == 2 and "unknown parameter" in bad.stderr


CRASHY = """
from autotts.controllers import Controller


class Crashy(Controller):
    def run(self, episode):
        ids = episode.spawn(2)
        if episode.seed == 2 and episode.answer(ids[0]) != episode.answer(ids[1]):
            raise RuntimeError("boom")
        return episode.answer(ids[0])
"""


def test_a_crashing_controller_is_reported_with_store_question_and_seed(tmp_path):
    path = tmp_path / "crashy.py"
    path.write_text(CRASHY)
    result = run("eval", "-c", str(path), "--store", "Qwen3-0.6B/aime24", "--seeds", "4", "--trusted", check=False)
    assert result.returncode == 1
    assert "Qwen3-0.6B/aime24 question" in result.stderr and "seed 2" in result.stderr and "boom" in result.stderr
    assert "autotts eval" in result.stdout  # the table of the other runs was still printed


@pytest.mark.slow
def test_traces_file_has_one_record_per_episode(tmp_path):
    path = tmp_path / "traces.jsonl"
    run("eval", "-c", "esc", "--store", "Qwen3-4B/aime24", "--seeds", "2", "--traces", str(path))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 60
    first = records[0]
    assert first["trace"][0]["action"] == "read_full" and len(first["trace"][0]["branches"]) == 8
    assert first["tokens"] == sum(w["tokens"] for w in first["trace"] if w["action"] != "note")


@pytest.mark.slow
def test_unknown_controller_and_missing_store_are_clear_errors():
    unknown = run("eval", "-c", "nope", "--store", "Qwen3-4B/aime24", check=False)
    assert unknown.returncode == 2 and "unknown controller 'nope'" in unknown.stderr
    missing = run("eval", "-c", "sc", "--store", "Qwen9/aime24", check=False)
    assert missing.returncode == 2 and "unknown store" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_reproduce_writes_table_and_plots(tmp_path):
    out = tmp_path / "rep"
    result = run("reproduce", "--store", "Qwen3-4B/aime24", "--seeds", "100", "--curve-seeds", "3", "--out", str(out))
    with (out / "table1.csv").open() as handle:
        rows = {(r["method"], r["beta"]): r for r in csv.DictReader(handle)}
    assert len(rows) == 6
    # published harness figures for this store: SC@64 80.00 / 886,829.9 tokens; CMC β=0.5 81.97 / 236,735.1
    assert rows[("SC@64", "1.0")]["accuracy"] == "80.0" and rows[("SC@64", "1.0")]["matches_paper"] == "True"
    assert rows[("CMC", "0.5")]["accuracy"] == "81.97"
    assert rows[("ASC", "1.0")]["note"]  # the known deviation is explained
    assert (out / "table1.md").read_text().count("\n") == 8
    assert (out / "curve_Qwen3-4B_aime24.png").stat().st_size > 10_000
    assert "equal the paper" in result.stdout
    assert f"report written to {out / 'report.html'}" in result.stdout
    html = (out / "report.html").read_text()
    box = html.index('<section class="summary">')
    assert box < html.index(">Table 1: ours beside the paper</h2>")
    assert "of 6 cells equal the paper&#x27;s Table 1" in html
