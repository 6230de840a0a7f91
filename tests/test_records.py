"""The run folder's typed records: files written by the current code read back unchanged, malformed
ones are refused naming the file and the field, and there is one rule for the chosen round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotts.discovery.loop import DiscoveryConfig, new_run
from autotts.discovery.records import (
    Figures,
    ResultRow,
    RoundInfo,
    RunSummary,
    choose_round,
    mean_curve,
    read_results,
    write_results,
)
from autotts.discovery.runfolder import RunFolderError
from autotts.report.runs import chosen_round

# round.json exactly as `autotts discover` wrote it before the records existed (a real run's round 1)
OLD_ROUND = {
    "round": 1,
    "status": "valid",
    "reason": "",
    "proposer": "evolve",
    "model": "evolve",
    "attempts": 1,
    "cost_usd": 0.0,
    "input_tokens": 0,
    "output_tokens": 0,
    "proposer_seconds": 14.819,
    "seconds": 183.083,
    "search": {
        "max_beta": 1.0,
        "accuracy_at_max_beta": 64.9583,
        "tokens_at_max_beta": 455840.5,
        "peak_accuracy": 64.9583,
        "area_under_curve": 60.3579,
        "sc64_accuracy": 63.575,
        "tokens_at_sc64_accuracy": 235894.6,
        "saving_vs_sc64": 0.7538,
    },
    "heldout": None,
}


def test_an_old_round_json_reads_and_writes_back_identically(tmp_path: Path) -> None:
    (tmp_path / "round.json").write_text(json.dumps(OLD_ROUND))
    info = RoundInfo.read(tmp_path / "round.json")
    assert info.valid and info.search is not None and info.search.saving_vs_sc64 == 0.7538
    assert info.heldout is None and info.seconds == 183.083
    info.write(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "round.json").read_text()) == OLD_ROUND


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "ok"}, "'status'"),
        ({"round": "1"}, "'round'"),
        ({"cost_usd": "free"}, "'cost_usd'"),
        ({"search": {"max_beta": 1.0}}, "accuracy_at_max_beta"),
        ({"search": [1, 2]}, "'search'"),
    ],
)
def test_a_malformed_round_json_names_the_file_and_field(tmp_path: Path, change: dict, field: str) -> None:
    path = tmp_path / "round.json"
    path.write_text(json.dumps({**OLD_ROUND, **change}))
    with pytest.raises(RunFolderError) as error:
        RoundInfo.read(path)
    assert str(path) in str(error.value) and field in str(error.value)


def test_a_round_json_that_is_not_json_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "round.json").write_text('{"round": 1,')
    with pytest.raises(RunFolderError, match="not valid JSON"):
        RoundInfo.read_optional(tmp_path)
    assert RoundInfo.read_optional(tmp_path / "absent") is None


def test_results_rows_round_trip_and_mean_over_stores(tmp_path: Path) -> None:
    rows = [
        ResultRow(1.0, "a", 60.0, 50.0, 70.0, 1000.0, 100.0, 10, 30, 0),
        ResultRow(1.0, "b", 80.0, 70.0, 90.0, 3000.0, 300.0, 10, 30, 0),
        ResultRow(0.0, "a", 40.0, None, None, 10.0, 1.0, 10, 30, 0),
    ]
    write_results(tmp_path / "results.csv", rows)
    assert read_results(tmp_path / "results.csv") == rows
    assert mean_curve(rows) == [(0.0, 40.0, 10.0, 1.0), (1.0, 70.0, 2000.0, 200.0)]
    (tmp_path / "bad.csv").write_text("beta,store,accuracy,tokens\n1,a,high,3\n")
    with pytest.raises(RunFolderError, match="bad.csv line 2: column 'accuracy'"):
        read_results(tmp_path / "bad.csv")


def _figures(accuracy: float, tokens: float, area: float) -> Figures:
    return Figures(1.0, accuracy, tokens, accuracy, area)


def test_run_summary_round_trip(tmp_path: Path) -> None:
    from autotts.discovery.records import Reference

    rounds = [RoundInfo(1, "valid", search=_figures(70, 5, 3)), RoundInfo(2, "failed", reason="boom")]
    summary = RunSummary(1, "accuracy", rounds, {"search": {"sc": Reference(60.0, 9e5)}}, 0.5, 12.0, 2, 3)
    summary.write(tmp_path)
    back = RunSummary.read(tmp_path)
    assert back is not None and back.chosen_round == 1 and back.chosen is not None
    assert back.references["search"]["sc"] == Reference(60.0, 9e5)
    assert json.loads((tmp_path / "summary.json").read_text())["chosen"]["search"]["accuracy_at_max_beta"] == 70


def test_report_chooses_the_round_discover_would_for_an_unfinished_run(tmp_path: Path) -> None:
    config = DiscoveryConfig(rounds=4, seeds=3, betas=(0.0, 1.0), search_stores=("Qwen3-4B/aime24",), heldout_stores=())
    config.selection = "frontier"
    folder = new_run(tmp_path / "run", config)
    infos = [
        RoundInfo(1, "valid", search=_figures(80, 9, 1)),
        RoundInfo(2, "valid", search=_figures(75, 1, 4)),
        RoundInfo(3, "valid", search=_figures(75, 1, 4)),  # a tie: the earlier round wins
    ]
    for info in infos:
        info.write(folder.round_dir(info.round))
        folder.log_event("round_finished", round=info.round, status=info.status, reason="", cost_usd=0.0)
    assert chosen_round(folder.root) == choose_round(infos, "frontier") == 2
    assert choose_round(infos, "accuracy") == 1
