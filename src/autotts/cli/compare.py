"""``autotts compare``: paired comparison of two controllers with intervals and a verdict."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ..data import StoreError, StoreNotInstalled, load_store
from ..evaluation import Cell, blocks_in
from ..report.compare import Comparison, per_store_comparisons
from ..report.runs import ReportInputError, failure_lines, parse_ref, run_cells
from .common import beta_callback, console, err_console, fail, print_table, progress_bar, resolve_stores


def compare_command(
    a: str = typer.Argument(..., help="Controller A: NAME, FILE.py[:Class] or a discovery RUN folder; '@β' fixes β."),
    b: str = typer.Argument(..., help="Controller B, the reference (same forms)."),
    split: str = typer.Option("heldout", "--split", help="search (aime24), heldout (aime25, hmmt25) or all."),
    store: list[str] = typer.Option(None, "--store", "-s", help="MODEL/BENCH instead of a split (repeatable)."),
    beta: float = typer.Option(
        1.0, "--beta", "-b", callback=beta_callback("--beta"), help="β for a side without '@β'."
    ),
    seeds: int = typer.Option(100, "--seeds", min=1, help="Seeds 0..N-1 per question (the same for A and B)."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0 = all cores)."),
    trusted: bool = typer.Option(False, "--trusted", help="Run controller files in-process, not in the sandbox."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    out: Path = typer.Option(None, "--out", "-o", help="Also write comparison.json and manifest.json here."),
) -> None:
    """Compare A against B on the same questions and seeds: accuracy difference and token saving
    with 95% bootstrap intervals over questions, per store and pooled, and a plain-words verdict.

    Examples:

      autotts compare cmc sc --split heldout --seeds 20

      autotts compare cmc@0.5 sc@1 --store Qwen3-4B/aime25

      autotts compare runs/evolve-1 cmc --split heldout

      autotts compare my_controller.py parallel-probe --split search
    """
    from ..governance.manifest import Clock

    clock = Clock()
    try:
        ref_a, ref_b = parse_ref(a, trusted=trusted), parse_ref(b, trusted=trusted)
        names = resolve_stores(store, None if store else split)
        for name in names:
            load_store(name)
    except (ReportInputError, StoreNotInstalled, StoreError, ValueError) as exc:
        fail(str(exc))
    if ref_a.label == ref_b.label:
        ref_b = type(ref_b)(ref_b.spec, ref_b.beta, ref_b.label + " (B)", ref_b.is_file)
    cells = [
        Cell(ref.spec, ref.beta if ref.beta is not None else beta, name, seeds)
        for ref in (ref_a, ref_b)
        for name in names
    ]
    with progress_bar(f"evaluating {len(cells)} cells", blocks_in(cells)) as advance:
        results = run_cells(cells, jobs=jobs or None, trusted=trusted, on_block=lambda _b: advance())
    res_a, res_b = results[: len(names)], results[len(names) :]
    pooled = Comparison.of(ref_a.label, res_a, ref_b.label, res_b)
    per_store = per_store_comparisons(ref_a.label, res_a, ref_b.label, res_b)
    if out is not None:
        from ..governance.commands import write_compare_outputs

        data = {**pooled.to_json(), "per_store": [c.to_json() for c in per_store]}
        write_compare_outputs(out, cells, results, label_a=ref_a.label, label_b=ref_b.label, trusted=trusted,
                              jobs=jobs or None, clock=clock, comparison=data)
    if as_json:
        print(json.dumps({**pooled.to_json(), "per_store": [c.to_json() for c in per_store]}, indent=1))
        return
    print_table(_table(per_store, pooled))
    console.print(pooled.verdict(), highlight=False)
    failed = failure_lines(results)
    if failed:
        err_console.print("[bold yellow]warning:[/] some episodes failed (counted as wrong):")
        for line in failed:
            err_console.print(f"  {line}", highlight=False)


def _table(per_store: list[Comparison], pooled: Comparison) -> Table:
    table = Table(title=f"A = {pooled.label_a}   B = {pooled.label_b}   ({pooled.seeds} seeds, paired)")
    for column in ("store", "acc A %", "acc B %", "A − B points [95% CI]", "tokens A", "tokens B", "saving % [95% CI]"):
        table.add_column(column, justify="left" if column == "store" else "right")
    rows = [(c.stores[0], c) for c in per_store]
    if len(per_store) > 1:
        rows.append((f"pooled ({len(pooled.stores)} stores)", pooled))
    for i, (name, c) in enumerate(rows):
        if i == len(per_store) and i:
            table.add_section()
        d, d_lo, d_hi = c.accuracy_difference
        s, s_lo, s_hi = c.token_saving
        table.add_row(
            name,
            f"{c.accuracy_a:.2f}",
            f"{c.accuracy_b:.2f}",
            f"{d:+.2f} [{d_lo:+.2f}, {d_hi:+.2f}]",
            f"{c.tokens_a:,.0f}",
            f"{c.tokens_b:,.0f}",
            f"{s:.1f} [{s_lo:.1f}, {s_hi:.1f}]",
        )
    return table
