"""``autotts report RUN``: the report of a discovery run, read from its run folder (layout in
:mod:`autotts.discovery.runfolder`), plus a fresh judgement of the chosen controller on the held-out
stores and its policy card.

Sections, answer first: the verdict box (pooled held-out Δaccuracy and token saving against SC@64
and CMC with 95% intervals, the saving at SC@64's accuracy, the search-vs-held-out gap, one sentence
in plain words) with the pooled accuracy-vs-tokens and paired-difference figures; the trajectory
(each round's accuracy and tokens at the largest β, with SC@64 and CMC as reference lines, failed
rounds marked, cost and time); per-store curves and the tables (:mod:`autotts.report.judgement`);
the policy card (:mod:`autotts.report.card`); the chosen round's code (collapsed); provenance (run
configuration, totals, store hashes) at the bottom.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..discovery.records import Figures, RoundInfo, read_results
from ..discovery.runfolder import RunFolder, RunFolderError
from ..evaluation import ControllerSpec
from ..evaluation.summary import mean_over_stores
from . import plots
from .card import build_card, render_card
from .html import HtmlReport, write_csv
from .judgement import BASELINE_BETAS, TABLE_BETAS, judge, plan_size, render_headline, render_per_store
from .runs import ReportInputError, at_max_beta, chosen_round


@dataclass
class RoundSummary:
    """One round as the trajectory shows it."""

    number: int
    status: str
    reason: str
    cost_usd: float | None
    seconds: float | None
    search: tuple[float, float] | None  # (accuracy %, tokens) at the largest β, mean over stores
    heldout: tuple[float, float] | None
    candidate: Path

    def row(self) -> dict[str, Any]:
        return {
            "round": self.number,
            "status": self.status,
            "reason": self.reason,
            "search_accuracy": None if self.search is None else round(self.search[0], 4),
            "search_tokens": None if self.search is None else round(self.search[1], 1),
            "heldout_accuracy": None if self.heldout is None else round(self.heldout[0], 4),
            "heldout_tokens": None if self.heldout is None else round(self.heldout[1], 1),
            "cost_usd": self.cost_usd,
            "seconds": None if self.seconds is None else round(self.seconds, 1),
            "failed": self.status != "valid",
        }


def read_rounds(folder: RunFolder) -> list[RoundSummary]:
    """Every finished round, in order (a round without round.json is listed as unfinished)."""
    rounds_dir = folder.root / "rounds"
    out = []
    for path in sorted(p for p in rounds_dir.glob("[0-9][0-9][0-9]") if p.is_dir()) if rounds_dir.is_dir() else []:
        meta = RoundInfo.read_optional(path)
        out.append(
            RoundSummary(
                number=meta.round if meta else int(path.name),
                status=meta.status if meta else "unfinished",
                reason=meta.reason if meta else "",
                cost_usd=meta.cost_usd if meta else None,
                seconds=meta.seconds if meta else None,
                search=at_max_beta(path / "results.csv"),
                heldout=at_max_beta(path / "heldout.csv"),
                candidate=path / "candidate.py",
            )
        )
    return out


def write_discovery_report(
    run: Path,
    out: Path | None = None,
    *,
    seeds: int | None = None,
    curve_seeds: int | None = 20,
    card_seeds: int = 5,
    baseline_betas=BASELINE_BETAS,
    chosen_betas=None,
    heldout_stores: list[str] | None = None,
    jobs: int | None = None,
    trusted: bool = False,
    on_block: Callable | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Path:
    """Write ``report.html`` (and its PNGs/CSVs) for the run in ``run``; returns the HTML path.
    ``on_block`` is called per evaluated block of the judgement, ``on_stage`` with a line naming
    each later stage (the policy card, the page), so long reports can tell where they are."""
    stage = on_stage or (lambda _text: None)
    try:
        folder = RunFolder.open(Path(run))
    except RunFolderError as exc:
        raise ReportInputError(str(exc)) from None
    out = Path(out) if out is not None else folder.root / "report"
    out.mkdir(parents=True, exist_ok=True)
    info = folder.info
    config = info.get("config", {})
    rounds = read_rounds(folder)
    if not rounds:
        raise ReportInputError(f"{run}: the run has no rounds yet")
    doc = HtmlReport(f"Discovery run {folder.root.name}")
    chosen = chosen_round(folder.root)
    rows = [r.row() for r in rounds]
    write_csv(out / "trajectory.csv", rows)
    if chosen is None:
        doc.paragraph("No valid round: nothing to judge.")
        _trajectory(doc, folder, rows, out)
        _provenance(doc, info, rounds)
        return doc.write(out / "report.html")
    candidate = folder.round_dir(chosen) / "candidate.py"
    spec = ControllerSpec(str(candidate), label=f"round {chosen}")
    stores = heldout_stores or list(config.get("heldout_stores") or [])
    if not stores:
        raise ReportInputError(f"{run}: run.json names no held-out stores; pass them explicitly")
    judgement = judge(
        spec,
        stores,
        seeds=seeds or int(config.get("seeds") or 100),
        curve_seeds=curve_seeds,
        chosen_betas=chosen_betas or config.get("betas") or (0.0, 0.5, 1.0),
        baseline_betas=baseline_betas,
        jobs=jobs,
        trusted=trusted,
        on_block=on_block,
    )
    gap_rows, gap_notes = _generalisation(folder, chosen, judgement)
    render_headline(judgement, out, doc, gap_rows, [f"Chosen: round {chosen} of {len(rounds)}.", *gap_notes])

    _trajectory(doc, folder, rows, out)
    render_per_store(judgement, out, doc)

    stage(f"building the policy card of round {chosen} ({card_seeds} seeds)")
    doc.heading(f"Policy card of round {chosen}")
    card_stores = list(config.get("search_stores") or stores)[:2]
    card = build_card(spec, card_stores, seeds=card_seeds, jobs=jobs, trusted=trusted)
    doc.extend(render_card(card, out, prefix="card"))

    doc.heading(f"Chosen controller: round {chosen}")
    curve = folder.round_dir(chosen) / "curve.png"
    if curve.is_file():  # copied, so the folder holds every image the report shows
        copy = out / "chosen_search_curve.png"
        shutil.copyfile(curve, copy)
        doc.image(copy, f"Round {chosen} on the search stores (as recorded by the run).")
    source = candidate.read_text(encoding="utf-8")
    doc.begin_details(f"Source of {candidate.name} ({len(source.splitlines())} lines)")
    doc.preformatted(source)
    doc.end_details()
    _provenance(doc, info, rounds)
    return doc.write(out / "report.html")


def _generalisation(folder: RunFolder, chosen: int, j) -> tuple[list[dict], list[str]]:
    """The search-vs-held-out gap of the chosen round, from the figures the run recorded: accuracy
    above SC@64 and the saving at SC@64's accuracy, on the search stores and on the held-out stores."""
    meta = RoundInfo.read_optional(folder.round_dir(chosen))
    search, held = (meta.search, meta.heldout) if meta else (None, None)
    if search is None:
        return [], []

    def above(figures: Figures | None) -> float | None:
        if figures is None or figures.sc64_accuracy is None:
            return None
        return figures.accuracy_at_max_beta - figures.sc64_accuracy

    def saving(figures: Figures | None) -> float | None:
        return None if figures is None or figures.saving_vs_sc64 is None else 100.0 * figures.saving_vs_sc64

    def gap(a: float | None, b: float | None) -> str:
        return "" if a is None or b is None else signed(b - a)

    def signed(value: float | None) -> str:
        return "" if value is None else f"{value + 0.0:+.2f}".replace("-", "−")

    rows = [
        {
            "as recorded by the run (β max, mean over stores)": "accuracy − SC@64 (points)",
            "search stores": signed(above(search)),
            "held-out stores": signed(above(held)),
            "held-out − search": gap(above(search), above(held)),
        },
        {
            "as recorded by the run (β max, mean over stores)": "token saving at SC@64's accuracy (%)",
            "search stores": signed(saving(search)),
            "held-out stores": signed(saving(held)),
            "held-out − search": gap(saving(search), saving(held)),
        },
    ]
    notes = [
        "Search-vs-held-out gap: what the round scored on the stores the search selected on, against the held-out "
        f"stores it never saw ({len(folder.config.get('search_stores') or [])} search stores, recorded with "
        f"{folder.config.get('seeds')} seeds)."
    ]
    return rows, notes


