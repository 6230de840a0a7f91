"""``autotts eval``: evaluate controllers over stores and β values."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import typer
from rich.table import Table

from ..controllers.loading import ControllerLoadError
from ..data import StoreError, StoreNotInstalled, load_store, resolve_store_names
from ..evaluation import EXECUTORS, CellResult, ControllerSpec, blocks_in, grid
from ..evaluation.runner import Block
from ..evaluation.summary import mean_rows
from ..sandbox import SandboxError, SandboxUnavailable, evaluate_cells, needs_sandbox, split_file_ref
from .common import (
    check_choice,
    check_store_names,
    err_console,
    fail,
    parse_betas,
    parse_params,
    parse_problem,
    print_table,
    progress_bar,
)


def eval_command(
    controller: list[str] = typer.Option(
        ..., "--controller", "-c", help="Registry name or FILE.py[:Class] (repeatable)."
    ),
    store: list[str] = typer.Option(None, "--store", "-s", help="MODEL/BENCH (repeatable; globs like 'Qwen3-4B/*')."),
    split: str = typer.Option(None, "--split", help="search (aime24), heldout (aime25, hmmt25) or all."),
    beta: list[str] = typer.Option(["1.0"], "--beta", "-b", help="β values (repeatable, or comma-separated)."),
    seeds: int = typer.Option(100, "--seeds", min=1, help="Seeds 0..N-1 per question."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0 = all cores)."),
    executor: str = typer.Option("process", "--executor", help=f"One of {', '.join(EXECUTORS)}."),
    param: list[str] = typer.Option(None, "--param", "-p", help="Override a controller knob: key=value (repeatable)."),
    traces: Path = typer.Option(
        None, "--traces", help="Write every episode's action trace to this JSONL file (FILE.jsonl.gz: compressed)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of rows instead of a table."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first controller error."),
    trusted: bool = typer.Option(
        False, "--trusted", help="Run controller files in-process instead of in the sandbox (only for code you trust)."
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="Also write results.json, results.csv and manifest.json (for autotts verify) here."
    ),
) -> None:
    """Evaluate controllers: one row per (controller, β, store), plus means over stores.

    Examples:

      autotts eval -c sc -c cmc --store Qwen3-4B/aime24 --beta 0.5 --beta 1

      autotts eval -c cmc --split heldout --beta 0,0.25,0.5,0.75,1 --json

      autotts eval -c my_controller.py --split search --traces traces.jsonl

      autotts eval -c parallel-probe --param T=20 --store 'Qwen3-8B/*'

      autotts eval -c cmc --split heldout --seeds 20 --out results/cmc   (then: autotts verify results/cmc)

    Controller files run behind the sandbox unless --trusted is given: a process in its own
    namespaces (no network, no other processes, an empty environment, a read-only Python and a small
    scratch folder) that sees only what its actions reveal; every number is recomputed outside it.
    Where the sandbox cannot be built (no bubblewrap), files are refused. Registry names run as usual.
    """
    from ..governance.manifest import Clock  # provenance: wall/CPU time from here

    clock = Clock()
    check_choice(executor, EXECUTORS, "--executor")
    betas = parse_betas(beta, "--beta")
    if not betas:
        fail("--beta takes numbers in [0, 1], e.g. --beta 0.5,1")
    names = _stores(store, split)
    overrides = parse_params(param)
    specs = [ControllerSpec(ref, overrides) for ref in controller]
    for spec in specs:
        if needs_sandbox(spec.ref, trusted):  # never import an untrusted file here: parse it only
            path = split_file_ref(spec.ref)[0]
            if not path.is_file():
                fail(f"{path}: no such controller file")
            problem = parse_problem(path)
            if problem:
                fail(f"{path}: cannot load the controller: {problem} (autotts validate {path} shows every check)")
            continue
        try:
            spec.build(betas[0])
        except (ControllerLoadError, LookupError, ValueError, TypeError, SyntaxError) as exc:
            fail(str(exc).strip("'\""))
    cells = grid(specs, betas, names, seeds)
    total_blocks = blocks_in(cells)

    def stop_at_first_failure(block: Block) -> None:
        # sandboxed files report failures per block; --fail-fast stops the evaluation at the first
        if fail_fast and block.failures:
            raise _FirstFailure(str(block.failures[0]).strip())

    try:
        with progress_bar(f"evaluating {len(cells)} cells", total_blocks) as advance:
            results = evaluate_cells(
                cells,
                trusted=trusted,
                jobs=jobs or None,
                executor=executor,
                want_traces=traces is not None,
                fail_fast=fail_fast,
                on_block=lambda b: (advance(), stop_at_first_failure(b)),
            )
    except SandboxError as exc:
        fail(f"the sandbox could not run: {exc}", code=2 if isinstance(exc, SandboxUnavailable) else 1)
    except _FirstFailure as exc:
        fail(f"controller error (--fail-fast): {exc}", code=1)
    except Exception as exc:
        if fail_fast:
            fail(f"controller error (--fail-fast): {type(exc).__name__}: {exc}", code=1)
        raise
    load_errors = _load_errors(results)
    if load_errors:
        fail("; ".join(load_errors), code=1)
    if traces is not None:
        _write_traces(traces, results)
    rows = [r.row() for r in results]
    if out is not None:
        from ..governance.commands import write_eval_outputs

        sandboxed = any(needs_sandbox(spec.ref, trusted) for spec in specs)
        path = write_eval_outputs(
            out, cells, results, trusted=not sandboxed, jobs=jobs or None, executor=executor, clock=clock
        )
        err_console.print(f"results and manifest written to {path.parent}")
    if as_json:
        print(json.dumps(rows + mean_rows(results), indent=1))
    else:
        print_table(_table(results))
    failures = [f for r in results for f in r.failures]
    if failures:
        err_console.print(f"[bold red]{len(failures)} episode(s) raised[/]; counted as wrong. First ones:")
        for failure in failures[:5]:
            err_console.print(f"  {failure}".rstrip(), highlight=False)
        raise typer.Exit(1)


def _stores(store: list[str] | None, split: str | None) -> list[str]:
    if not store and not split:
        fail("name stores with --store MODEL/BENCH or --split search|heldout|all")
    try:
        names = check_store_names(resolve_store_names(store, split))
        for name in names:
            load_store(name)
    except (StoreNotInstalled, StoreError, ValueError) as exc:
        fail(str(exc))
    return names


def _write_traces(path: Path, results: list[CellResult]) -> None:
    """One JSON line per episode; gzip-compressed when the name ends in ``.gz``. The size is
    reported, since a full grid writes hundreds of megabytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    compressed = path.suffix == ".gz"
    opener = gzip.open if compressed else open
    episodes = 0
    with opener(path, "wt", encoding="utf-8") as handle:
        for result in results:
            for record in result.traces:
                handle.write(json.dumps(record) + "\n")
                episodes += 1
    size = path.stat().st_size
    hint = ""
    if not compressed and size >= 10_000_000:
        hint = f"; --traces {path.name}.gz writes it compressed (several times smaller)"
    err_console.print(f"traces written to {path}: {episodes:,} episodes, {_size(size)}{hint}", highlight=False)


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _table(results: list[CellResult]) -> Table:
    seeds = sorted({r.seeds for r in results})
    table = Table(title=f"autotts eval ({'/'.join(map(str, seeds))} seeds × questions per row)")
    table.add_column("controller", no_wrap=True)
    table.add_column("β", justify="right", no_wrap=True, min_width=4)
    table.add_column("store", no_wrap=True)
    for column in ("acc %", "95% CI", "tokens", "latency"):
        table.add_column(column, justify="right", no_wrap=True)
    for r in results:
        low, high = r.accuracy_ci
        table.add_row(
            _short(r.controller),
            f"{r.beta:g}",
            r.store,
            f"{r.accuracy:.2f}",
            f"{low:.1f}–{high:.1f}",
            f"{r.mean_tokens:,.0f}",
            f"{r.mean_latency:,.0f}",
        )
    means = mean_rows(results)
    if means:
        table.add_section()
        for m in means:
            table.add_row(
                _short(m["controller"]),
                f"{m['beta']:g}",
                m["store"].replace("mean of", "mean,"),
                f"{m['accuracy']:.2f}",
                "",
                f"{m['tokens']:,.0f}",
                f"{m['latency_tokens']:,.0f}",
            )
    return table


def _short(controller: str) -> str:
    """A controller file is shown by its file name (and class) so the table keeps its columns."""
    return Path(controller).name if ".py" in controller else controller


class _FirstFailure(Exception):
    """Raised from the block callback to stop an evaluation at its first failure (--fail-fast)."""


def _load_errors(results: list[CellResult]) -> list[str]:
    """Controllers that could not be loaded at all (the sandbox rejected the file): a load error,
    not a result row of zeros."""
    messages = {}
    for result in results:
        for failure in result.failures:
            if getattr(failure, "kind", "") == "rejected":
                text = f"{result.controller}: cannot load the controller: {failure.error}"
                messages.setdefault(result.controller, text)
    return list(messages.values())
