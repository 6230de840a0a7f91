"""``autotts verify``: re-run every figure of a results folder, run folder or registered policy version."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from .common import console, err_console, fail, print_table


def verify_command(
    target: str = typer.Argument(
        ..., help="A folder with manifest.json (eval --out, reproduce, discover, report, card), or NAME@VERSION."
    ),
    registry: Path = typer.Option(None, "--registry", help="Registry file for NAME@VERSION (or $AUTOTTS_REGISTRY)."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0 = all cores)."),
    trusted: bool = typer.Option(False, "--trusted", help="Run controller files in-process, not in the sandbox."),
    show_equal: bool = typer.Option(False, "--all", help="List equal figures too (default: only the others)."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
) -> None:
    """Re-run every figure from its manifest and compare: equal, differs (both values) or cannot
    re-run (why). Exit 0 when every figure is equal, 1 when any differs, 3 when none differs but some
    could not be re-run.

    Examples:

      autotts eval -c cmc --store Qwen3-4B/aime24 --seeds 5 --out results/cmc && autotts verify results/cmc

      autotts verify results/reproduce

      autotts verify runs/evo

      autotts verify evo@1 --registry team.sqlite
    """
    from ..governance.manifest import ManifestError
    from ..governance.verify import CANNOT, DIFFERS, EQUAL, verify_path

    path = Path(target)

    def note(text: str) -> None:
        if not as_json:
            err_console.print(f"[yellow]note:[/] {text}", highlight=False)

    try:
        if path.exists():
            report = verify_path(path, jobs=jobs or None, trusted=trusted, on_note=note)
        elif "@" in target:
            from ..governance.registry import Registry, RegistryError

            try:
                with Registry.open(registry) as reg:
                    report = reg.verify(target, jobs=jobs or None, on_note=note)
            except RegistryError as exc:
                fail(str(exc))
        else:
            fail(f"{target}: no such folder or file, and not NAME@VERSION")
    except ManifestError as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(report.to_json(), indent=1, default=str))
        raise typer.Exit(report.exit_code)
    shown = [c for c in report.checks if show_equal or c.status != EQUAL]
    if shown:
        table = Table(title=f"autotts verify {target} ({report.kind})")
        for column in ("figure", "verdict", "recorded", "now / why"):
            table.add_column(column, overflow="fold")
        colour = {EQUAL: "green", DIFFERS: "red", CANNOT: "yellow"}
        for c in shown:
            table.add_row(
                c.name,
                f"[{colour[c.status]}]{c.status}[/]",
                _fmt(c.recorded),
                c.why if c.status == CANNOT else _fmt(c.now),
            )
        print_table(table)
    console.print(
        f"{len(report.checks)} figures: {report.count(EQUAL)} equal, {report.count(DIFFERS)} differ, "
        f"{report.count(CANNOT)} cannot be re-run",
        highlight=False,
    )
    for c in report.checks:
        if c.status == DIFFERS:
            console.print(f"differs: {c.name}: recorded {_fmt(c.recorded)}, now {_fmt(c.now)}", highlight=False)
    raise typer.Exit(report.exit_code)


def _fmt(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