def _trajectory(doc: HtmlReport, folder: RunFolder, rows: list[dict], out: Path) -> None:
    doc.heading("Discovery trajectory")
    references = {
        "search": _references(folder.baselines_dir / "reference_search.csv"),
        "heldout": _references(folder.baselines_dir / "heldout.csv"),
    }
    doc.image(
        plots.trajectory(out / "trajectory.png", rows, references),
        "Per round, at β = 1: accuracy (left axis) and tokens (right axis), mean over stores; dotted: SC@64, "
        "dash-dotted: CMC β=1 on the same stores.",
    )
    doc.table(rows, [c for c in rows[0] if c != "failed"])


def _references(path: Path) -> dict[str, float]:
    """SC@64's and CMC β=1's mean accuracy over the stores of a baselines CSV (absent: none)."""
    out: dict[str, float] = {}
    if not path.is_file():
        return out
    rows = read_results(path)
    for name, label in (("sc", "SC@64"), ("cmc", "CMC β=1")):
        members = [r for r in rows if r.controller == name and r.beta == 1.0]
        if members:
            out[label] = mean_over_stores(r.accuracy for r in members)
    return out


def judgement_steps(run: Path, seeds: int | None, chosen_betas=None, curve_seeds: int | None = None) -> int:
    """Progress steps of the held-out judgement :func:`write_discovery_report` runs for ``run``."""
    try:
        config = RunFolder.open(Path(run)).config
    except RunFolderError as exc:
        raise ReportInputError(str(exc)) from None
    stores = len(config.get("heldout_stores") or [])
    betas = len(set(chosen_betas or config.get("betas") or (0.0, 0.5, 1.0)) | set(TABLE_BETAS))
    return plan_size(stores, seeds or int(config.get("seeds") or 100), chosen_betas=betas, curve_seeds=curve_seeds)


