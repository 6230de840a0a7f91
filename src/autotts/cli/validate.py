"""``autotts validate``: check a candidate controller file the way the discovery loop does."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ..discovery.validation import summary_rows, validate_candidate
from ..sandbox import SandboxError
from .common import check_store_names, console, err_console, fail, parse_floats, print_table


def validate_command(
    file: Path = typer.Argument(..., help="The controller file (FILE.py) to check."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON instead of a table."),
    no_beta_rule: bool = typer.Option(
        False, "--no-beta-rule", help="Allow constructor parameters besides β (the paper's 'no β rule' ablation)."
    ),
    betas: list[str] = typer.Option(["0,0.5,1"], "--betas", help="β grid of the quick run (comma-separated)."),
    store: str = typer.Option("Qwen3-4B/aime24", "--store", help="Search store of the quick run."),
    seeds: int = typer.Option(3, "--seeds", min=1, max=100, help="Seeds of the quick run."),
) -> None:
    """Validate a candidate controller: static screen, then a sandboxed load and quick run.

    Checks: the file parses; imports only from the allowlist; no dangerous builtins, dunders, private
    attributes of the episode, monkeypatching or attribute-reading format strings; exactly one
    Controller subclass with run(episode); a constructor that takes β only; schedule(β) pure and
    JSON-serialisable; at most 64 branches; a quick sandboxed run over the β grid raises nothing and
    mean tokens do not fall as β grows (2% tolerance).

    Exit status: 0 valid, 1 invalid, 2 usage error.

    Examples:

      autotts validate my_controller.py

      autotts validate my_controller.py --json > validation.json

      autotts validate my_controller.py --no-beta-rule --betas 0,0.25,0.5,0.75,1 --seeds 5
    """
    if not file.is_file():
        fail(f"{file}: no such file")
    check_store_names([store])
    grid = parse_floats(betas, "--betas")
    if not grid or any(not 0.0 <= b <= 1.0 for b in grid):
        fail("--betas takes values in [0, 1], e.g. --betas 0,0.5,1")
    try:
        if not err_console.is_terminal:  # a spinner shows nothing in a log: say what is running
            err_console.print(f"validating {file} (static screen, then a sandboxed quick run)...", highlight=False)
        with err_console.status("validating (sandboxed quick run)...", spinner="dots") if not as_json else _quiet():
            result = validate_candidate(
                file, beta_rule=not no_beta_rule, betas=grid, quick_store=store, quick_seeds=seeds
            )
    except SandboxError as exc:
        fail(f"the sandbox could not run: {exc}")
    if as_json:
        print(json.dumps(result.to_json(), indent=1))
    else:
        table = Table(title=f"autotts validate {file.name}")
        table.add_column("check")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        styles = {"ok": "green", "FAIL": "bold red", "-": "dim"}
        for name, status, detail in summary_rows(result):
            table.add_row(name, f"[{styles[status]}]{status}[/]", detail)
        print_table(table)
        if result.ok:
            console.print(f"[bold green]valid[/]: {result.class_name}")
        else:
            console.print(f"[bold red]invalid[/]: {result.reason}", highlight=False)
    raise typer.Exit(0 if result.ok else 1)


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None
