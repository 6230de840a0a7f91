"""``autotts discover``: run the discovery loop (or resume one)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ..data import Store, StoreError, StoreNotInstalled, load_store
from .common import console, err_console, fail, parse_floats, print_table, progress_bar, resolve_stores


class _ConsoleReporter:
    def message(self, text: str) -> None:
        err_console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}", highlight=False)

    def progress(self, description: str, total: int) -> AbstractContextManager[Callable[..., None]]:
        @contextmanager
        def bar() -> Iterator[Callable[..., None]]:
            with progress_bar(description, total) as advance:
                yield advance

        return bar()


def discover_command(
    ctx: typer.Context,
    proposer: str = typer.Option(
        None, "--proposer", "-p", help="evolve (default), claude-code, openai, anthropic, command."
    ),
    rounds: int = typer.Option(
        None, "--rounds", "-n", min=1, help="Rounds to run (default 5; on --resume: raise the total)."
    ),
    out: Path = typer.Option(None, "--out", "-o", help="Run folder to create (default runs/<timestamp>)."),
    resume: Path = typer.Option(None, "--resume", help="Continue the run in this folder where it stopped."),
    no_beta_rule: bool = typer.Option(False, "--no-beta-rule", help="Ablation: allow hyperparameters besides β."),
    no_traces: bool = typer.Option(False, "--no-traces", help="Ablation: no execution traces in the history."),
    base_url: str = typer.Option(None, "--base-url", help="API endpoint (openai, anthropic proposers)."),
    model: str = typer.Option(None, "--model", "-m", help="Model name (openai, anthropic, claude-code)."),
    betas: list[str] = typer.Option(None, "--betas", help="β grid, comma-separated (default 0,0.1,...,1)."),
    seeds: int = typer.Option(100, "--seeds", min=1, help="Seeds per question in every evaluation."),
    search_stores: list[str] = typer.Option(
        None, "--search-stores", help="Search stores (default: aime24 x 4 models)."
    ),
    heldout_stores: list[str] = typer.Option(
        None, "--heldout-stores", help="Held-out stores (default: aime25, hmmt25)."
    ),
    max_usd: float = typer.Option(None, "--max-usd", min=0, help="Stop before the proposer spends more than this."),
    command: str = typer.Option(None, "--command", help="Program for --proposer command (or the claude executable)."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0 = all cores)."),
    repairs: int = typer.Option(2, "--repairs", min=0, help="Repair attempts per round after a validation failure."),
    max_turns: int = typer.Option(30, "--max-turns", min=1, help="claude-code: agent turns per round."),
    agent_sandbox: str = typer.Option("auto", "--agent-sandbox", help="claude-code: bwrap, none, auto."),
    prices: Path = typer.Option(None, "--prices", help='JSON price table {"model": [in, out] USD per 1M tokens}.'),
    baselines: str = typer.Option(
        "sc,asc,esc,parallel-probe,cmc", "--baselines", help="Built-in controllers whose curves the proposer sees."
    ),
    baseline_seeds: int = typer.Option(
        20, "--baseline-seeds", min=1, help="Seeds for the baselines' workspace curves."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed handed to proposers with randomness."),
    selection: str = typer.Option(
        "accuracy", "--selection", help="accuracy (best search accuracy at β=1) or frontier."
    ),
    no_heldout: bool = typer.Option(False, "--no-heldout", help="Skip the held-out judgement of each round."),
    evolve_minutes: float = typer.Option(
        None, "--evolve-minutes", min=0.1, help="evolve: CPU minutes per round's search (generations fill it)."
    ),
    evolve_population: int = typer.Option(None, "--evolve-population", min=2, help="evolve: genomes per generation."),
    evolve_generations: int = typer.Option(None, "--evolve-generations", min=1, help="evolve: generations per round."),
    evolve_seeds: int = typer.Option(None, "--evolve-seeds", min=1, help="evolve: seeds per genome while searching."),
) -> None:
    """Run the discovery loop: each round a proposer writes a controller, autotts validates it,
    evaluates it in a sandbox on the search stores over the β grid and records everything in the run
    folder; at the end the best round is chosen on the search stores and shown with its held-out
    results beside SC@64 and CMC.

    Examples:

      autotts discover --rounds 2 --out runs/evo

      autotts discover --rounds 3 --evolve-minutes 5 --out runs/evo-long   # a larger search per round

      autotts discover --proposer openai --base-url http://localhost:8000/v1 --model qwen3-coder --max-usd 5

      autotts discover --proposer claude-code --model claude-sonnet-4-5 --rounds 5 --max-usd 40

      autotts discover --proposer command --command "python my_agent.py" --betas 0,0.5,1 --seeds 20

      autotts discover --resume runs/evo --rounds 8

    Then: autotts report RUN
    """
    from ..discovery.loop import DiscoveryConfig, DiscoveryLoop, new_run
    from ..discovery.proposers import DEFAULT_PROPOSER, ProposerUnavailable, create_proposer
    from ..discovery.runfolder import RunFolder, RunFolderError
    from ..discovery.selection import SELECTION_RULES

    if resume is not None and out is not None:
        fail("give either --out (a new run) or --resume RUN, not both")
    try:
        if resume is not None:
            folder = RunFolder.open(resume)
            config = DiscoveryConfig.from_json(folder.config)
            _check_resume_options(ctx, config, locals())
            changes = {}
            if rounds is not None and rounds != config.rounds:
                changes["rounds"] = config.rounds = rounds
            if max_usd is not None and max_usd != config.max_usd:
                changes["max_usd"] = config.max_usd = max_usd
            if changes:
                folder.update_config(**changes)
        else:
            if selection not in SELECTION_RULES:
                fail(f"--selection takes {' or '.join(SELECTION_RULES)}")
            grid = tuple(parse_floats(betas, "--betas")) if betas else None
            if grid is not None and (not grid or any(not 0 <= b <= 1 for b in grid)):
                fail("--betas takes values in [0, 1]")
            config = DiscoveryConfig(
                proposer=proposer or DEFAULT_PROPOSER,
                rounds=rounds or 5,
                seeds=seeds,
                beta_rule=not no_beta_rule,
                traces=not no_traces,
                model=model,
                base_url=base_url,
                command=command,
                max_usd=max_usd,
                jobs=jobs or None,
                seed=seed,
                repairs=repairs,
                max_turns=max_turns,
                agent_sandbox=agent_sandbox,
                prices=str(prices) if prices else None,
                baselines=_baselines(baselines),
                baseline_seeds=baseline_seeds,
                selection=selection,
                heldout=not no_heldout,
                proposer_extra={
                    f"evolve_{name}": value
                    for name, value in (
                        ("minutes", evolve_minutes),
                        ("population", evolve_population),
                        ("generations", evolve_generations),
                        ("seeds", evolve_seeds),
                    )
                    if value is not None
                },
            )
            if grid:
                config.betas = tuple(sorted(set(grid)))
            if search_stores:
                config.search_stores = tuple(_stores(search_stores, "--search-stores"))
            if heldout_stores:
                config.heldout_stores = tuple(_stores(heldout_stores, "--heldout-stores"))
            _check_split(config.search_stores, config.heldout_stores)
            for name in [*config.search_stores, *(config.heldout_stores if config.heldout else ())]:
                _check_installed(name)
            proposer_object = create_proposer(config.proposer, config.proposer_options())
            _check_endpoint(proposer_object)
            folder = new_run(out or Path("runs") / datetime.now(UTC).strftime("%Y%m%d-%H%M%S"), config)
        if resume is not None:
            proposer_object = create_proposer(config.proposer, config.proposer_options())
            _check_endpoint(proposer_object)
    except typer.Exit:  # a check above has already said what is wrong
        raise
    except (RunFolderError, ProposerUnavailable, ValueError) as exc:
        fail(str(exc))
    except Exception as exc:  # e.g. the claude CLI or bubblewrap missing
        fail(f"{type(exc).__name__}: {exc}")
    err_console.print(f"run folder: [bold]{folder.root}[/]  proposer: {config.proposer}", highlight=False)
    from ..governance.manifest import Clock

    clock = Clock()
    try:
        summary = DiscoveryLoop(folder, config, proposer_object, _ConsoleReporter()).run()
    except ProposerUnavailable as exc:  # e.g. the server went away mid-run: stop, resumable
        fail(f"{exc}; the run stopped and can continue with: autotts discover --resume {folder.root}", code=1)
    from ..governance.commands import write_discover_manifest

    write_discover_manifest(folder.root, clock)
    _print_summary(summary, folder.root)


# option -> (config field, the option's value as the config stores it); compared on --resume
_RESUME_FIXED: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "proposer": ("proposer", lambda v: v),
    "seeds": ("seeds", int),
    "betas": ("betas", lambda v: tuple(sorted(set(parse_floats(v, "--betas"))))),
    "search_stores": ("search_stores", lambda v: tuple(_stores(v, "--search-stores"))),
    "heldout_stores": ("heldout_stores", lambda v: tuple(_stores(v, "--heldout-stores"))),
    "no_beta_rule": ("beta_rule", lambda v: not v),
    "no_traces": ("traces", lambda v: not v),
    "model": ("model", lambda v: v),
    "base_url": ("base_url", lambda v: v),
    "command": ("command", lambda v: v),
    "seed": ("seed", int),
    "repairs": ("repairs", int),
    "max_turns": ("max_turns", int),
    "agent_sandbox": ("agent_sandbox", lambda v: v),
    "prices": ("prices", lambda v: str(v) if v else None),
    "baselines": ("baselines", lambda v: _baselines(v)),
    "baseline_seeds": ("baseline_seeds", int),
    "selection": ("selection", lambda v: v),
    "no_heldout": ("heldout", lambda v: not v),
}


def _check_resume_options(ctx: typer.Context, config: Any, given: dict[str, Any]) -> None:
    """On --resume the run's own configuration holds: an option given on the command line that
    differs from it is an error naming the option (silently ignoring it would mislead), and
    --rounds may only raise the total. --jobs and --max-usd may change."""
    def on_command_line(name: str) -> bool:
        source = ctx.get_parameter_source(name)  # an enum of the click that typer carries: compare names
        return getattr(source, "name", "") in ("COMMANDLINE", "ENVIRONMENT")

    if on_command_line("out"):
        fail("give either --out (a new run) or --resume RUN, not both")
    for name, (field_name, convert) in _RESUME_FIXED.items():
        if not on_command_line(name):
            continue
        value, stored = convert(given[name]), getattr(config, field_name)
        if isinstance(stored, list):
            stored = tuple(stored)
        if value != stored:
            option = "--" + name.replace("_", "-")
            fail(
                f"{option} conflicts with the run being resumed (it has {field_name} = {stored!r}); a resumed run "
                f"keeps its configuration: drop {option}, or start a new run with --out"
            )
    rounds = given.get("rounds")
    if rounds is not None and rounds < config.rounds:
        fail(f"--rounds {rounds}: the run already has {config.rounds} rounds planned; --rounds may only extend it")


def _check_endpoint(proposer: Any) -> None:
    """Chat proposers: refuse to start (exit 2) when nothing answers at the API endpoint."""
    check = getattr(proposer, "check_endpoint", None)
    if callable(check):
        check()


def _stores(items: list[str], option: str) -> list[str]:
    parts = [p.strip() for item in items for p in item.split(",") if p.strip()]
    try:
        return resolve_stores(parts, option=option)
    except ValueError as exc:
        fail(f"{option}: {exc}")


def _baselines(text: str) -> tuple[str, ...]:
    from ..controllers.base import registered

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in registered()]
    if unknown:
        fail(f"--baselines: unknown controller(s) {', '.join(unknown)}; known: {', '.join(sorted(registered()))}")
    return names


def _check_split(search: tuple[str, ...], heldout: tuple[str, ...]) -> None:
    overlap = sorted(set(search) & set(heldout))
    if overlap:
        fail(f"stores cannot be both search and held-out: {', '.join(overlap)}")
    if not search:
        fail("no search stores")


def _check_installed(name: str) -> None:
    try:
        store = load_store(name)
    except (StoreNotInstalled, StoreError) as exc:
        fail(str(exc))
    problem = reference_pool_problem(name, store)
    if problem:
        fail(problem)


def reference_pool_problem(name: str, store: Store) -> str | None:
    """Why ``store`` cannot be judged against SC@64 (every round and the report are), or None: SC@64
    reads 64 branches of each question, so a store with fewer (a small store of one's own) would raise
    in every reference episode."""
    from ..env.core import DEFAULT_MAX_BRANCHES

    pool = min((len(q.branches) for q in store.questions), default=0)
    if pool >= DEFAULT_MAX_BRANCHES:
        return None
    return (
        f"store {name} ({store.source}) has {pool} branches per question; discovery and its report judge every "
        f"policy against SC@64, which reads {DEFAULT_MAX_BRANCHES}. Collect at least {DEFAULT_MAX_BRANCHES} "
        f"(autotts collect --branches {DEFAULT_MAX_BRANCHES}), or judge it with autotts eval at small β."
    )


def _fmt(value: Any, pattern: str = "{:.2f}") -> str:
    return "—" if value is None else pattern.format(value)


def _print_summary(summary: dict[str, Any], root: Path) -> None:
    table = Table(title=f"autotts discover: {root}")
    for column in (
        "round",
        "status",
        "search acc % (β max)",
        "search tokens",
        "held-out acc %",
        "held-out tokens",
        "note",
    ):
        table.add_column(column)
    for r in summary["rounds"]:
        search, held = r.get("search") or {}, r.get("heldout") or {}
        mark = " ✓ chosen" if r["round"] == summary["chosen_round"] else ""
        table.add_row(
            str(r["round"]),
            r["status"] + mark,
            _fmt(search.get("accuracy_at_max_beta")),
            _fmt(search.get("tokens_at_max_beta"), "{:,.0f}"),
            _fmt(held.get("accuracy_at_max_beta")),
            _fmt(held.get("tokens_at_max_beta"), "{:,.0f}"),
            (r.get("reason") or "").splitlines()[0][:60] if r.get("reason") else "",
        )
    refs = summary.get("references") or {}
    for name, label in (("sc", "SC@64"), ("cmc", "CMC β=1")):
        s, h = (refs.get("search") or {}).get(name), (refs.get("heldout") or {}).get(name)
        if s or h:
            table.add_row(
                label,
                "reference",
                _fmt((s or {}).get("accuracy")),
                _fmt((s or {}).get("tokens"), "{:,.0f}"),
                _fmt((h or {}).get("accuracy")),
                _fmt((h or {}).get("tokens"), "{:,.0f}"),
                "",
            )
    print_table(table)
    chosen = summary["chosen_round"]
    if chosen is None:
        console.print("No round produced a valid controller.")
    else:
        held = (summary.get("chosen") or {}).get("heldout") or {}
        saving = held.get("saving_vs_sc64")
        extra = f"; held-out saving vs SC@64 at its accuracy: {100 * saving:.1f}%" if saving is not None else ""
        console.print(
            f"Chosen: round {chosen} ({summary['selection']} on the search stores) → "
            f"{root / 'rounds' / f'{chosen:03d}' / 'candidate.py'}{extra}",
            highlight=False,
        )
    console.print(
        f"Rounds: {summary['rounds_done']}/{summary['rounds_planned']}   total proposer cost: "
        f"${summary['total_cost_usd']:.4f}   time: {summary['wall_seconds']:.0f} s   next: autotts report {root}",
        highlight=False,
    )
