"""``autotts collect``: build a replay store from a live OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

from ..backends import BackendError
from ..data.answertypes import ANSWER_TYPES
from ..data.collect import (
    CollectConfig,
    CollectError,
    Collector,
    JournalError,
    QuestionsError,
    estimate,
    journal_path,
    load_questions,
)
from ..data.collect.answers import CLEANINGS
from .common import console, fail


def collect_command(
    base_url: str = typer.Option(..., "--base-url", help="The server's OpenAI-compatible base URL (…/v1)."),
    model: str = typer.Option(..., "--model", help="Model name the server serves."),
    questions: Path = typer.Option(..., "--questions", help="Questions: .jsonl, .json, .csv, .tsv or .parquet."),
    out: Path = typer.Option(..., "--out", help="Store file to write (MODEL/BENCH.json.gz names the store)."),
    branches: int = typer.Option(128, "--branches", min=1, help="Branches per question."),
    interval: int = typer.Option(500, "--interval", min=1, help="Δ: tokens per interval (one request each)."),
    max_tokens: int = typer.Option(32768, "--max-tokens", min=1, help="Most tokens one branch may generate."),
    api: str = typer.Option("completions", "--api", help="completions (text continuation) or chat (server template)."),
    prompt_template: str = typer.Option(
        None, "--prompt-template", help="Prompt with {question}: the whole prompt (completions) or the user message."
    ),
    system: str = typer.Option(None, "--system", help="System message (chat API)."),
    question_field: str = typer.Option(
        None, "--question-field", help="Question column (default: question/problem/prompt)."
    ),
    answer_field: str = typer.Option(
        None, "--answer-field", help="Gold column (default: answer/gold_answer/final_answer)."
    ),
    limit: int = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
    temperature: float = typer.Option(0.7, "--temperature", help="Sampling temperature of the branches."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling."),
    seed: int = typer.Option(0, "--seed", help="Base seed; each request gets its own seed derived from it."),
    answer_type: str = typer.Option(
        "math",
        "--answer-type",
        help="math (math-verify equivalence), choice (an option letter; GPQA-style rows) or exact (normalised string).",
    ),
    choices_field: str = typer.Option(
        None, "--choices-field", help="choice: the options list column (default: choices/options, or GPQA's columns)."
    ),
    shuffle_options: int = typer.Option(
        None, "--shuffle-options", help="choice: shuffle each question's options with this seed (recorded)."
    ),
    probe_suffix: str = typer.Option(
        None,
        "--probe-suffix",
        help="Answer-forcing suffix appended for a probe (default: the answer type's; Dynasor's for math).",
    ),
    probe_tokens: int = typer.Option(20, "--probe-tokens", min=1, help="Greedy tokens per probe."),
    cleaning: str = typer.Option("basic", "--cleaning", help=f"Answer cleaning: {', '.join(CLEANINGS)}."),
    top_logprobs: int = typer.Option(
        5, "--top-logprobs", min=0, help="k for per-interval confidence from top-k log-probabilities (0: off)."
    ),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="Branches in flight at once."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds before a request is abandoned and retried."),
    retries: int = typer.Option(8, "--retries", min=1, help="Attempts per request (429/5xx/time-outs/drops)."),
    extra_body: str = typer.Option(None, "--extra-body", help="JSON object merged into every request."),
    keep_text: bool = typer.Option(False, "--keep-text", help="Keep every branch's full text in the store."),
    name: str = typer.Option(None, "--name", help="Store name in its metadata (default MODEL/BENCH from --out)."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard an existing journal and start over."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only estimate tokens (and money with --prices)."),
    prices: str = typer.Option(None, "--prices", help="USD per million input,output tokens, e.g. 0.15,0.60."),
    progress_every: float = typer.Option(10.0, "--progress-every", help="Seconds between progress lines."),
) -> None:
    """Build a replay store from a live OpenAI-compatible server (vLLM, SGLang, llama.cpp, hosted).

    Each branch is generated Δ tokens per request, continuing its own text (the server's prefix cache
    makes that cheap); after every interval a probe (the text, an answer-forcing suffix, a few greedy
    tokens) gives the intermediate answer. Every reply is journaled (OUT stem + .journal.jsonl):
    run the same command again after a crash or kill to resume. The key is read from $OPENAI_API_KEY.

    Examples:

      autotts collect --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen3-4B \\
          --questions aime25.jsonl --branches 128 --interval 500 --max-tokens 32768 \\
          --out stores/my-model/aime25.json.gz

      autotts collect ... --dry-run --prices 0.15,0.60

      autotts collect --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen3-4B \\
          --questions gpqa_diamond.csv --answer-type choice --shuffle-options 0 \\
          --out stores/my-model/gpqa.json.gz        (probes end "The answer is (")

      autotts data import stores/my-model/aime25.json.gz --name my-model/aime25

      autotts eval -c sc -c cmc --store my-model/aime25 --beta 0.5,1
    """
    if answer_type not in ANSWER_TYPES:
        fail(f"--answer-type must be one of {', '.join(ANSWER_TYPES)}, got {answer_type!r}")
    if cleaning not in CLEANINGS:
        fail(f"--cleaning must be one of {', '.join(CLEANINGS)}, got {cleaning!r}")
    body = {}
    if extra_body:
        try:
            body = json.loads(extra_body)
        except json.JSONDecodeError as exc:
            fail(f"--extra-body is not valid JSON: {exc.msg}")
        if not isinstance(body, dict):
            fail("--extra-body must be a JSON object")
    config = CollectConfig(
        base_url=base_url,
        model=model,
        questions=str(questions),
        out=str(out),
        api=api,
        question_field=question_field,
        answer_field=answer_field,
        limit=limit,
        branches=branches,
        interval=interval,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        prompt_template=prompt_template,
        system=system,
        probe_suffix=probe_suffix,
        probe_tokens=probe_tokens,
        cleaning=cleaning,
        top_logprobs=top_logprobs,
        concurrency=concurrency,
        timeout=timeout,
        retries=retries,
        keep_text=keep_text,
        name=name,
        api_key=os.environ.get("OPENAI_API_KEY"),
        extra_body=body,
        answer_type=answer_type,
        choices_field=choices_field,
        shuffle_options=shuffle_options,
    )
    price_pair = _prices(prices) if prices else None
    try:
        if answer_type == "choice" and shuffle_options is None:
            _position_warning(config)
        if dry_run:
            est = estimate(config, price_pair)
            console.print(
                f"dry run (nothing sent): {est.questions} questions × {est.branches} branches, "
                f"at most {est.requests:,} requests\n"
                f"  output tokens  ≤ {est.output_tokens:,} (generation + probes)\n"
                f"  input tokens   ≤ {est.input_tokens:,} as sent (≈, 4 characters a token); "
                f"≈ {est.input_tokens_uncached:,} computed with a prefix cache"
                + (
                    f"\n  cost           ≤ ${est.usd:,.2f} at ${price_pair[0]}/M in, ${price_pair[1]}/M out"
                    if est.usd is not None
                    else ""
                ),
                highlight=False,
            )
            return
        collector = Collector(config, fresh=fresh, on_progress=_progress, progress_every=progress_every)
        jpath = journal_path(out)
        if jpath.exists() and not fresh:
            _progress(f"collect: resuming from {jpath}")
        result = collector.run()
    except (QuestionsError, CollectError, JournalError, BackendError) as exc:
        fail(str(exc), code=1 if isinstance(exc, BackendError) else 2)
    except KeyboardInterrupt:
        fail(f"interrupted; run the same command again to resume from {journal_path(out)}", code=130)
    console.print(
        f"[green]collected[/] {result.questions} questions × {result.branches} branches -> {result.out}\n"
        f"  sha256 {result.sha256}  ({result.out}.sha256)\n"
        f"  tokens: generated {result.gen_tokens:,} + probes {result.probe_tokens:,}; "
        f"{result.requests:,} requests, {result.retries} retries, {result.elapsed:,.1f} s"
        + (f"; {result.resumed_records} journal records reused" if result.resumed_records else "")
        + f"\n  install: autotts data import {result.out} --name {config.store_name()}",
        highlight=False,
    )


def _position_warning(config: CollectConfig) -> None:
    """Warn when every gold is the same letter (GPQA's file order puts the correct answer first)."""
    questions = load_questions(
        config.questions, config.question_field, config.answer_field, config.limit,
        answer_type="choice", choices_field=config.choices_field,
    )  # fmt: skip
    golds = {q.gold for q in questions if q.gold is not None}
    if len(questions) > 1 and len(golds) == 1:
        _progress(
            f"collect: warning: every gold answer is ({golds.pop()}); a model's bias for one position "
            "would look like skill. Pass --shuffle-options SEED to shuffle each question's options."
        )


def _prices(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        fail(f"--prices takes two numbers IN,OUT (USD per million tokens), got {text!r}")
    if len(values) != 2 or min(values) < 0:
        fail(f"--prices takes two non-negative numbers IN,OUT, got {text!r}")
    return values[0], values[1]


def _progress(line: str) -> None:
    # plain lines on stderr, also when not on a terminal (CI logs, nohup): no bar to redraw
    print(line, file=sys.stderr, flush=True)
