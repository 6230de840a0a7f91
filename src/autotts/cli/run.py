"""``autotts run``: answer a batch of questions live with a policy; compare with replay."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import typer

from .common import console, fail
from .serve import (
    ALLOW_UNAPPROVED,
    API,
    BACKEND_CONCURRENCY,
    BETA,
    BRANCHES,
    CLEANING,
    EPISODE_SEED,
    EXTRA_BODY,
    INTERVAL,
    MAX_TOKENS,
    MODEL,
    PROBE_SUFFIX,
    PROBE_TOKENS,
    REGISTRY,
    RETRIES,
    SEED,
    SYSTEM,
    TEMPERATURE,
    TEMPLATE,
    TIMEOUT,
    TOP_LOGPROBS,
    TOP_P,
    TRUSTED,
    load,
    make_config,
)


def run_command(
    policy: str = typer.Argument(
        ..., help="NAME@production (or NAME@VERSION); a name or file with --allow-unapproved."
    ),
    base_url: str = typer.Option(..., "--base-url", help="The model server's OpenAI-compatible base URL (…/v1)."),
    questions: Path = typer.Option(..., "--questions", help="Questions: .jsonl, .json, .csv, .tsv or .parquet."),
    out: Path = typer.Option(Path("autotts-run"), "--out", help="Folder for results.jsonl and summary.json."),
    store: str = typer.Option(
        None, "--store", help="A store collected from the same server: print the sim-to-real comparison."
    ),
    replay_seeds: int = typer.Option(25, "--replay-seeds", min=1, help="Seeds of the replay prediction."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="Questions answered at once."),
    question_field: str = typer.Option(None, "--question-field", help="Question column (default: question/...)."),
    answer_field: str = typer.Option(None, "--answer-field", help="Gold column (default: answer/...)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
    deadline: float = typer.Option(3600.0, "--deadline", help="Seconds one question may take."),
    beta: float = BETA,
    allow_unapproved: bool = ALLOW_UNAPPROVED,
    registry: Path = REGISTRY,
    trusted: bool = TRUSTED,
    model: str = MODEL,
    api: str = API,
    prompt_template: str = TEMPLATE,
    system: str = SYSTEM,
    branches: int = BRANCHES,
    interval: int = INTERVAL,
    max_tokens: int = MAX_TOKENS,
    temperature: float = TEMPERATURE,
    top_p: float = TOP_P,
    seed: int = SEED,
    episode_seed: int = EPISODE_SEED,
    probe_suffix: str = PROBE_SUFFIX,
    probe_tokens: int = PROBE_TOKENS,
    cleaning: str = CLEANING,
    top_logprobs: int = TOP_LOGPROBS,
    equivalence: str = typer.Option(
        "math-verify", "--equivalence", help="Answers the policy sees: math-verify (as collect stores) or exact."
    ),
    timeout: float = TIMEOUT,
    retries: int = RETRIES,
    backend_concurrency: int = BACKEND_CONCURRENCY,
    extra_body: str = EXTRA_BODY,
) -> None:
    """Answer every question of a file live with a policy, and summarise with intervals.

    Question q of the file is sampled as `autotts collect` samples question q (same prompt, Δ-token
    intervals, probes and request seeds), so with --store, a store collected from the same server with
    the same settings, the replay prediction of the same policy and β is printed beside the live
    figures, and each episode is compared with its replay twin.

    Writes OUT/results.jsonl (per question: answer, correctness with gold, tokens, latency, wall time,
    decision trace) and OUT/summary.json.

    Examples:

      autotts run evo@production --base-url http://127.0.0.1:8080/v1 --questions aime25.jsonl \\
          --interval 500 --max-tokens 32768 --out runs/evo-live

      autotts run sc --allow-unapproved --beta 0.5 --base-url http://127.0.0.1:8080/v1 \\
          --questions arith.jsonl --branches 8 --interval 32 --max-tokens 96 --store my-model/arith
    """
    from ..data.collect.questions import QuestionsError, load_questions
    from ..live.batch import run_questions, sim_to_real, summarise, write_outputs
    from ..live.monitor import DecisionLog
    from ..live.service import LiveService

    try:
        items = load_questions(questions, question_field, answer_field, limit)
    except QuestionsError as exc:
        fail(str(exc))
    if deadline <= 0:
        fail("--deadline must be positive")
    config = make_config(
        base_url,
        model,
        extra_body,
        api=api,
        prompt_template=prompt_template,
        system=system,
        branches=branches,
        interval=interval,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        probe_suffix=probe_suffix,
        probe_tokens=probe_tokens,
        cleaning=cleaning,
        top_logprobs=top_logprobs,
        equivalence=equivalence,
        timeout=timeout,
        retries=retries,
        backend_concurrency=backend_concurrency,
    )
    if store:
        from ..data.lookup import load_store

        try:
            load_store(store)  # a bad store fails now, not after the live run
        except Exception as exc:  # noqa: BLE001 - missing file, schema defect: the message names it
            fail(f"--store {store}: {exc}")
    live_policy = load(policy, beta, allow_unapproved, registry, trusted, concurrency)
    info = {**live_policy.source.describe(), "sandboxed": live_policy.sandboxed}
    out.mkdir(parents=True, exist_ok=True)
    log = DecisionLog(out / "decisions.jsonl", info)
    if not live_policy.source.approved:
        log.write("-", "unapproved", {"status": live_policy.source.status, "note": "--allow-unapproved"})
    started = time.monotonic()
    done = [0]

    def progress(q: int, result) -> None:
        done[0] += 1
        state = "ok" if result.status == 200 else f"failed ({result.error})"
        _say(
            f"run: {done[0]}/{len(items)} questions; q{q}: {state}, {result.tokens:,} tokens, "
            f"{result.wall_seconds:.1f} s; elapsed {time.monotonic() - started:.0f} s"
        )

    async def main():
        async with LiveService(
            live_policy, config, log=log, max_concurrent=concurrency, max_queue=len(items), deadline=deadline
        ) as service:
            results = await run_questions(
                service, items, seed=episode_seed, concurrency=concurrency, on_result=progress
            )
            return service, results

    _say(f"run: {len(items)} questions with {info['policy']} (β={info['beta']:g}) on {config.base_url}")
    try:
        service, results = asyncio.run(main())
    except KeyboardInterrupt:
        fail("interrupted; nothing was written", code=130)
    finally:
        log.close()
    summary = {"policy": info, "backend": config.public(), "episode_seed": episode_seed, **summarise(results, items)}
    if store:
        _say(f"run: replaying {info['policy']} on {store} ({replay_seeds} seeds) for the sim-to-real comparison ...")
        try:
            summary["sim_to_real"] = sim_to_real(
                service, store, results, items, seeds=replay_seeds, episode_seed=episode_seed, trusted=trusted
            )
        except Exception as exc:  # noqa: BLE001 - the live results are kept; the comparison names what failed
            summary["sim_to_real"] = {"store": store, "error": f"{type(exc).__name__}: {exc}"}
    results_path, summary_path = write_outputs(out, results, items, summary)
    _print(summary)
    console.print(f"results -> {results_path}\nsummary -> {summary_path}\ndecisions -> {out / 'decisions.jsonl'}")
    if summary["failed"]:
        raise typer.Exit(1)


def _fmt(figure: dict | None, digits: int = 1) -> str:
    if not figure or figure.get("mean") is None:
        return "-"
    return f"{figure['mean']:,.{digits}f} [{figure['low']:,.{digits}f}, {figure['high']:,.{digits}f}]"


def _print(summary: dict) -> None:
    console.print(
        f"[bold]{summary['policy']['policy']}[/] live: {summary['answered']}/{summary['questions']} answered"
        + (f", {summary['failed']} failed" if summary["failed"] else ""),
        highlight=False,
    )
    console.print(f"  accuracy %      {_fmt(summary['accuracy'])}", highlight=False)
    console.print(f"  tokens          {_fmt(summary['tokens'], 0)}", highlight=False)
    console.print(f"  latency tokens  {_fmt(summary['latency_tokens'], 0)}", highlight=False)
    console.print(f"  wall seconds    {_fmt(summary['wall_seconds'], 2)}", highlight=False)
    sim = summary.get("sim_to_real")
    if not sim:
        return
    if "error" in sim:
        console.print(f"  sim-to-real: could not replay {sim['store']}: {sim['error']}", highlight=False)
        return
    console.print(f"[bold]sim-to-real[/] vs replay on {sim['store']} ({sim['replay_seeds']} seeds), 95% intervals:")
    for name, fig in sim["figures"].items():
        digits = 1 if name == "accuracy" else 0
        verdict = "[green]agree[/]" if fig["agree"] else "[red]differ[/]"
        console.print(
            f"  {name:<15} replay {_fmt(fig['replay'], digits)}   live {_fmt(fig['live'], digits)}   {verdict}",
            highlight=False,
        )
    if sim.get("episodes"):
        e = sim["episodes"]
        console.print(
            f"  episodes (seed {e['seed']}): {e['identical']}/{e['compared']} identical to replay "
            "(answer and tokens)" + (f"; differ: {e['differ']}" if e["differ"] else ""),
            highlight=False,
        )
    for line in sim.get("settings_differ") or []:
        console.print(f"  [yellow]settings differ[/] {line}", highlight=False)
    console.print("  verdict: " + ("live agrees with replay" if sim["agree"] else "live DIFFERS from replay"))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
