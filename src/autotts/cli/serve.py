"""``autotts serve``: an approved policy behind an OpenAI-compatible endpoint, in front of a model server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import typer

from ..data.collect.answers import CLEANINGS, DYNASOR_SUFFIX
from .common import fail

# options shared with `autotts run` (the backend and how branches are sampled: collect's meanings)
API = typer.Option("completions", "--api", help="Backend API: completions (text continuation) or chat.")
MODEL = typer.Option(None, "--model", help="Model name on the backend (default: the first it lists).")
TEMPLATE = typer.Option(None, "--prompt-template", help="Prompt with {question} (as in autotts collect).")
SYSTEM = typer.Option(None, "--system", help="System message (chat API).")
BRANCHES = typer.Option(128, "--branches", min=1, help="Pool size: branch b of the pool is collect's branch b.")
INTERVAL = typer.Option(500, "--interval", min=1, help="Δ: tokens per interval (one request each).")
MAX_TOKENS = typer.Option(32768, "--max-tokens", min=1, help="Most tokens one branch may generate.")
TEMPERATURE = typer.Option(0.7, "--temperature", help="Sampling temperature of the branches.")
TOP_P = typer.Option(1.0, "--top-p", help="Nucleus sampling.")
SEED = typer.Option(0, "--seed", help="Base sampling seed (collect's --seed: per-request seeds derive from it).")
EPISODE_SEED = typer.Option(0, "--episode-seed", min=0, help="Episode seed: the order branches are opened in.")
PROBE_SUFFIX = typer.Option(DYNASOR_SUFFIX, "--probe-suffix", help="Answer-forcing probe suffix (collect's).")
PROBE_TOKENS = typer.Option(20, "--probe-tokens", min=1, help="Greedy tokens per probe.")
CLEANING = typer.Option("basic", "--cleaning", help=f"Answer cleaning: {', '.join(CLEANINGS)}.")
TOP_LOGPROBS = typer.Option(0, "--top-logprobs", min=0, help="k for per-interval confidence (0: off).")
EQUIVALENCE = typer.Option(
    "exact", "--equivalence", help="Answers the policy sees: exact (as extracted) or math-verify (collect's classes)."
)
TIMEOUT = typer.Option(120.0, "--timeout", help="Seconds before a backend request is abandoned and retried.")
RETRIES = typer.Option(3, "--retries", min=1, help="Attempts per backend request (429/5xx/time-outs/drops).")
BACKEND_CONCURRENCY = typer.Option(64, "--backend-concurrency", min=1, help="Backend requests in flight at most.")
EXTRA_BODY = typer.Option(None, "--extra-body", help="JSON object merged into every backend request.")
BETA = typer.Option(None, "--beta", help="β (default: the registered version's; 1 for a name or file).")
ALLOW_UNAPPROVED = typer.Option(
    False, "--allow-unapproved", help="Run a version without a standing approval (recorded in the audit log)."
)
REGISTRY = typer.Option(None, "--registry", help="Policy registry (default: $AUTOTTS_REGISTRY or the data dir).")
TRUSTED = typer.Option(False, "--trusted", help="Run a controller file in-process (your own code only).")


def make_config(base_url: str, model: str | None, extra_body: str | None, **fields: Any):
    """A validated :class:`~autotts.live.config.LiveConfig`; a bad value exits with its option named."""
    from ..live.config import LiveConfig, LiveConfigError

    body: dict[str, Any] = {}
    if extra_body:
        try:
            body = json.loads(extra_body)
        except json.JSONDecodeError as exc:
            fail(f"--extra-body is not valid JSON: {exc.msg}")
        if not isinstance(body, dict):
            fail("--extra-body must be a JSON object")
    if not base_url.startswith(("http://", "https://")):
        fail(f"the backend URL must start with http:// or https://, got {base_url!r}")
    config = LiveConfig(
        base_url=base_url.rstrip("/"),
        model=model or "",
        api_key=os.environ.get("OPENAI_API_KEY"),
        extra_body=body,
        **fields,
    )
    try:
        config.validate()
    except LiveConfigError as exc:
        fail(str(exc))
    if not config.model:
        config.model = _first_model(config) or "default"
    return config


def _first_model(config) -> str | None:
    from ..backends import ServerClient

    async def ask() -> list[str] | None:
        client = ServerClient(config.base_url, "default", api=config.api, timeout=10.0)
        try:
            return await client.served_models()
        finally:
            await client.close()

    models = asyncio.run(ask())
    return models[0] if models else None


def load(ref: str, beta: float | None, allow_unapproved: bool, registry: Path | None, trusted: bool, processes: int):
    """The policy, with the approval rule applied (:func:`autotts.live.policy.load_policy`)."""
    from ..live.policy import PolicyError, build_policy, load_policy

    try:
        source = load_policy(ref, beta=beta, allow_unapproved=allow_unapproved, registry=registry)
        return build_policy(source, trusted=trusted, processes=processes)
    except PolicyError as exc:
        fail(str(exc))
    except ValueError as exc:  # a bad β or override, named by the controller
        fail(f"{ref}: {exc}")


def serve_command(
    policy: str = typer.Argument(
        ..., help="NAME@production (or NAME@VERSION); a name or file with --allow-unapproved."
    ),
    backend: str = typer.Option(..., "--backend", help="The model server's OpenAI-compatible base URL (…/v1)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
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
    equivalence: str = EQUIVALENCE,
    timeout: float = TIMEOUT,
    retries: int = RETRIES,
    backend_concurrency: int = BACKEND_CONCURRENCY,
    extra_body: str = EXTRA_BODY,
    max_concurrent: int = typer.Option(32, "--max-concurrent", min=1, help="Requests answered at once."),
    max_queue: int = typer.Option(64, "--max-queue", min=0, help="Requests waiting beyond that; more get 429."),
    deadline: float = typer.Option(600.0, "--deadline", help="Seconds a request may take (then 504)."),
    drain: float = typer.Option(30.0, "--drain", help="On SIGTERM/SIGINT, seconds in-flight requests may finish."),
    decision_log: Path = typer.Option(
        Path("autotts-decisions.jsonl"), "--decision-log", help="JSONL file: one line per action."
    ),
    drift_store: str = typer.Option(
        None, "--drift-store", help="Replay store for the drift monitor's reference (e.g. one collected here)."
    ),
    drift_seeds: int = typer.Option(5, "--drift-seeds", min=1, help="Replay seeds for the drift reference."),
    drift_window: int = typer.Option(100, "--drift-window", min=1, help="Recent requests the drift monitor keeps."),
    drift_tolerance: float = typer.Option(
        0.1, "--drift-tolerance", help="Flag drift when more than this share of recent requests leave the replay range."
    ),
    sandbox_processes: int = typer.Option(4, "--sandbox-processes", min=1, help="Sandboxed controller processes kept."),
) -> None:
    """Serve a policy as an OpenAI-compatible chat endpoint in front of a model server.

    Each request's last user message is the question; the policy opens, advances and prunes branches
    on the backend (Δ-token intervals with answer-forcing probes, as `autotts collect` samples them)
    and the reply is its answer, with `usage` and an `autotts` field summarising the decisions.
    Monitoring: GET /metrics (Prometheus), GET /healthz, and the --decision-log JSONL.

    Only a registered version with a standing approval runs, unless --allow-unapproved (audited).

    Examples:

      autotts serve evo@production --backend http://127.0.0.1:8080/v1 --port 8000

      autotts serve sc --allow-unapproved --beta 0.5 --backend http://127.0.0.1:8080/v1 \\
          --interval 256 --max-tokens 4096 --drift-store my-model/aime25

      python -c "from openai import OpenAI; c = OpenAI(base_url='http://127.0.0.1:8000/v1', api_key='-'); \\
          print(c.chat.completions.create(model='x', messages=[{'role': 'user', 'content': '2+2?'}]))"
    """
    from ..live.monitor import DecisionLog, DriftMonitor, LiveMetrics, replay_reference
    from ..live.server import build_app, serve
    from ..live.service import LiveService

    config = make_config(
        backend,
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
    if deadline <= 0 or drain < 0 or not 0 <= drift_tolerance <= 1:
        fail("--deadline must be positive, --drain not negative, --drift-tolerance within [0, 1]")
    live_policy = load(policy, beta, allow_unapproved, registry, trusted, sandbox_processes)
    metrics = LiveMetrics()
    reference = None
    if drift_store:
        _say(f"serve: replaying {live_policy.source.label} on {drift_store} for the drift reference ...")
        try:
            reference = replay_reference(live_policy.source, drift_store, seeds=drift_seeds, trusted=trusted)
        except Exception as exc:  # noqa: BLE001 - a store that does not load, a policy that fails there
            fail(f"--drift-store {drift_store}: {exc}")
    info = {**live_policy.source.describe(), "sandboxed": live_policy.sandboxed}
    log = DecisionLog(decision_log, info)
    if not live_policy.source.approved:
        log.write("-", "unapproved", {"status": live_policy.source.status, "note": "--allow-unapproved"})
    service = LiveService(
        live_policy,
        config,
        metrics=metrics,
        log=log,
        drift=DriftMonitor(reference, window=drift_window, tolerance=drift_tolerance, metrics=metrics),
        max_concurrent=max_concurrent,
        max_queue=max_queue,
        deadline=deadline,
    )
    app = build_app(service, default_seed=episode_seed)
    if host not in ("127.0.0.1", "localhost", "::1"):
        _say(f"serve: note: listening on {host}, beyond this machine's loopback")

    def ready() -> None:
        _say(
            f"serve: {info['policy']} (β={info['beta']:g}, {'sandboxed' if info['sandboxed'] else 'in-process'}) "
            f"on http://{host}:{port}/v1 -> backend {config.base_url} (model {config.model}); "
            f"decisions -> {decision_log}"
        )

    try:
        serve(app, service, host=host, port=port, drain=drain, on_ready=ready)
    finally:
        log.close()


def _say(line: str) -> None:
    # plain lines on stderr, also off a terminal
    print(line, file=sys.stderr, flush=True)
