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
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


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
