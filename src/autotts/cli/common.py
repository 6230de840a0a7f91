"""Helpers shared by the command modules: console, the one error path, option parsing (one β parser
for every command), tables that never cut a number or a name, and progress that also reports off a
terminal.

Every command is wrapped by :func:`guard_commands` (called once in ``autotts.cli``): it gives each
command the global ``--data-dir`` option and turns any exception that escapes a command into a
one-line error with exit status 2 instead of a Python traceback (``AUTOTTS_DEBUG=1`` shows it).
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
import typer
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console(soft_wrap=True)  # paths and sentences are never broken mid-word off a terminal
err_console = Console(stderr=True, soft_wrap=True)

USAGE_ERROR = 2
DATA_DIR_ENV = "AUTOTTS_DATA_DIR"
PROGRESS_INTERVAL_ENV = "AUTOTTS_PROGRESS_INTERVAL"  # seconds between plain progress lines off a TTY
DEFAULT_PROGRESS_INTERVAL = 30.0


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    """Print a one-line error (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    raise typer.Exit(code)


# ---------------------------------------------------------------------------------------------- β


def parse_beta(text: str | float, option: str = "--beta") -> float:
    """One β value: a finite number in [0, 1]; anything else is a usage error naming the option."""
    raw = str(text).strip()
    try:
        value = float(raw)
    except ValueError:
        fail(f"{option} takes numbers in [0, 1], got {raw!r}")
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        fail(f"{option} takes numbers in [0, 1], got {raw!r} (β = 1 is the largest budget)")
    return value + 0.0  # -0.0 -> 0.0, so rows are never labelled "-0"


def parse_betas(items: list[str] | tuple[str, ...] | None, option: str = "--beta") -> list[float]:
    """Repeatable β options that also take comma lists (``--beta 0.5 --beta 1`` or ``0,0.5,1``), in the
    order given, duplicates dropped. Given but empty (``--beta ''``) is an error; absent gives []."""
    if not items:
        return []
    values: list[float] = []
    for item in items:
        parts = str(item).split(",")
        if not any(p.strip() for p in parts):
            fail(f"{option} takes numbers in [0, 1], got {str(item)!r}")
        for part in parts:
            if part.strip():
                values.append(parse_beta(part, option))
    return list(dict.fromkeys(values))


def beta_callback(option: str) -> Callable[[Any], Any]:
    """A typer ``callback`` validating a single-valued β option with :func:`parse_beta`."""

    def check(value: Any) -> Any:
        return None if value is None else parse_beta(value, option)

    return check


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
    """Repeatable float options that also accept comma lists; β options use :func:`parse_betas`."""
    if option.startswith("--beta") or option.endswith("-beta"):
        return parse_betas(items, option)
    values = []
    for item in items or []:
        for part in str(item).split(","):
            if part.strip():
                try:
                    values.append(float(part))
                except ValueError:
                    fail(f"{option} takes numbers, got {part!r}")
    return values


def check_choice(value: str, choices: Any, option: str) -> str:
    """A usage error naming the option and the choices when ``value`` is not one of them."""
    if value not in choices:
        fail(f"{option} takes one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def parse_problem(path: Path) -> str | None:
    """Why a controller file cannot even be compiled, or None (:func:`autotts.report.runs.parse_problem`)."""
    from ..report.runs import parse_problem as problem

    return problem(path)


# ------------------------------------------------------------------------------------------ stores


def unknown_store_message(name: str) -> str | None:
    """Why ``name`` cannot name a store, or None: a name that is neither published nor installed in
    the data directory is unknown (fetching cannot help), and the message lists the known ones."""
    from ..data import ALL_STORES, data_dir
    from ..data.importing import installed_stores

    if name in ALL_STORES or Path(name).suffix in (".json", ".gz"):
        return None
    root = data_dir()
    installed = installed_stores(root) if root.is_dir() else []
    if name in installed:
        return None
    known = list(dict.fromkeys([*ALL_STORES, *installed]))
    return f"unknown store {name!r}; known stores: {', '.join(known)} (your own: autotts data import FILE --name M/B)"


def resolve_stores(stores: list[str] | None = None, split: str | None = None, option: str = "--store") -> list[str]:
    """``--store`` values (names, globs) and ``--split`` as store names, every one known."""
    from ..data import resolve_store_names

    try:
        names = resolve_store_names(stores, split)
    except ValueError as exc:
        fail(f"{option}: {exc}" if not str(exc).startswith(option) else str(exc))
    return check_store_names(names, option)


def check_store_names(names: list[str], option: str = "--store") -> list[str]:
    """Fail with :func:`unknown_store_message` for the first unknown name."""
    for name in names:
        message = unknown_store_message(name)
        if message:
            fail(f"{option}: {message}")
    return names


# ------------------------------------------------------------------------------------------ tables

_NUMBER = re.compile(r"^[\s+\-−–—.,%$×x0-9\[\]()/eE]*$")


def _cell_texts(column: Any) -> list[str]:
    return [str(getattr(c, "plain", c)) for c in column._cells]


def _numeric(column: Any) -> bool:
    texts = [t for t in _cell_texts(column) if t.strip()]
    return bool(texts) and all(_NUMBER.match(t) for t in texts)


def print_table(table: Table, *, out: Console | None = None) -> None:
    """Print a table without ever cutting a number or a name.

    Off a terminal (pipes, logs, CI) the table is printed at its natural width. On a terminal, text
    columns wrap (fold) and number columns keep their full width; when even that does not fit, the
    rightmost columns are dropped and named in a note (``--json`` has them all)."""
    out = out or console
    for column in table.columns:
        header = str(column.header)
        if _numeric(column):
            column.no_wrap = True
            column.min_width = max(
                [len(header.split()[0]) if header.split() else 1] + [len(t) for t in _cell_texts(column)]
            )
        else:
            column.no_wrap = False
            column.overflow = "fold"
    natural = Measurement.get(out, out.options.update_width(100_000), table).maximum
    if not out.is_terminal:
        Console(file=out.file, width=max(natural, 20), color_system=None, highlight=False).print(table)
        return
    dropped: list[str] = []

    def least(t: Table) -> int:
        # numbers at full width, text columns folded down to at most 12 characters, plus borders/padding
        total = 1
        for col in t.columns:
            texts = [*_cell_texts(col), str(col.header)]
            widest = max((len(x) for x in texts), default=1)
            total += (widest if col.no_wrap else min(widest, 12)) + 3
        return total

    while least(table) > out.width and len(table.columns) > 2:
        dropped.insert(0, str(table.columns[-1].header))
        table.columns.pop()
    out.print(table)
    if dropped:
        err_console.print(
            f"[dim]not shown at this width: {', '.join(dropped)} (widen the terminal or use --json)[/]",
            highlight=False,
        )


# ---------------------------------------------------------------------------------------- progress


def _progress_interval() -> float:
    try:
        return max(0.0, float(os.environ.get(PROGRESS_INTERVAL_ENV, DEFAULT_PROGRESS_INTERVAL)))
    except ValueError:
        return DEFAULT_PROGRESS_INTERVAL


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class PlainProgress:
    """Progress as plain lines on stderr, for logs and CI where a bar would print blank lines: one
    line at the start, then at most one per interval, then one at the end, each with the count, the
    share done, the time so far and an estimate of the time left."""

    def __init__(self, description: str, total: int, interval: float | None = None, unit: str = "") -> None:
        self.description, self.total, self.done = description, max(0, int(total)), 0
        self.unit = f" {unit}" if unit else ""
        self.detail = ""  # e.g. what is being worked on now
        self.interval = _progress_interval() if interval is None else interval
        self.start = self.last = time.monotonic()
        self._line(started=True)

    def _line(self, started: bool = False) -> None:
        elapsed = time.monotonic() - self.start
        if started:
            text = f"{self.description}: 0/{self.total}{self.unit} started"
        else:
            share = self.done / self.total if self.total else 1.0
            left = "" if not 0 < share < 1 else f", ~{_clock(elapsed * (1 - share) / share)} left"
            detail = f", {self.detail}" if self.detail else ""
            text = (
                f"{self.description}: {self.done}/{self.total}{self.unit} ({100 * share:.0f}%){detail}, "
                f"{_clock(elapsed)}{left}"
            )
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.interval and self.done < self.total:
            self.last = now
            self._line()

    def finish(self) -> None:
        self._line()


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """Progress on stderr (so ``--json`` on stdout stays clean); yields ``advance(n=1)``.

    A rich bar on a terminal; periodic plain lines (:class:`PlainProgress`) elsewhere. ``enabled``
    is kept for callers that must stay silent (library-style use)."""
    if not enabled:
        yield lambda n=1: None
        return
    if not err_console.is_terminal:
        plain = PlainProgress(description, total)
        yield plain.advance
        plain.finish()
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


# -------------------------------------------------------------------------- one error path, --data-dir


def _data_dir_option(value: Path | None) -> None:
    if value is not None:
        os.environ[DATA_DIR_ENV] = str(Path(value).expanduser())


def guard(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap one command: a global ``--data-dir`` option (unless it declares its own) and the one
    error path: an exception escaping the command becomes ``error: ...`` and exit status 2."""
    signature = inspect.signature(command)
    own_data_dir = any(
        "--data-dir" in (getattr(p.default, "param_decls", None) or ()) for p in signature.parameters.values()
    )

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not own_data_dir:
            _data_dir_option(kwargs.pop("global_data_dir", None))
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter, click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:  # the one place a stray exception meets the user
            if os.environ.get("AUTOTTS_DEBUG"):
                raise
            text = str(exc).strip().strip("'\"") or type(exc).__name__
            if isinstance(exc, ValueError | LookupError | OSError):  # bad input: its message says what
                fail(text)
            fail(f"{text} ({type(exc).__name__}; AUTOTTS_DEBUG=1 shows the traceback)")

    wrapper.__doc__ = keep_examples(command.__doc__ or "")
    if not own_data_dir:
        extra = inspect.Parameter(
            "global_data_dir",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                None, "--data-dir", help=f"Data directory of the stores (default ${DATA_DIR_ENV} or ~/.cache/autotts)."
            ),
            annotation=Path,
        )
        params = list(signature.parameters.values())
        wrapper.__signature__ = signature.replace(parameters=[*params, extra])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {**getattr(command, "__annotations__", {}), "global_data_dir": Path}
    return wrapper


def keep_examples(doc: str) -> str:
    """Mark example paragraphs (command lines, indented blocks) with click's no-rewrap marker, so
    ``--help`` prints each example on its own line instead of re-flowing them into prose."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    out = []
    for para in paragraphs:
        lines = para.splitlines()
        literal = any(line.startswith(("  ", "autotts ")) for line in lines)
        out.append("\b\n" + para if literal and lines else para)
    return "\n\n".join(out)


def guard_commands(app: typer.Typer) -> typer.Typer:
    """Apply :func:`guard` to every command of ``app`` and of its sub-apps (call after registering)."""
    for info in app.registered_commands:
        if info.callback is not None and not getattr(info.callback, "_autotts_guarded", False):
            info.callback = guard(info.callback)
            info.callback._autotts_guarded = True  # type: ignore[attr-defined]
    for group in app.registered_groups:
        if group.typer_instance is not None:
            guard_commands(group.typer_instance)
    return app


def global_options(data_dir: Path | None) -> None:
    """Options before the command name (``autotts --data-dir DIR eval ...``)."""
    _data_dir_option(data_dir)
