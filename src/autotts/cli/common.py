"""Helpers shared by the command modules: console, error exits, option parsing, progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console()
err_console = Console(stderr=True)

USAGE_ERROR = 2


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    """Print a one-line error (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def parse_value(text: str) -> Any:
    """``--param`` values: JSON when it parses (numbers, true/false, lists), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_params(items: list[str] | None) -> tuple[tuple[str, Any], ...]:
    pairs = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--param takes key=value, got {item!r}")
        pairs.append((key.strip(), parse_value(value.strip())))
    return tuple(pairs)


def parse_floats(items: list[str] | None, option: str) -> list[float]:
    """Repeatable float options that also accept comma lists: ``--beta 0.5 --beta 1`` or ``0,0.5,1``."""
    values = []
    for item in items or []:
        for part in str(item).split(","):
            if part.strip():
                try:
                    values.append(float(part))
                except ValueError:
                    fail(f"{option} takes numbers, got {part!r}")
    return values


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator[callable]:
    """A rich progress bar on stderr; yields ``advance(n=1)``."""
    if not enabled:
        yield lambda n=1: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)
