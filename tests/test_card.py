"""Policy cards: figures read from traces agree with the episodes themselves; the card renders."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from autotts.cli import app
from autotts.controllers.base import get_controller_class
from autotts.data import load_store
from autotts.env.core import Episode
from autotts.evaluation import ControllerSpec
from autotts.report.card import build_card, episode_shape
from test_report_support import CANDIDATE, assert_self_contained, autotts

STORE = "Qwen3-4B/aime24"
SEEDS = 2
BETAS = (0.0, 1.0)
AUTOTTS = [str(Path(sys.executable).with_name("autotts"))]


@pytest.fixture(scope="module")
def card():
    return build_card(ControllerSpec("cmc"), [STORE], seeds=SEEDS, betas=BETAS, jobs=1)


def played(beta: float) -> list[Episode]:
    """The same episodes, played directly (no traces read)."""
    controller = get_controller_class("cmc")(beta)
    episodes = []
    for seed in range(SEEDS):
        for question in load_store(STORE).questions:
            episode = Episode(question, seed)
            controller.run(episode)
            episodes.append(episode)
    return episodes


def test_schedule_table_is_the_controllers_schedule(card) -> None:
    cls = get_controller_class("cmc")
    for row in card.schedule:
        expected = cls.schedule(row["beta"])
        assert {k: row[k] for k in expected} == {
            k: round(v, 4) if isinstance(v, float) else v for k, v in expected.items()
        }


def test_behaviour_equals_what_the_episodes_did(card) -> None:
    for row in card.behaviour:
        episodes = played(row["beta"])
        assert row["branches opened"] == pytest.approx(np.mean([e.opened for e in episodes]))
        pruned = [sum(e.is_pruned(i) for i in range(e.opened)) for e in episodes]
        assert row["branches pruned"] == pytest.approx(np.mean(pruned))
        assert row["tokens"] == pytest.approx(np.mean([e.tokens for e in episodes]))
        assert row["latency tokens"] == pytest.approx(np.mean([e.latency_tokens for e in episodes]))
        result = next(r for r in card.results if r.beta == row["beta"])
        assert row["accuracy"] == pytest.approx(result.accuracy)
        assert "confident" in row["stop reasons"]  # CMC writes its stop reason as a trace note


def test_depth_counts_waves_per_branch() -> None:
    records = [
        {"wave": 0, "action": "spawn", "branches": [0, 1], "answers": ["1", "2"], "tokens": 1000, "latency": 500},
        {"wave": 1, "action": "advance", "branches": [0], "answers": ["1"], "tokens": 500, "latency": 500},
        {"wave": 2, "action": "prune", "branches": [1], "answers": [], "tokens": 0, "latency": 0},
        {"wave": 3, "action": "read_full", "branches": [2], "answers": ["1"], "tokens": 9000, "latency": 9000},
        {"wave": 4, "action": "note", "stop": "done"},
    ]
    shape = episode_shape(records)
    assert shape == {"opened": 3, "pruned": 1, "depths": [2, 1, 1], "stop": "done"}


def test_failures_are_the_questions_it_gets_wrong(card) -> None:
    top = next(r for r in card.results if r.beta == max(BETAS))
    wrong = {int(q) for q in np.flatnonzero(top.per_question_accuracy < 50)}
    assert wrong and {row["question"] for row in card.failures} == wrong
    store = load_store(STORE)
    for row in card.failures:
        assert row["gold"] == store.questions[row["question"]].gold
        assert row["accuracy %"] == pytest.approx(top.per_question_accuracy[row["question"]], abs=0.05)


@pytest.mark.slow
def test_card_command_writes_a_self_contained_card(tmp_path: Path) -> None:
    autotts("card", "--controller", "cmc", "--out", str(tmp_path), "--seeds", "2", "--beta", "0,1", "--jobs", "1")
    html = assert_self_contained(tmp_path / "card.html")
    assert len(list(tmp_path.glob("*.png"))) >= 5
    schedule_csv = (tmp_path / "card_schedule.csv").read_text().splitlines()
    assert schedule_csv[0].startswith("beta,n_init,max_branches")
    assert "Where it fails" in html and "Decision timelines" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "nope"], "unknown controller"),
        (["-c", "cmc", "--beta", "2"], "--beta takes numbers in [0, 1]"),
        (["-c", "cmc", "--store", "Nope/none"], "Nope/none"),
    ],
)
def test_card_command_rejects_bad_input(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["card", *args])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert message in result.stderr


@pytest.mark.slow
def test_an_untrusted_file_is_carded_through_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autotts.controllers import loading

    path = tmp_path / "candidate.py"
    path.write_text(CANDIDATE)
    imported: list[str] = []
    real_import = loading._import_file
    monkeypatch.setattr(loading, "_import_file", lambda p: imported.append(str(p)) or real_import(p))
    spec = ControllerSpec(str(path))
    card = build_card(spec, [STORE], seeds=1, betas=(0.0, 1.0), jobs=1, trusted=False)
    assert imported == []  # never loaded in this process, which holds the gold answers
    assert [(r["beta"], r["width"]) for r in card.schedule] == [(0.0, 2), (1.0, 16)]
    trusted = build_card(spec, [STORE], seeds=1, betas=(0.0, 1.0), jobs=1, trusted=True)
    assert imported  # the trusted path does import it: the spy works
    assert card.behaviour == trusted.behaviour
