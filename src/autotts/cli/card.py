"""``autotts card``: the policy card of one controller (HTML with PNGs and CSVs)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..data import StoreError, StoreNotInstalled, load_store
from ..evaluation import blocks_in, grid
from ..report.runs import ReportInputError, parse_ref, run_cells
from .common import console, fail, parse_floats, progress_bar, resolve_stores


def card_command(
    controller: str = typer.Option(..., "--controller", "-c", help="NAME, FILE.py[:Class] or a discovery RUN folder."),
    out: Path = typer.Option(Path("card"), "--out", "-o", help="Folder for card.html and its PNGs/CSVs."),
    store: list[str] = typer.Option(None, "--store", "-s", help="MODEL/BENCH (repeatable; default Qwen3-4B/aime24)."),
    split: str = typer.Option(None, "--split", help="search, heldout or all, instead of --store."),
    seeds: int = typer.Option(5, "--seeds", min=1, help="Seeds 0..N-1 per question."),
    beta: list[str] = typer.Option(None, "--beta", "-b", help="β grid (default 0,0.25,0.5,0.75,1)."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0 = all cores)."),
    trusted: bool = typer.Option(False, "--trusted", help="Run controller files in-process, not in the sandbox."),
) -> None:
    """Write a policy card: the β → hyperparameter schedule, behaviour by β (branches opened, depth,
    prunes, stop reasons, latency), decision timelines of a few questions and the questions where the
    controller fails. Everything is read from the environment's traces.

    Examples:

      autotts card --controller cmc --out cards/cmc

      autotts card -c my_controller.py --store Qwen3-8B/aime24 --seeds 10

      autotts card -c runs/evolve-1 --split search
    """
    from ..governance.manifest import Clock
    from ..report.card import CARD_BETAS, build_card, render_card  # matplotlib: load only when used

    clock = Clock()

    try:
        ref = parse_ref(controller, trusted=trusted)
        names = resolve_stores(store or (None if split else ["Qwen3-4B/aime24"]), split)
        for name in names:
            load_store(name)
    except (ReportInputError, StoreNotInstalled, StoreError, ValueError) as exc:
        fail(str(exc))
    betas = parse_floats(beta, "--beta") or list(CARD_BETAS)
    if any(not 0.0 <= b <= 1.0 for b in betas):
        fail("--beta values must lie in [0, 1]")
    cells = grid([ref.spec], betas, names, seeds)
    with progress_bar(f"evaluating {len(cells)} cells", blocks_in(cells)) as advance:
        results = run_cells(cells, jobs=jobs or None, want_traces=True, trusted=trusted, on_block=lambda _b: advance())
    try:
        card = build_card(ref.spec, names, betas=betas, results=results, trusted=trusted)
    except ReportInputError as exc:
        fail(str(exc))
    doc = render_card(card, out)
    path = doc.write(out / "card.html")
    from ..governance.commands import write_card_manifest

    outputs = [path, *(p for p in out.iterdir() if p.suffix in (".png", ".csv"))]
    write_card_manifest(out, cells, results, stores=names, betas=betas, trusted=trusted, jobs=jobs or None,
                        clock=clock, outputs=outputs)
    console.print(f"policy card written to {path} ({len(doc.images)} figures)")
