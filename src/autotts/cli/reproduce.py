"""``autotts reproduce``: the paper's Table 1, side by side with ours."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from ..data import ALL_STORES, StoreError, StoreNotInstalled, load_store
from ..evaluation import blocks_in, evaluate
from .common import console, err_console, fail, print_table, progress_bar, resolve_stores


def reproduce_command(
    out: Path = typer.Option(Path("reproduce"), "--out", "-o", help="Folder for the table, plots and report."),
    seeds: int = typer.Option(100, "--seeds", min=1, help="Seeds per question (the paper uses 100)."),
    store: list[str] = typer.Option(None, "--store", "-s", help="Only these stores (repeatable); default all twelve."),
    curves: bool = typer.Option(True, "--curves/--no-curves", help="Also sweep budgets for the scaling-curve plots."),
    curve_seeds: int = typer.Option(
        20, "--curve-seeds", min=1, help="Seeds for the extra curve points (Table 1 points use --seeds)."
    ),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0 = all cores)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison rows as JSON."),
) -> None:
    """Reproduce the AutoTTS paper's Table 1: SC@64, ASC, ESC, Parallel-Probe and CMC (β 0.5 and 1.0) on
    all twelve stores, printed beside the published figures with the differences; writes table1.csv,
    table1.md, one accuracy-vs-tokens plot per store and report.html into --out.

    Examples:

      autotts reproduce

      autotts reproduce --out results/table1 --no-curves

      autotts reproduce --store Qwen3-4B/aime24 --seeds 20
    """
    # the report layer pulls in matplotlib: imported here so `autotts --help` stays quick
    from ..governance.manifest import Clock  # provenance: wall/CPU time from here
    from ..report.reproduce import compare_with_paper, curve_cells, table1_cells, write_curves, write_table

    clock = Clock()
    names = _stores(store)
    started = time.perf_counter()
    cells = table1_cells(names, seeds)
    extra = curve_cells(names, curve_seeds) if curves else []
    total = blocks_in(cells + extra)
    with progress_bar(f"evaluating {len(cells) + len(extra)} cells", total) as advance:
        results = evaluate(cells + extra, jobs=jobs or None, on_block=lambda _b: advance())
    elapsed = time.perf_counter() - started
    table_results = results[: len(cells)]
    rows = compare_with_paper(table_results)
    csv_path, md_path = write_table(rows, out)
    plot_paths = write_curves(results, out) if curves else []
    html_path = _write_html(out, table_results, names, seeds)
    from ..governance.commands import write_reproduce_manifest

    outputs = [csv_path, md_path, *plot_paths, *([html_path] if html_path else [])]
    write_reproduce_manifest(out, cells + extra, results, jobs=jobs or None, clock=clock, outputs=outputs)
    if as_json:
        print(json.dumps([row.as_dict() for row in rows], indent=1))
        if html_path:
            err_console.print(f"report written to {html_path}", highlight=False)
        return
    print_table(_table(rows))
    matched = sum(row.matches for row in rows)
    deviations = [row for row in rows if row.note and row.paper_accuracy is not None]
    console.print(
        f"{matched} of {len(rows)} cells equal the paper at its printed precision; "
        f"{len(table_results)} cells × {seeds} seeds evaluated in {elapsed:.1f} s."
    )
    for model, method in sorted({(row.model, row.method) for row in deviations if not row.matches}):
        note = next(row.note for row in deviations if (row.model, row.method) == (model, method))
        console.print(f"[yellow]*[/] {model} {method}: {note}", highlight=False)
    console.print(f"wrote {csv_path}, {md_path}, {len(plot_paths)} plots", highlight=False)
    if html_path:
        console.print(f"report written to {html_path}", highlight=False)


def _stores(store: list[str] | None) -> list[str]:
    try:
        names = resolve_stores(store) if store else list(ALL_STORES)
        for name in names:
            load_store(name)
    except (StoreNotInstalled, StoreError, ValueError) as exc:
        fail(str(exc))
    return names


def _write_html(out: Path, results: list, stores: list[str], seeds: int) -> Path | None:
    try:
        from ..report.reproduce_html import write_reproduce_html
    except ImportError:  # the HTML report is optional here; the table and plots are the contract
        return None
    try:
        return write_reproduce_html(out, results, stores=stores, seeds=seeds)
    except Exception as exc:  # a report failure must not lose the table already written
        err_console.print(f"[yellow]warning:[/] report.html not written: {type(exc).__name__}: {exc}")
        return None


SHORT_METHOD = {"Parallel-Probe": "PP", "SC@64": "SC@64", "ASC": "ASC", "ESC": "ESC", "CMC": "CMC"}


def _table(rows: list) -> Table:
    table = Table(title="AutoTTS Table 1: ours (paper)", caption="= equal at printed precision; * known deviation")
    for column in ("model", "bench", "method", "accuracy % (paper)", "tokens (paper)", ""):
        table.add_column(column, justify="left" if column in ("model", "bench", "method", "") else "right")
    for row in rows:
        flag = "[green]=[/]" if row.matches else ("[yellow]*[/]" if row.note else "[red]≠[/]")
        method = SHORT_METHOD.get(row.method, row.method) + ("" if row.beta == 1.0 else f" β{row.beta:g}")
        paper_acc = "–" if row.paper_accuracy is None else f"{row.paper_accuracy:.1f}"
        paper_tok = "–" if row.paper_tokens is None else f"{row.paper_tokens / 1000:.1f}k"
        table.add_row(
            row.model.removeprefix("Qwen3-"),
            row.benchmark,
            method,
            f"{row.accuracy:.2f} ({paper_acc})",
            f"{row.tokens / 1000:.1f}k ({paper_tok})",
            flag,
        )
    return table
