"""``autotts data``: install, list and check replay stores."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..data import ALL_STORES, FetchError, StoreError, data_dir, fetch_store, load_store_file
from ..data.fetch import installed_path
from ..data.importing import import_store, installed_stores
from .common import console, err_console, fail, print_table, progress_bar

app = typer.Typer(help="Install, list and check replay stores.", no_args_is_help=True)


@app.command("fetch")
def fetch_command(
    source: str = typer.Option(
        "", "--from", help="Mirror folder or URL holding MODEL/BENCH.json[.gz]; default: the upstream address."
    ),
    data_dir_opt: Path = typer.Option(
        None, "--data-dir", help="Where to install (default $AUTOTTS_DATA_DIR or ~/.cache/autotts)."
    ),
    store: list[str] = typer.Option(None, "--store", help="Only these stores (repeatable); default all twelve."),
    force: bool = typer.Option(False, "--force", help="Install again even when present and intact."),
) -> None:
    """Install replay stores, verifying the SHA-256 of every file's JSON content.

    Examples:

      autotts data fetch --from ../shared/replay

      autotts data fetch --store Qwen3-4B/aime24 --data-dir /tmp/autotts-data
    """
    root = data_dir(data_dir_opt)
    names = store or list(ALL_STORES)
    installed = skipped = 0
    with progress_bar("fetching", len(names)) as advance:
        for name in names:
            try:
                item = fetch_store(name, root, source, force)
            except FetchError as exc:
                fail(str(exc))
            installed += not item.skipped
            skipped += item.skipped
            advance()
    console.print(f"{installed} installed, {skipped} already present and verified, in {root}")


@app.command("list")
def list_command(
    data_dir_opt: Path = typer.Option(None, "--data-dir", help="Data directory to list."),
) -> None:
    """Show the installed stores: questions, branches, probe interval, mean branch tokens, the
    accuracy of a majority vote over the whole pool and the answer type (exact, math or choice).

    Example: autotts data list
    """
    root = data_dir(data_dir_opt)
    table = Table(title=f"Replay stores in {root}")
    table.add_column("store", no_wrap=True)
    for column in ("questions", "branches", "Δ", "mean tokens", "maj@pool %"):
        table.add_column(column, justify="right")
    table.add_column("answers")
    found = 0
    for name in installed_stores(root):  # the published stores, then imported ones
        path = installed_path(name, root)
        found += 1
        try:
            s = load_store_file(path, name).summary()
        except StoreError as exc:
            fail(str(exc))
        table.add_row(
            name,
            str(s.questions),
            str(s.branches),
            str(s.probe_freq),
            f"{s.mean_branch_tokens:,.0f}",
            f"{s.majority_accuracy:.1f}",
            s.answer_type,
        )
    if not found:
        fail(f"no stores installed in {root}; run `autotts data fetch --from ../shared/replay`", code=1)
    print_table(table)


@app.command("check")
def check_command(
    files: list[Path] = typer.Argument(..., help="Replay files (.json or .json.gz) or folders of them."),
) -> None:
    """Validate replay files against the store schema. Every file is checked (a folder: every store
    file under it); each defect is reported with the file, the question index and the field, and
    the exit code is 2 when any file is bad.

    Examples:

      autotts data check my-model/aime24.json

      autotts data check ~/.cache/autotts
    """
    bad = checked = 0
    for path in _store_files(files):
        checked += 1
        if not path.exists():
            err_console.print(f"[bold red]error:[/] {path}: no such file or folder", highlight=False)
            bad += 1
            continue
        try:
            store = load_store_file(path)
        except StoreError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            bad += 1
            continue
        s = store.summary()
        console.print(
            f"[green]ok[/] {path}: {s.questions} questions × {s.branches} branches, Δ={s.probe_freq}, "
            f"answers {s.answer_type}",
            highlight=False,
        )
    if not checked:
        fail(f"no store files (*.json, *.json.gz) under {', '.join(map(str, files))}")
    if bad:
        fail(f"{bad} of {checked} file(s) failed the check")


def _store_files(items: list[Path]) -> list[Path]:
    """The files named, and for a folder every ``*.json``/``*.json.gz`` under it (checksum files and
    the like are skipped), in a stable order."""
    out: list[Path] = []
    for item in items:
        if item.is_dir():
            out.extend(sorted(p for p in item.rglob("*") if p.is_file() and p.name.endswith((".json", ".json.gz"))))
        else:
            out.append(item)
    return out


@app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="A store file (.json or .json.gz), e.g. from `autotts collect`."),
    name: str = typer.Option(..., "--name", help="Install it as MODEL/BENCH."),
    data_dir_opt: Path = typer.Option(
        None, "--data-dir", help="Where to install (default $AUTOTTS_DATA_DIR or ~/.cache/autotts)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace a different store already installed under NAME."),
    answer_type: str = typer.Option(
        None, "--answer-type", help="Type an upstream-format file: math, choice or exact (see docs/answers.md)."
    ),
    options: int = typer.Option(None, "--options", help="choice: the option count of every question (e.g. 4)."),
) -> None:
    """Install a store of your own into the data directory, so --store MODEL/BENCH finds it.

    The file is checked against the store schema and, when FILE.sha256 exists (autotts collect
    writes it), against that checksum; the installed copy gets a checksum file of its own.

    Examples:

      autotts data import stores/my-model/aime25.json.gz --name my-model/aime25

      autotts eval -c sc -c cmc --store my-model/aime25 --beta 0.5,1

      autotts data import gpqa_diamond.json --name Qwen3-8B/gpqa --answer-type choice --options 4

    --answer-type installs a file in the upstream format (a list of questions) with that answer type:
    answers are put in the type's canonical form (the raw strings are kept), so votes and grades
    follow the type.
    """
    root = data_dir(data_dir_opt)
    try:
        item = import_store(file, name, root, force=force, answer_type=answer_type, options=options)
    except FetchError as exc:
        fail(str(exc))
    s = item.store.summary()
    console.print(
        f"[green]installed[/] {name} -> {item.path} (sha256 {item.sha256[:16]}…): "
        f"{s.questions} questions × {s.branches} branches, Δ={s.probe_freq}, answers {s.answer_type}",
        highlight=False,
    )
