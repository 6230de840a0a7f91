"""``autotts report``: the HTML report of a discovery run."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ..data import StoreError, StoreNotInstalled
from .common import console, err_console, fail, parse_floats, progress_bar


def report_command(
    run: Path = typer.Argument(..., help="The discovery run folder (written by autotts discover)."),
    out: Path = typer.Option(
        None, "--out", "-o", help="Folder for report.html and its PNGs/CSVs (default RUN/report)."
    ),
    seeds: int = typer.Option(0, "--seeds", min=0, help="Seeds for the held-out judgement (0 = the run's own)."),
    curve_seeds: int = typer.Option(
        20, "--curve-seeds", min=1, help="Seeds for baseline budget points drawn only as curves."
    ),
    card_seeds: int = typer.Option(5, "--card-seeds", min=1, help="Seeds for the policy card."),
    beta: list[str] = typer.Option(None, "--beta", "-b", help="β grid of the chosen controller (default: the run's)."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0 = all cores)."),
    trusted: bool = typer.Option(False, "--trusted", help="Run the chosen file in-process, not in the sandbox."),
) -> None:
    """Write a self-contained report.html for a discovery run: the trajectory over rounds, scaling
    curves on the held-out stores beside the baselines and CMC, the Table-1-style table with paired
    intervals, frontier figures, oracle bounds and the chosen controller's policy card.

    Examples:

      autotts report runs/evolve-1

      autotts report runs/evolve-1 --out report-evolve --seeds 20

      autotts report runs/claude --beta 0,0.5,1 --card-seeds 3
    """
    from ..governance.manifest import Clock
    from ..report.discovery_report import judgement_steps, write_discovery_report  # matplotlib: load when used
    from ..report.runs import ReportInputError

    clock = Clock()

    if not run.is_dir():
        fail(f"{run}: no such run folder")
    betas = parse_floats(beta, "--beta") or None
    _check_pools(run)
    try:
        steps = judgement_steps(run, seeds or None, betas, curve_seeds)
        with progress_bar("judging the chosen controller", steps) as advance:
            path = write_discovery_report(
                run,
                out,
                seeds=seeds or None,
                curve_seeds=curve_seeds,
                card_seeds=card_seeds,
                chosen_betas=betas,
                jobs=jobs or None,
                trusted=trusted,
                on_block=lambda _b: advance(),
                on_stage=lambda text: err_console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}", highlight=False),
            )
    except (ReportInputError, StoreNotInstalled, StoreError) as exc:
        fail(str(exc))
    from ..governance.commands import write_report_manifest_for_run

    write_report_manifest_for_run(run, out, seeds=seeds or None, curve_seeds=curve_seeds, chosen_betas=betas,
                                  trusted=trusted, jobs=jobs or None, clock=clock)
    console.print(f"report written to {path}")


def _check_pools(run: Path) -> None:
    """Refuse, before judging, held-out stores too small for the SC@64 reference (clear message, no traceback)."""
    import json

    from ..data import load_store
    from .discover import reference_pool_problem

    try:
        config = json.loads((run / "run.json").read_text(encoding="utf-8")).get("config", {})
    except (OSError, ValueError, AttributeError):
        return  # the report's own checks name what is wrong with the folder
    for name in config.get("heldout_stores") or []:
        try:
            problem = reference_pool_problem(name, load_store(name))
        except (StoreNotInstalled, StoreError):
            continue  # reported by the judgement with its own message
        if problem:
            fail(problem)
