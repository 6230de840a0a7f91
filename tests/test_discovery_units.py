"""Unit tests of the discovery layer's parts: run folder, journal, workspace, history, selection,
pricing, reply parsing, the proposer registry and the command line's errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autotts.cli import app
from autotts.discovery.history import pick_betas, trace_digest
from autotts.discovery.pricing import PriceTable
from autotts.discovery.proposers import ProposerUnavailable, create_proposer, proposer_class
from autotts.discovery.proposers.base import ProposerOptions
from autotts.discovery.proposers.chat import extract_python
from autotts.discovery.records import Figures, RoundInfo, choose_round
from autotts.discovery.runfolder import RunFolder, RunFolderError, read_csv, rows_to_csv, write_atomic
from autotts.discovery.selection import frontier_figures
from autotts.discovery.workspace import EvaluationBroker, Workspace, api_documentation
from autotts.evaluation import ControllerSpec, evaluate, grid
from discovery_helpers import FAST, VALID

runner = CliRunner()


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_atomic(target, "old")

    class Boom(bytes):
        pass

    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert not list(tmp_path.glob(".*.tmp"))


def test_journal_survives_a_torn_last_line_and_tracks_state(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path / "run", {"proposer": "x"}, {}, "0")
    folder.log_event("baselines_done")
    folder.log_event("round_started", round=1)
    folder.log_event("proposal_saved", round=1, attempt=1)
    folder.log_event("round_finished", round=1, status="valid")
    folder.log_event("round_started", round=2)
    folder.log_event("proposal_saved", round=2, attempt=1)
    with (folder.root / "journal.jsonl").open("a") as handle:
        handle.write('{"event": "round_finished", "rou')  # killed mid-write
    state = RunFolder.open(folder.root).state()
    assert state.baselines_done and sorted(state.finished_rounds) == [1]
    assert 2 in state.saved_proposals and not state.run_finished
    with pytest.raises(RunFolderError, match="--resume"):
        RunFolder.create(folder.root, {}, {}, "0")
    with pytest.raises(RunFolderError, match="not a run folder"):
        RunFolder.open(tmp_path)


def test_csv_round_trip(tmp_path: Path) -> None:
    rows = [{"beta": 0.5, "store": "a/b", "accuracy": 81.25, "seeds": 3}]
    write_atomic(tmp_path / "r.csv", rows_to_csv(rows, ("beta", "store", "accuracy", "seeds")))
    assert read_csv(tmp_path / "r.csv") == rows


def test_api_documentation_comes_from_docstrings() -> None:
    from autotts.env.core import Episode

    doc = api_documentation()
    assert Episode.spawn.__doc__.split("\n")[0].strip() in doc
    assert "`majority(" in doc and "`vote_stats(" in doc and "`confidence(" in doc
    assert "`schedule(beta" in doc and "`run(episode" in doc
    assert "`run_batch(batch" in doc and "`advance(steps" in doc and "`vote_stats() ->" in doc  # lockstep form


def test_workspace_holds_only_what_the_proposer_may_see(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path / "run", {}, {}, "0")
    (folder.baselines_dir).mkdir()
    for name in ("results.csv", "traces_cmc.md", "heldout.csv", "reference_search.csv"):
        (folder.baselines_dir / name).write_text("x")
    round_dir = folder.round_dir(1)
    round_dir.mkdir(parents=True)
    for name in ("candidate.py", "results.csv", "traces.md", "heldout.csv", "round.json", "failures.txt"):
        # round.json: a record as the loop writes it (readers check it); the rest are placeholders
        (round_dir / name).write_text('{"round": 1, "status": "invalid"}' if name == "round.json" else "x")
    root = Workspace(folder.workspace_dir, traces=True, task="TASK").build(folder, [1])
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert "history/round_001/candidate.py" in files and "history/round_001/traces.md" in files
    assert "baselines/cmc.py" in files and "baselines/results.csv" in files and "API.md" in files
    assert not any("heldout" in f or "failures" in f or "reference" in f for f in files)
    assert (root / "README.md").read_text() == "TASK" and os.access(root / "evaluate", os.X_OK)
    no_traces = Workspace(tmp_path / "ws2", traces=False, task="T").build(folder, [1])
    assert not list(no_traces.rglob("traces*"))


def test_evaluate_script_talks_to_the_broker(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = RunFolder.create(tmp_path / "run", {}, {}, "0")
    root = Workspace(folder.workspace_dir, traces=True, task="T", eval_timeout=30).build(folder, [])
    (root / "candidate.py").write_text(VALID)
    seen = []

    def serve(source: str, seeds: int, betas: list[float]) -> str:
        seen.append((source, seeds, betas))
        return "OK: fine"

    with EvaluationBroker(root, serve, poll=0.05):
        proc = subprocess.run(
            [sys.executable, "evaluate", "--seeds", "500", "--betas", "0,1"], cwd=root, capture_output=True, text=True
        )
    assert proc.returncode == 0 and "OK: fine" in proc.stdout
    assert seen == [(VALID, 100, [0.0, 1.0])]  # seeds capped at 100


def test_trace_digest_marks_right_and_wrong_without_gold(tmp_path: Path) -> None:
    results = evaluate(grid([ControllerSpec("cmc")], [0.0, 1.0], ["Qwen3-4B/aime24"], 1), jobs=1, want_traces=True)
    digest = trace_digest(results, [0.0, 1.0])
    assert "### Qwen3-4B/aime24, β=0" in digest and "### Qwen3-4B/aime24, β=1" in digest
    assert digest.count("| yes |") + digest.count("| NO |") == 60
    assert "Full traces of informative episodes" in digest and "0: spawn" in digest
    assert len(digest) < 16_000  # so a round of 3 β x 4 stores stays near 40 kB, readable whole
    assert "gold" not in digest.lower()
    assert pick_betas([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], 3) == [0, 0.5, 1.0]


def test_selection_and_frontier() -> None:
    rows = [
        {"beta": 0.0, "store": "s", "accuracy": 60.0, "tokens": 1e4, "latency_tokens": 1},
        {"beta": 1.0, "store": "s", "accuracy": 80.0, "tokens": 1e5, "latency_tokens": 1},
    ]
    figures = frontier_figures(rows, {"accuracy": 70.0, "tokens": 4e5})
    assert figures["accuracy_at_max_beta"] == 80.0
    assert figures["tokens_at_sc64_accuracy"] == pytest.approx(10**4.5, rel=1e-6)
    assert figures["saving_vs_sc64"] == pytest.approx(1 - 10**4.5 / 4e5, abs=1e-4)
    assert Figures.from_json(figures, "f").saving_vs_sc64 == figures["saving_vs_sc64"]

    def search(accuracy: float, tokens: float, area: float) -> Figures:
        return Figures(1.0, accuracy, tokens, accuracy, area)

    rounds = [
        RoundInfo(1, "valid", search=search(80, 9, 1)),
        RoundInfo(2, "invalid"),
        RoundInfo(3, "valid", search=search(80, 5, 0)),
        RoundInfo(4, "valid", search=search(79, 1, 5)),
    ]
    assert choose_round(rounds) == 3  # same accuracy, fewer tokens
    assert choose_round(rounds, "frontier") == 4
    rounds[0] = RoundInfo(1, "valid", search=search(80.08, 9, 1))
    assert choose_round(rounds) == 3  # a lead within the tie margin does not buy more tokens
    rounds[0] = RoundInfo(1, "valid", search=search(80.6, 9, 1))
    assert choose_round(rounds) == 1  # a real one does
    assert choose_round([RoundInfo(1, "failed")]) is None


def test_pricing_table_and_override(tmp_path: Path) -> None:
    table = PriceTable()
    assert table.cost("gpt-4o-mini-2024", 1_000_000, 0) == pytest.approx(0.15)  # longest prefix wins
    assert table.cost("unknown-model", 10, 10) is None
    override = tmp_path / "p.json"
    override.write_text(json.dumps({"my-local": [1, 2]}))
    assert PriceTable.load(override).cost("my-local", 1_000_000, 1_000_000) == pytest.approx(3.0)
    override.write_text("[1,2]")
    with pytest.raises(ValueError, match="price table"):
        PriceTable.load(override)


def test_extract_python_prefers_the_block_with_the_class() -> None:
    reply = "Try:\n```bash\nls\n```\nthen\n```python\nclass A:\n    pass\n```\n"
    assert extract_python(reply) == "class A:\n    pass\n"
    assert extract_python("no code") is None
    assert extract_python("```\nx = 1\n```") == "x = 1\n"
    assert extract_python("```bash\nls\n```") is None


def test_registry_and_unavailable_proposers() -> None:
    with pytest.raises(ProposerUnavailable, match="unknown proposer"):
        proposer_class("gpt-agent")
    with pytest.raises(ValueError, match="--command"):
        create_proposer("command", ProposerOptions())
    assert proposer_class("openai").name == "openai"


def test_cli_rejects_bad_input_without_traceback(tmp_path: Path) -> None:
    cases = [
        (["--betas", "0,2"], "--betas"),
        (["--proposer", "nope"], "unknown proposer"),
        (["--resume", str(tmp_path)], "not a run folder"),
        (["--search-stores", "Qwen3-4B/aime24", "--heldout-stores", "Qwen3-4B/aime24"], "both search and held-out"),
        (["--proposer", "command"], "--command"),
        (["--baselines", "sc,foo"], "unknown controller"),
    ]
    for args, message in cases:
        result = runner.invoke(
            app, ["discover", "--out", str(tmp_path / "new"), *args] if "--resume" not in args else ["discover", *args]
        )
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    help_text = runner.invoke(app, ["discover", "--help"]).output
    assert "Examples" in help_text and "--resume" in help_text
    assert FAST  # the fast settings the end-to-end tests share


def test_active_time_skips_the_pause_between_kill_and_resume() -> None:
    from autotts.discovery.loop import active_seconds

    events = [
        {"time": "2026-01-01T00:00:00Z", "event": "session_started"},
        {"time": "2026-01-01T00:00:10Z", "event": "round_finished"},
        {"time": "2026-01-01T05:00:00Z", "event": "session_started"},  # resumed five hours later
        {"time": "2026-01-01T05:00:05Z", "event": "run_finished"},
    ]
    assert active_seconds(events) == 15.0


def test_no_traces_ablation_keeps_traces_out_of_the_prompt(tmp_path: Path) -> None:
    from autotts.discovery.prompt import history_digest, task_statement

    folder = RunFolder.create(tmp_path / "run", {}, {}, "0")
    round_dir = folder.round_dir(1)
    round_dir.mkdir(parents=True)
    (round_dir / "round.json").write_text(json.dumps({"round": 1, "status": "valid", "search": {}}))
    (round_dir / "candidate.py").write_text(VALID)
    (round_dir / "traces.md").write_text("S4 A4x3 TRACE-LINE")
    assert "TRACE-LINE" in history_digest(folder, [1], traces=True)
    assert "TRACE-LINE" not in history_digest(folder, [1], traces=False)
    assert "class WidthVote" in history_digest(folder, [1], traces=False)
    with_rule = task_statement(beta_rule=True, traces=True, betas=[0, 1], stores=["s"], agent=False)
    without = task_statement(beta_rule=False, traces=False, betas=[0, 1], stores=["s"], agent=False)
    assert "takes β and nothing else" in with_rule and "takes β and nothing else" not in without
    assert "Use the traces" in with_rule and "Use the traces" not in without


def test_a_round_fails_where_the_trace_pass_and_the_evaluation_disagree() -> None:
    """The loop compares the trace pass (run) with the evaluation's first seeds (run_batch when the
    file has one): a candidate whose run_batch strays only outside validation's quick run is caught."""
    from autotts.discovery.loop import _first_disagreement

    store = "Qwen3-0.6B/aime24"
    evaluated = evaluate(grid([ControllerSpec("cmc")], [0.3], [store], 25), jobs=1)
    traced = evaluate(grid([ControllerSpec("cmc")], [0.3], [store], 1), jobs=1, want_traces=True)
    assert _first_disagreement(traced, evaluated) == ""
    other = evaluate(grid([ControllerSpec("cmc", (("patience", 1),))], [0.3], [store], 25), jobs=1)
    reason = _first_disagreement(traced, other)
    assert reason.startswith("run_batch and run disagree in") and f"{store} question" in reason
    assert "seed 0 at β=0.3" in reason


def test_frontier_figures_of_a_reference_that_spent_nothing_have_no_saving() -> None:
    """A reference whose every episode failed (0 tokens) gives no saving figure instead of a crash."""
    from autotts.discovery.selection import frontier_figures

    rows = [
        {"beta": b, "store": "s", "accuracy": a, "tokens": t, "latency_tokens": t}
        for b, a, t in ((0.0, 10.0, 100.0), (1.0, 30.0, 400.0))
    ]
    figures = frontier_figures(rows, {"accuracy": 20.0, "tokens": 0.0})
    assert figures["saving_vs_sc64"] is None and figures["tokens_at_sc64_accuracy"] is not None
    assert frontier_figures(rows, {"accuracy": 20.0, "tokens": 1000.0})["saving_vs_sc64"] > 0.7
