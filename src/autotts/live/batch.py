"""``autotts run``: a batch of questions answered live, summarised, and compared with replay.

Every question is one live episode (question ``q`` of the file uses the collect request seeds of
question ``q``, all under one episode seed), run ``concurrency`` at a time. Per question: the answer,
the tokens and latency (replay's accounting), wall time, the decision trace and, with gold, whether
it is correct. The summary gives accuracy, tokens, latency tokens and wall seconds with 95%
bootstrap intervals over questions.

**Sim-to-real.** Given a store collected from the same server (same questions, same settings), the
replay prediction is the same policy and β evaluated on that store over ``seeds`` episode seeds. Each
seed is one possible live run over those questions, so the prediction for a figure is the mean over
seeds with the range the per-seed means span (min..max under 40 seeds, else their central 95%). The
live figure comes with its 95% bootstrap interval over questions; the two *agree* when the live
interval meets the predicted range. When the store's questions are the file's questions, every
episode is also compared with its replay twin (same question, same episode seed): a deterministic
server gives identical answers and token counts, so any difference there points at the server
(sampling not reproducible) or at the settings, not at chance.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.collect.questions import SourceQuestion
from ..evaluation.metrics import bootstrap_ci
from .service import LiveResult, LiveService


@dataclass
class Interval:
    mean: float
    low: float
    high: float

    def to_json(self) -> dict[str, float]:
        return {"mean": _round(self.mean), "low": _round(self.low), "high": _round(self.high)}

    def overlaps(self, other: Interval) -> bool:
        return self.low <= other.high and other.low <= self.high


def _round(x: float) -> float | None:
    return None if x != x else round(float(x), 4)


def interval(values: Sequence[float]) -> Interval:
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    low, high = bootstrap_ci(arr)
    return Interval(float(arr.mean()), low, high)


def prediction(per_seed: np.ndarray) -> Interval:
    """Mean of per-seed figures, with the range a single run is expected in (see :func:`sim_to_real`)."""
    values = np.asarray(per_seed, dtype=float)
    if len(values) < 40:
        low, high = float(values.min()), float(values.max())
    else:
        low, high = (float(v) for v in np.percentile(values, [2.5, 97.5]))
    return Interval(float(values.mean()), low, high)


async def run_questions(
    service: LiveService,
    questions: Sequence[SourceQuestion],
    *,
    seed: int = 0,
    concurrency: int = 4,
    on_result: Callable[[int, LiveResult], None] | None = None,
) -> list[LiveResult]:
    """Answer every question (``concurrency`` at a time); results in question order."""
    slots = asyncio.Semaphore(concurrency)
    results: list[LiveResult | None] = [None] * len(questions)

    async def one(q: int, question: SourceQuestion) -> None:
        async with slots:
            result = await service.answer(
                question.text, request_id=f"q{q}", seed=seed, question_index=q, gold=question.gold
            )
        results[q] = result
        if on_result is not None:
            on_result(q, result)

    await asyncio.gather(*(one(q, question) for q, question in enumerate(questions)))
    return [r for r in results if r is not None]


def correctness(results: Sequence[LiveResult], questions: Sequence[SourceQuestion]) -> list[bool | None]:
    """Per question: the answer equals the gold answer (answers equivalent to gold are revealed as the
    gold string, as in collected stores); None without gold."""
    return [
        None if q.gold is None else (r.status == 200 and r.answer == q.gold)
        for r, q in zip(results, questions, strict=True)
    ]


def summarise(results: Sequence[LiveResult], questions: Sequence[SourceQuestion]) -> dict[str, Any]:
    correct = correctness(results, questions)
    graded = [100.0 * c for c in correct if c is not None]
    ok = [r for r in results if r.status == 200]
    return {
        "questions": len(results),
        "answered": len(ok),
        "failed": len(results) - len(ok),
        "graded": len(graded),
        "accuracy": interval(graded).to_json() if graded else None,
        "tokens": interval([r.tokens for r in results]).to_json(),
        "latency_tokens": interval([r.latency_tokens for r in results]).to_json(),
        "wall_seconds": interval([r.wall_seconds for r in results]).to_json(),
        "backend_usage": {
            key: int(sum(r.usage[key] for r in results))
            for key in ("requests", "generated_tokens", "probe_tokens", "prompt_tokens")
        },
        "branches_opened": interval([r.profile.get("branches_opened", 0) for r in results]).to_json(),
        "stop_round": interval([r.profile.get("stop_round", 0) for r in results]).to_json(),
        "overhead_seconds_per_wave": interval([r.overhead_per_wave for r in ok]).to_json() if ok else None,
    }


def sim_to_real(
    service: LiveService,
    store_ref: str,
    results: Sequence[LiveResult],
    questions: Sequence[SourceQuestion],
    *,
    seeds: int = 25,
    episode_seed: int = 0,
    trusted: bool = False,
) -> dict[str, Any]:
    """The replay prediction for the same policy and β on ``store_ref`` beside the live figures."""
    from ..data.lookup import load_store
    from .policy import play_in_replay

    source = service.source
    store = load_store(store_ref)
    count = max(seeds, episode_seed + 1)
    replay = play_in_replay(source, store_ref, count, trusted=trusted)
    # each replay seed is one possible live run over the store's questions: the spread of the per-seed
    # means is where a live run is expected to land (min..max under 40 seeds, else the central 95%)
    replay_figures = {
        "accuracy": prediction(100.0 * replay.correct.mean(axis=1)),
        "tokens": prediction(replay.tokens.mean(axis=1)),
        "latency_tokens": prediction(replay.latency.mean(axis=1)),
    }
    correct = correctness(results, questions)
    live_figures = {
        "tokens": interval([r.tokens for r in results]),
        "latency_tokens": interval([r.latency_tokens for r in results]),
    }
    if all(c is not None for c in correct):
        live_figures["accuracy"] = interval([100.0 * bool(c) for c in correct])
    figures = {}
    for name, live in live_figures.items():
        sim = replay_figures[name]
        figures[name] = {"replay": sim.to_json(), "live": live.to_json(), "agree": live.overlaps(sim)}
    same_questions = len(store.questions) == len(questions) and all(
        sq.text == q.text for sq, q in zip(store.questions, questions, strict=True)
    )
    episodes = None
    if same_questions:
        row = episode_seed
        matches = [
            r.status == 200
            and r.tokens == int(replay.tokens[row, q])
            and r.latency_tokens == int(replay.latency[row, q])
            and same_answer(r.answer, replay.answers[row][q])
            for q, r in enumerate(results)
        ]
        episodes = {
            "seed": episode_seed,
            "compared": len(matches),
            "identical": int(sum(matches)),
            "differ": [q for q, m in enumerate(matches) if not m][:50],
        }
    meta_problems = _settings_differ(service, store_ref)
    return {
        "store": store_ref,
        "replay_seeds": count,
        "beta": source.beta,
        "figures": figures,
        "agree": all(f["agree"] for f in figures.values()),
        "same_questions": same_questions,
        "episodes": episodes,
        "settings_differ": meta_problems,
    }


def same_answer(live: str | None, replayed: str | None) -> bool:
    """Equal, or the same math-verify class (a collected store spells a class by its representative in
    pool order, live by the first spelling revealed)."""
    if live == replayed or live is None or replayed is None:
        return live == replayed
    from ..data.collect.answers import Canonicaliser

    return Canonicaliser(replayed).canonical(live) == replayed


def _settings_differ(service: LiveService, store_ref: str) -> list[str]:
    """Settings the store's metadata records that differ from this run's (collected stores only)."""
    import gzip

    from ..data.lookup import store_path

    try:
        path = store_path(store_ref)
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        data = json.loads(raw)
    except Exception:  # noqa: BLE001 - a published store has no metadata: nothing to compare
        return []
    meta = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        return []
    cfg = service.config
    mine = {
        "model": cfg.model,
        "api": cfg.api,
        "prompt_template": cfg.template(),
        "system": cfg.system,
        "interval": cfg.interval,
        "branches": cfg.branches,
        "max_tokens": cfg.max_tokens,
        "temperature": cfg.temperature,
        "seed": cfg.seed,
    }
    theirs = {k: meta.get(k) for k in ("model", "api", "prompt_template", "system", "interval", "branches")}
    sampling = meta.get("sampling") or {}
    theirs.update({k: sampling.get(k) for k in ("max_tokens", "temperature", "seed")})
    return [f"{k}: store {theirs[k]!r}, live {mine[k]!r}" for k in mine if k in theirs and theirs[k] != mine[k]]


def write_outputs(
    out: Path,
    results: Sequence[LiveResult],
    questions: Sequence[SourceQuestion],
    summary: dict[str, Any],
) -> tuple[Path, Path]:
    """``results.jsonl`` (one line per question) and ``summary.json`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    correct = correctness(results, questions)
    lines = []
    for q, (result, question, ok) in enumerate(zip(results, questions, correct, strict=True)):
        lines.append(
            json.dumps(
                {
                    "index": q,
                    "question": question.text,
                    "gold": question.gold,
                    "answer": result.answer,
                    "correct": ok,
                    "status": result.status,
                    "error": result.error,
                    "tokens": result.tokens,
                    "latency_tokens": result.latency_tokens,
                    "wall_seconds": round(result.wall_seconds, 6),
                    "waves": result.waves,
                    "usage": result.usage,
                    "profile": result.profile,
                    "trace": result.trace,
                },
                ensure_ascii=False,
            )
        )
    results_path = out / "results.jsonl"
    results_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return results_path, summary_path


def now() -> float:
    return time.monotonic()