def _provenance(doc: HtmlReport, info: dict, rounds: list[RoundSummary]) -> None:
    """Run configuration, totals and the stores' SHA-256, at the bottom of the page."""
    config = info.get("config", {})
    doc.heading("Provenance")
    facts = [
        {"field": "proposer", "value": str(info.get("proposer") or config.get("proposer", ""))},
        {"field": "model", "value": str(info.get("model") or config.get("model") or "")},
        {"field": "created", "value": str(info.get("created", ""))},
        {"field": "autotts version", "value": str(info.get("autotts_version", ""))},
        {"field": "β grid", "value": ", ".join(f"{b:g}" for b in config.get("betas", []))},
        {"field": "seeds", "value": str(config.get("seeds", ""))},
        {"field": "search stores", "value": ", ".join(config.get("search_stores", []))},
        {"field": "held-out stores", "value": ", ".join(config.get("heldout_stores", []))},
        {"field": "β rule", "value": str(config.get("beta_rule", ""))},
        {"field": "traces in history", "value": str(config.get("traces", ""))},
        {"field": "rounds", "value": f"{len(rounds)} ({sum(r.status == 'valid' for r in rounds)} valid)"},
        {"field": "total proposer cost (USD)", "value": f"{sum(r.cost_usd or 0.0 for r in rounds):.4f}"},
        {"field": "total round time (s)", "value": f"{sum(r.seconds or 0.0 for r in rounds):.1f}"},
    ]
    doc.table(facts)
    hashes = [{"store": k, "sha256 of the JSON content": v} for k, v in (info.get("stores") or {}).items()]
    if hashes:
        doc.begin_details(f"SHA-256 of the {len(hashes)} stores")
        doc.table(hashes)
        doc.end_details()
