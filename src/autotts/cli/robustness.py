"""``autotts robustness``: where a policy wins and where it breaks, under shifts of the data."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ..data import StoreError, StoreNotInstalled, load_store
from .common import PlainProgress, beta_callback, console, err_console, fail, parse_floats, resolve_stores


class _Progress:
    """A progress line: a rich bar on a terminal, otherwise the plain periodic lines of
    :class:`~autotts.cli.common.PlainProgress`, so logs of a non-interactive run show it too."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.started = time.monotonic()
        self.tty = err_console.is_terminal
        self.last_line = -1.0
        self.condition = ""
        self._bar = None
        self._plain: PlainProgress | None = None

    def __enter__(self) -> _Progress:
        if self.enabled and self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("robustness", total=1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
        if self._plain is not None and exc[0] is None:
            self._plain.finish()

    def __call__(self, done: int, total: int, condition: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total, description=f"robustness: {condition}")
            return
        # off a terminal: the plain periodic lines every command prints (autotts.cli.common)
        if self._plain is None:
            self._plain = PlainProgress("robustness", total, unit="blocks")
        self._plain.detail, self._plain.total = f"condition {condition}", total
        self._plain.advance(done - self._plain.done)


def robustness_command(
    policy: str = typer.Argument(
        ..., help="The policy: a built-in name, FILE.py[:Class] (sandboxed), a discovery RUN folder, or NAME@VERSION."
    ),
    against: str = typer.Option("sc,cmc", "--against", "-a", help="Comparison controllers, comma-separated."),
    out: Path = typer.Option(Path("robustness"), "--out", "-o", help="Folder for robustness.json and .html."),
    split: str = typer.Option("heldout", "--split", help="search, heldout or all (ignored with --store)."),
    store: list[str] = typer.Option(None, "--store", "-s", help="MODEL/BENCH, a glob or a store FILE (repeatable)."),
    beta: list[str] = typer.Option(None, "--betas", help="β grid, comma-separated (default 0,0.25,0.5,0.75,1)."),
    operating_beta: float = typer.Option(
        None,
        "--beta",
        "-b",
        callback=beta_callback("--beta"),
        help="Judge the policy at this β (default: the rule, see docs).",
    ),
    seeds: int = typer.Option(0, "--seeds", min=0, help="Seeds per question (0 = the default, 50)."),
    condition: str = typer.Option(
        None,
        "--conditions",
        help="Only these conditions (base always runs), comma-separated: delta1000, delta1500, pool64, err10, "
        "forms25, longer, shorter, hard-only, easy-only, hard-heavy, easy-heavy.",
    ),
    subset_draws: int = typer.Option(2, "--subset-draws", min=1, help="Random 64-of-128 pools per store."),
    transfer: list[Path] = typer.Option(
        None, "--transfer", help="Discovery RUN folders for the transfer matrix (repeatable)."
    ),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0 = all cores)."),
    trusted: bool = typer.Option(False, "--trusted", help="Run controller files in-process, not in the sandbox."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Judge a policy under distribution shift: results by model, benchmark and question difficulty,
    and under shifted stores (probe granularity, pool resampling, extraction noise, reasoning length,
    task mix), each against SC@64 with paired 95% intervals, beside the comparison controllers.
    Writes robustness.json (every figure) and robustness.html (what fails first, a heat map).

    Examples:

      autotts robustness evo

      autotts robustness my_controller.py --against sc,cmc,parallel-probe --out rob/mine

      autotts robustness runs/evo --conditions delta1000,pool64 --seeds 10

      autotts robustness evo --transfer runs/on-0.6B --transfer runs/on-8B
    """
    from ..data.transforms import TransformError
    from ..report.runs import ReportInputError
    from ..robustness import DEFAULT_BETAS, DEFAULT_SEEDS, analyse, default_conditions, resolve_entry, select_conditions
    from ..robustness.html import headline, render
    from ..robustness.run import ControllerStopped

    try:
        entry = resolve_entry(policy, trusted=trusted)
        others = [resolve_entry(a, trusted=trusted) for a in against.split(",") if a.strip()]
        names = resolve_stores(store, None if store else split)
        for name in names:
            load_store(name)
        chosen = select_conditions(
            default_conditions(subset_replicates=subset_draws),
            [c.strip() for c in condition.split(",") if c.strip()] if condition else None,
        )
        for run in transfer or []:
            if not run.is_dir():
                raise ReportInputError(f"--transfer {run}: no such run folder")
    except (ReportInputError, StoreNotInstalled, StoreError, ValueError) as exc:
        fail(str(exc))
    betas = parse_floats(beta, "--betas") or list(DEFAULT_BETAS)
    if any(not 0.0 <= b <= 1.0 for b in betas):
        fail("--betas takes values in [0, 1]")
    if operating_beta is not None:
        betas = sorted(set(betas) | {operating_beta})
    if not quiet:
        err_console.print(
            f"robustness of {entry.label} against SC@64 and {', '.join(o.label for o in others) or 'nothing else'}: "
            f"{len(names)} stores, {len(chosen)} conditions, β {', '.join(f'{b:g}' for b in betas)}, "
            f"{seeds or DEFAULT_SEEDS} seeds",
            highlight=False,
        )
    try:
        with _Progress(enabled=not quiet) as progress:
            result = analyse(
                entry,
                others,
                names,
                chosen,
                betas=betas,
                seeds=seeds or DEFAULT_SEEDS,
                operating_betas={entry.label: operating_beta} if operating_beta is not None else None,
                transfer_runs=transfer or (),
                jobs=jobs or None,
                trusted=trusted,
                on_progress=progress,
            )
    except (ReportInputError, StoreNotInstalled, StoreError, TransformError, ValueError) as exc:
        fail(str(exc))
    except ControllerStopped as exc:
        fail(str(exc), code=1)
    json_path = result.write_json(out / "robustness.json")
    html_path = render(result, out)
    console.print(headline(result), highlight=False, soft_wrap=True)
    for v in result.flagged():
        console.print(f"  ⚑ {v.controller} — {v.condition}: {v.reason}", highlight=False, soft_wrap=True)
    console.print(f"written: {json_path}  {html_path}  ({result.seconds:.0f} s)", highlight=False)
