"""``autotts reproduce`` writes a self-contained report.html: the paper's numbers beside ours, the
curves, oracle bounds with each controller's distance from them, and CMC's policy card."""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import pytest

from autotts.data import load_store
from autotts.report.oracle import store_bounds
from test_report_support import assert_self_contained, autotts

STORE = "Qwen3-4B/aime25"
SEEDS = 2


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reproduce")
    autotts("reproduce", "--store", STORE, "--seeds", str(SEEDS), "--curve-seeds", "1", "--out", str(folder))
    return folder


def rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def html_rows(page: str) -> list[list[str]]:
    """Cell texts of every table row in the page."""
    return [
        [html.unescape(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)
    ]


@pytest.mark.slow
def test_report_shows_the_table_with_the_papers_numbers(out: Path) -> None:
    shown = html_rows((out / "report.html").read_text())
    table = rows(out / "table1.csv")
    assert any(row["paper_accuracy"] for row in table)
    for row in table:  # each CSV row appears, ours and the paper's side by side, numbers whole
        beta = f"{float(row['beta']):g}"
        match = [r for r in shown if r[:4] == [row["model"], row["benchmark"], row["method"], beta]]
        assert len(match) == 1, row
        cells = match[0]
        assert float(cells[4].replace(",", "")) == pytest.approx(float(row["accuracy"]), abs=0.005)
        assert float(cells[7].replace(",", "")) == pytest.approx(float(row["tokens"]), abs=0.5)
        if row["paper_accuracy"]:
            assert float(cells[5].replace(",", "")) == pytest.approx(float(row["paper_accuracy"]), abs=0.005)
        assert cells[-1].startswith("yes" if row["matches_paper"] == "True" else "no")
    page = (out / "report.html").read_text()
    assert page.index('<section class="summary">') < page.index(">Table 1: ours beside the paper</h2>")
    matched = sum(r["matches_paper"] == "True" for r in table)
    compared = sum(bool(r["paper_accuracy"]) for r in table)
    assert f"{matched} of {compared} cells equal the paper" in page


@pytest.mark.slow
def test_oracle_bounds_equal_a_direct_computation(out: Path) -> None:
    bounds = store_bounds(load_store(STORE), seeds=SEEDS)
    (row,) = rows(out / "oracle_bounds.csv")
    assert float(row["majority@pool %"]) == pytest.approx(bounds.majority_accuracy, abs=0.01)
    assert float(row["pass@64 %"]) == pytest.approx(bounds.pass_at[64], abs=0.01)
    assert float(row["cheapest majority tokens"]) == pytest.approx(bounds.cheapest_majority_tokens, abs=0.1)
    distance = rows(out / "oracle_distance.csv")
    table = {(r["method"], float(r["beta"])): r for r in rows(out / "table1.csv")}
    sc = next(r for r in distance if r["controller"] == "sc")
    assert float(sc["gap to majority@pool (points)"]) == pytest.approx(
        float(table[("SC@64", 1.0)]["accuracy"]) - bounds.majority_accuracy, abs=0.02
    )


@pytest.mark.slow
def test_every_plot_is_embedded_and_the_card_is_inside(out: Path) -> None:
    page = assert_self_contained(out / "report.html")
    assert any(p.name.startswith("card_timeline") for p in out.glob("*.png"))
    assert (out / "oracle_distance.png").exists() and any(p.name.startswith("curve_") for p in out.glob("*.png"))
    assert "Policy card: cmc" in page
