"""``report.html`` for ``autotts reproduce``: shows the tables (CSV) and plots (PNG) that the reproduce
command wrote into its output folder — the paper's numbers beside ours — plus the oracle bounds of
each store and how far the reproduced controllers are from them."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from ..evaluation import CellResult, ControllerSpec
from . import plots
from .card import build_card, render_card
from .html import HtmlReport, write_csv
from .oracle import distance_rows, oracle_bounds

MAX_TABLE_ROWS = 400


def _read_rows(path: Path) -> list[dict]:
    """CSV rows with numbers as numbers (so the page formats them: separators, never −0)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [{k: _value(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _value(text: str | None) -> object:
    if text is None or text == "":
        return None
    try:
        return float(text) if any(c in text for c in ".eE") or text.lstrip("-").isdigit() else text
    except ValueError:
        return text


# the columns of table1.csv a reader compares (latency and the notes are listed separately)
TABLE1_COLUMNS = {
    "model": "model",
    "benchmark": "benchmark",
    "method": "method",
    "beta": "β",
    "accuracy": "accuracy %",
    "paper_accuracy": "paper %",
    "accuracy_diff": "Δ points",
    "tokens": "tokens",
    "paper_tokens": "paper tokens",
    "tokens_diff_pct": "Δ tokens %",
    "matches": "equal to the paper",
}


def _table1_section(doc: HtmlReport, rows: list[dict]) -> None:
    """The answer first: how many cells equal the paper, per method, and why the others differ."""
    matched = [r for r in rows if str(r.get("matches_paper")) == "True"]
    methods = list(dict.fromkeys(str(r["method"]) for r in rows))
    summary = []
    for method in methods:
        mine = [r for r in rows if r["method"] == method and r.get("paper_accuracy") is not None]
        if not mine:
            continue
        summary.append(
            {
                "method": method,
                "cells": len(mine),
                "equal to the paper": sum(str(r.get("matches_paper")) == "True" for r in mine),
                "largest |Δ accuracy| (points)": max(abs(float(r.get("accuracy_diff") or 0.0)) for r in mine),
                "largest |Δ tokens| (%)": max(abs(float(r.get("tokens_diff_pct") or 0.0)) for r in mine),
            }
        )
    notes = []
    for note in dict.fromkeys(str(r["note"]) for r in rows if r.get("note")):
        which = [r for r in rows if r.get("note") == note]
        cells = sorted({f"{r['method']} on {r['model']}" for r in which})
        notes.append(f"* {', '.join(cells)} ({len(which)} cells): {note}")
    compared = sum(r.get("paper_accuracy") is not None for r in rows)
    verdict = f"{len(matched)} of {compared} cells equal the paper's Table 1 at its printed precision" + (
        "." if len(matched) == compared else f"; the {compared - len(matched)} others are explained below."
    )
    doc.summary_box("Does the reproduction match the paper?", verdict, summary, notes=notes)
    doc.heading("Table 1: ours beside the paper")
    shown = []
    for r in rows:
        row = {label: r.get(key) for key, label in TABLE1_COLUMNS.items() if key != "matches"}
        row["β"] = f"{float(r['beta']):g}" if r.get("beta") is not None else ""
        row["equal to the paper"] = (
            "yes" if str(r.get("matches_paper")) == "True" else "no, see *" if r.get("note") else "no"
        )
        shown.append(row)
    doc.paragraph("table1.csv (all columns, latency included) is beside this page. * explained above.", note=True)
    doc.table(shown)


def write_reproduce_html(
    out: Path,
    results: Sequence[CellResult] = (),
    *,
    stores: Sequence[str] | None = None,
    seeds: int | None = None,
    title: str = "Reproduction of AutoTTS Table 1",
    intro: str = "",
    card_controller: str | None = "cmc",
    card_seeds: int = 5,
) -> Path:
    """Write ``out/report.html`` from the CSVs and PNGs already in ``out`` (tables first, then plots),
    adding oracle bounds for ``stores`` (default: the stores of ``results``) under ``seeds`` (default:
    the results' seeds), the distance of every result from them, and the policy card of
    ``card_controller`` on the first store (``card_seeds`` seeds; None to leave it out).
    Returns the HTML path."""
    out = Path(out)
    doc = HtmlReport(title)
    if intro:
        doc.paragraph(intro)
    csvs = sorted(p for p in out.glob("*.csv") if not p.name.startswith(("oracle", "card_")))
    pngs = sorted(p for p in out.glob("*.png") if not p.name.startswith(("oracle", "card_")))
    for path in csvs:
        rows = _read_rows(path)
        if path.name == "table1.csv" and rows and "paper_accuracy" in rows[0]:
            _table1_section(doc, rows)
            continue
        doc.heading(path.stem.replace("_", " "))
        doc.paragraph(
            f"{path.name}: {len(rows)} rows"
            + (f", first {MAX_TABLE_ROWS} shown" if len(rows) > MAX_TABLE_ROWS else ""),
            note=True,
        )
        doc.table(rows[:MAX_TABLE_ROWS])
    if pngs:
        doc.heading("Plots")
        for path in pngs:
            doc.image(path, path.stem.replace("_", " "))
    names = list(stores) if stores is not None else list(dict.fromkeys(r.store for r in results))
    if names:
        n_seeds = seeds or (results[0].seeds if results else 100)
        bounds = oracle_bounds(names, n_seeds)
        doc.heading("Oracle bounds")
        doc.paragraph(
            "majority@pool: majority over all 128 branches; pass@k: some branch among k drawn is correct; cheapest "
            "majority tokens: the fewest tokens a controller reading branches whole in the seed's order needs before "
            f"the pool-majority answer leads (oracle stopping), averaged over {n_seeds} seeds and the questions.",
            note=True,
        )
        rows = [b.row() for b in bounds]
        write_csv(out / "oracle_bounds.csv", rows)
        doc.table(rows)
        if results:
            distances = distance_rows(bounds, list(results))
            write_csv(out / "oracle_distance.csv", distances)
            doc.table(distances)
            doc.image(plots.oracle_gaps(out / "oracle_distance.png", distances), "Distance from the limits.")
    if card_controller and names:
        doc.heading(f"Policy card: {card_controller}")
        card = build_card(ControllerSpec(card_controller), names[:1], seeds=card_seeds)
        doc.extend(render_card(card, out, prefix="card"))
    return doc.write(out / "report.html")
