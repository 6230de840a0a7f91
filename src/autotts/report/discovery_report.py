"""``autotts report RUN``: the report of a discovery run, read from its run folder (layout in
:mod:`autotts.discovery.runfolder`), plus a fresh judgement of the chosen controller on the held-out
stores and its policy card.

Sections: the run's configuration and totals; the trajectory (each round's accuracy and tokens at
the largest β of the grid — β = 1 by default — on the search and held-out stores, failed rounds
marked with their reason, proposer cost and time per round); the chosen round's code; the judgement
(:mod:`autotts.report.judgement`); the policy card (:mod:`autotts.report.card`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..discovery.runfolder import RunFolder, RunFolderError
from ..evaluation import ControllerSpec
from . import plots
from .card import build_card, render_card
from .html import HtmlReport, write_csv
from .judgement import BASELINE_BETAS, TABLE_BETAS, judge, plan_size, render_judgement
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
        meta = json.loads((path / "round.json").read_text()) if (path / "round.json").is_file() else {}
        out.append(
            RoundSummary(
                number=int(meta.get("round", int(path.name))),
                status=str(meta.get("status", "unfinished")),
                reason=str(meta.get("reason") or ""),
                cost_usd=meta.get("cost_usd"),
                seconds=meta.get("seconds"),
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
) -> Path:
    """Write ``report.html`` (and its PNGs/CSVs) for the run in ``run``; returns the HTML path."""
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
    _overview(doc, info, rounds)

    doc.heading("Discovery trajectory")
    rows = [r.row() for r in rounds]
    write_csv(out / "trajectory.csv", rows)
    doc.image(plots.trajectory(out / "trajectory.png", rows), "Per round, at β = 1.")
    doc.table(rows, [c for c in rows[0] if c != "failed"])

    chosen = chosen_round(folder.root)
    if chosen is None:
        doc.paragraph("No valid round: nothing to judge.")
        return doc.write(out / "report.html")
    candidate = folder.round_dir(chosen) / "candidate.py"
    doc.heading(f"Chosen controller: round {chosen}")
    doc.preformatted(candidate.read_text(encoding="utf-8"))
    curve = folder.round_dir(chosen) / "curve.png"
    if curve.is_file():  # copied, so the folder holds every image the report shows
        copy = out / "chosen_search_curve.png"
        shutil.copyfile(curve, copy)
        doc.image(copy, f"Round {chosen} on the search stores (as recorded by the run).")

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
    render_judgement(judgement, out, doc)

    doc.heading(f"Policy card of round {chosen}")
    card_stores = list(config.get("search_stores") or stores)[:2]
    card = build_card(spec, card_stores, seeds=card_seeds, jobs=jobs, trusted=trusted)
    doc.extend(render_card(card, out, prefix="card"))
    return doc.write(out / "report.html")


def judgement_steps(run: Path, seeds: int | None, chosen_betas=None, curve_seeds: int | None = None) -> int:
    """Progress steps of the held-out judgement :func:`write_discovery_report` runs for ``run``."""
    try:
        config = RunFolder.open(Path(run)).config
    except RunFolderError as exc:
        raise ReportInputError(str(exc)) from None
    stores = len(config.get("heldout_stores") or [])
    betas = len(set(chosen_betas or config.get("betas") or (0.0, 0.5, 1.0)) | set(TABLE_BETAS))
    return plan_size(stores, seeds or int(config.get("seeds") or 100), chosen_betas=betas, curve_seeds=curve_seeds)


def _overview(doc: HtmlReport, info: dict, rounds: list[RoundSummary]) -> None:
    config = info.get("config", {})
    doc.heading("Run")
    facts = [
        {"field": "proposer", "value": str(info.get("proposer") or config.get("proposer", ""))},
        {"field": "model", "value": str(info.get("model") or "")},
        {"field": "created", "value": str(info.get("created", ""))},
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
    hashes = [{"store": k, "sha256": v} for k, v in (info.get("stores") or {}).items()]
    if hashes:
        doc.table(hashes)
