"""The report's plain-words parts: the verdict from paired intervals, decoded action timelines, and
panel grids without empty slots."""

from __future__ import annotations

import numpy as np
import pytest

from autotts.report.card import describe_actions
from autotts.report.compare import Comparison
from autotts.report.judgement import relation, verdict
from autotts.report.plots import _columns


def comparison(difference: tuple[float, float, float], saving: tuple[float, float, float]) -> Comparison:
    return Comparison("A", "B", ("s",), 10, 50.0, 50.0 - difference[0], 1.0, 1.0, difference, saving, (0.0, 0.0, 0.0))


@pytest.mark.parametrize(
    ("difference", "saving", "words"),
    [
        ((0.5, -1.0, 2.0), (40.0, 35.0, 45.0), "cheaper than SC@64 (40% fewer tokens) at equal accuracy"),
        ((-0.5, -1.2, 0.1), (3.0, -1.0, 7.0), "indistinguishable from SC@64 in accuracy and tokens"),
        ((2.0, 1.0, 3.0), (10.0, 5.0, 15.0), "better than SC@64: more accurate and 10% cheaper"),
        ((-2.0, -3.0, -1.0), (-10.0, -15.0, -5.0), "worse than SC@64: less accurate and 10% costlier"),
        ((-2.0, -3.0, -1.0), (60.0, 55.0, 65.0), "60% cheaper than SC@64 but less accurate"),
        ((2.0, 1.0, 3.0), (-20.0, -25.0, -15.0), "more accurate than SC@64 but 20% costlier"),
    ],
)
def test_relation_follows_the_intervals(difference, saving, words):
    assert relation(comparison(difference, saving), "SC@64") == words


def test_verdict_is_one_sentence_naming_both_references():
    text = verdict(
        "round 3",
        1.0,
        comparison((0.5, -1.0, 2.0), (40.0, 35.0, 45.0)),
        comparison((-0.2, -0.9, 0.4), (2.0, -1.0, 4.0)),
        75.2,
        8,
    )
    assert text.startswith("On 8 held-out stores, round 3 at β=1 is cheaper than SC@64")
    assert "indistinguishable from CMC β=1" in text and "75% fewer tokens" in text
    assert "never reaches" in verdict("r", 1.0, comparison((0, -1, 1), (0, -1, 1)), None, None, 1)


def _records(*steps):
    out = []
    for action, n in steps:
        out.append({"action": action, "branches": list(range(n)), "answers": ["1"] * n})
    return out


def test_actions_are_decoded_into_words():
    records = _records(("spawn", 11), *[("advance", 11)] * 9, ("spawn", 4), ("advance", 15), ("prune", 2))
    records.append({"action": "note", "stop": "agreement"})
    assert describe_actions(records) == (
        "opened 11, advanced 11 branches ×9, opened 4, advanced 15 branches, pruned 2, stopped: agreement"
    )
    widening = _records(("spawn", 2), *[x for i in range(1, 5) for x in (("spawn", 2), ("advance", 2 + 2 * i))])
    assert (
        describe_actions(widening) == "opened 2, 4× (opened 2 more, advanced every live branch once), up to 10 branches"
    )
    shrinking = _records(("spawn", 8), ("advance", 8), ("advance", 6), ("advance", 3), ("read_full", 1))
    assert describe_actions(shrinking) == "opened 8, advanced the live branches ×3 (8 → 3), read 1 in full"
    long = _records(*[x for i in range(30) for x in (("spawn", 1), ("prune", 1))])
    assert describe_actions(long, most=4).endswith("… 56 more steps")


@pytest.mark.parametrize("n", range(1, 13))
def test_panel_grids_leave_no_empty_slot_when_they_can(n):
    cols = _columns(n)
    assert 1 <= cols <= 4
    if n in (1, 2, 3, 4, 6, 8, 9, 12):
        assert n % cols == 0
    assert np.ceil(n / cols) * cols - n < cols
