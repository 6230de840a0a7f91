"""``autotts report``: not built yet (see the issue tracker)."""

from __future__ import annotations

import typer


def report_command() -> None:
    """Not built yet."""
    raise typer.Exit(3)
