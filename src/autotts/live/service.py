"""Answering questions live: one policy, one backend, many concurrent episodes.

:class:`LiveService` is what ``autotts serve`` (over HTTP) and ``autotts run`` (over a questions file)
share. Each question is one :class:`~.episode.LiveEpisode` played by the policy in a worker thread
while its branches are generated on the asyncio loop. The service adds what production needs:

* **admission / backpressure** — at most ``max_concurrent`` episodes run at once and ``max_queue``
  wait; beyond that, or while the backend already has more than ``4 × backend_concurrency``
  requests waiting for a slot, a request is refused at once (:class:`Overloaded`, HTTP 429 with
  ``Retry-After``) instead of piling up;
* **deadline** — an episode still running after ``deadline`` seconds is abandoned: its requests in
  flight are cancelled and it fails with HTTP 504;
* **cancellation** — an abandoned request (client gone, shutdown) cancels its generations;
* **monitoring** — every action goes to the decision log, every episode to the metrics and the
  drift monitor.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from ..env.trace import trace_records
from .config import LiveConfig
from .episode import Backend, LiveAborted, LiveEpisode
from .monitor import DecisionLog, DriftMonitor, LiveMetrics, episode_profile
from .policy import InProcessPolicy, PolicyError, PolicySource, SandboxedPolicy


class Overloaded(RuntimeError):
    """The service refuses a request now (too many in flight or queued, or the backend saturated)."""

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class LiveResult:
    """One question answered live. ``tokens``/``latency_tokens`` follow the replay episode's rules;
    ``usage`` holds the server's own totals (probes and prompts included); ``trace`` the actions."""

    request_id: str
    answer: str | None
    status: int  # 200, or the HTTP status of the failure
    error: str | None
    seed: int
    question_index: int
    tokens: int
    latency_tokens: int
    wall_seconds: float
    waves: int
    backend_seconds: float
    usage: dict[str, int]
    profile: dict[str, Any]
    failed_branches: int
    trace: list[dict[str, Any]] = field(default_factory=list)
    drift: dict[str, Any] | None = None

    @property
    def overhead_per_wave(self) -> float:
        """Seconds of autotts time per wave: wall time not spent waiting on the backend's critical path."""
        return max(0.0, self.wall_seconds - self.backend_seconds) / max(1, self.waves)

    def summary(self, policy: dict[str, Any]) -> dict[str, Any]:
        """The decision summary returned beside the answer (the ``autotts`` field of a completion)."""
        return {
            **policy,
            "request_id": self.request_id,
            "seed": self.seed,
            "question_index": self.question_index,
            "answer": self.answer,
            "branches_opened": self.profile.get("branches_opened", 0),
            "branches_pruned": self.profile.get("branches_pruned", 0),
            "intervals": self.profile.get("intervals", 0),
            "waves": self.waves,
            "stop_round": self.profile.get("stop_round", 0),
            "stop_reason": self.profile.get("stop_reason"),
            "tokens": self.tokens,
            "latency_tokens": self.latency_tokens,
            "wall_seconds": round(self.wall_seconds, 6),
            "backend_seconds": round(self.backend_seconds, 6),
            "overhead_seconds_per_wave": round(self.overhead_per_wave, 6),
            "usage": self.usage,
            "failed_branches": self.failed_branches,
            "error": self.error,
            "drift": self.drift,
            "trace": self.trace,
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class LiveService:
    """A policy in front of a backend. Use as an async context manager on the loop that serves."""

    def __init__(
        self,
        policy: InProcessPolicy | SandboxedPolicy,
        config: LiveConfig,
        *,
        metrics: LiveMetrics | None = None,
        log: DecisionLog | None = None,
        drift: DriftMonitor | None = None,
        max_concurrent: int = 32,
        max_queue: int = 64,
        deadline: float = 600.0,
        backend: Backend | None = None,
    ) -> None:
        self.policy = policy
        self.source: PolicySource = policy.source
        self.config = config
        self.metrics = metrics or LiveMetrics()
        self.log = log or DecisionLog(None, self.source.describe())
        self.drift = drift or DriftMonitor(None, metrics=self.metrics)
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.deadline = deadline
        self.backend = backend or Backend(config)
        self.backend.on_request = self._backend_request
        # read at scrape time: a cancelled request leaves without a callback
        self.metrics.backend_in_flight.set_function(lambda: self.backend.in_flight)
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="policy")
        self._slots: asyncio.Semaphore | None = None
        self._queued = 0
        self._episodes: dict[str, LiveEpisode] = {}
        self.draining = False
        self.failed_at_shutdown = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> LiveService:
        self.loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self.max_concurrent)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def policy_info(self) -> dict[str, Any]:
        return {**self.source.describe(), "sandboxed": self.policy.sandboxed}

    def _backend_request(self, kind: str, seconds: float, reply: Any, error: str | None) -> None:
        self.metrics.backend_request(kind, seconds, error is not None)

    # ------------------------------------------------------------------ answering

    async def answer(
        self,
        question: str,
        *,
        request_id: str | None = None,
        seed: int = 0,
        question_index: int = 0,
        gold: str | None = None,
        deadline: float | None = None,
    ) -> LiveResult:
        """Play one episode of ``question``; never raises for a failed episode (the result carries
        the status and error) except :class:`Overloaded` when it is refused before it starts."""
        if self._slots is None:
            raise RuntimeError("use LiveService as `async with`")
        request_id = request_id or uuid.uuid4().hex[:16]
        if self.draining:
            raise Overloaded("the server is shutting down", retry_after=5.0)
        cfg = self.config
        if self.backend.waiting > 4 * cfg.backend_concurrency:
            self.metrics.requests.labels("rejected").inc()
            raise Overloaded(f"the backend is saturated ({self.backend.waiting} requests waiting for a slot)")
        if self._slots.locked() and self._queued >= self.max_queue:
            self.metrics.requests.labels("rejected").inc()
            raise Overloaded(f"{self.max_concurrent} requests in flight and {self._queued} queued")
        self._queued += 1
        self.metrics.queued.set(self._queued)
        try:
            await self._slots.acquire()
        finally:
            self._queued -= 1
            self.metrics.queued.set(self._queued)
        try:
            return await self._answer(question, request_id, seed, question_index, gold, deadline)
        finally:
            self._slots.release()

    async def _answer(
        self, question: str, request_id: str, seed: int, q: int, gold: str | None, deadline: float | None
    ) -> LiveResult:
        log = self.log

        def on_action(event: dict[str, Any]) -> None:
            log.write(request_id, "action", event)

        episode = LiveEpisode(
            self.backend,
            self.loop,
            question,
            seed=seed,
            question_index=q,
            max_branches=self.policy.ceiling,
            gold=gold,
            on_action=on_action,
        )
        self._episodes[request_id] = episode
        self.metrics.in_flight.inc()
        log.write(request_id, "start", {"seed": seed, "question_index": q, "question_chars": len(question)})
        start = time.perf_counter()
        answer, status, error = None, 200, None
        future = self.loop.run_in_executor(self.executor, self.policy.play, episode)
        limit = self.deadline if deadline is None else min(deadline, self.deadline)
        try:
            answer = await asyncio.wait_for(asyncio.shield(future), timeout=limit)
        except TimeoutError:
            status, error = 504, f"the policy did not answer within the deadline ({limit:g} s)"
            self._abandon(episode, "deadline", error, 504)
            await self._settle(future)
        except asyncio.CancelledError:  # the client went away, or the server is shutting down
            self._abandon(episode, "cancelled", "the request was cancelled", 499)
            await self._settle(future)
            self._finish(request_id, episode, None, 499, "cancelled", start)
            raise
        except LiveAborted as exc:
            status, error = exc.status, exc.message
        except PolicyError as exc:
            status, error = 500, str(exc)
        except Exception as exc:  # the controller's own exception: a failed request, not a crashed server
            status, error = 500, f"the policy raised {type(exc).__name__}: {exc}"[:700]
        if status == 200 and answer is None and episode.failed_branches and episode.failed_branches == episode.opened:
            status, error = 502, "every branch failed on the backend: " + "; ".join(episode.usage.failures[:3])
        return self._finish(request_id, episode, answer, status, error, start)

    def _abandon(self, episode: LiveEpisode, reason: str, message: str, status: int) -> None:
        episode.abort(reason, message, status)
        if getattr(episode, "on_abort", None) is not None:
            episode.on_abort()
        self.metrics.cancelled.labels(reason).inc()

    async def _settle(self, future: asyncio.Future) -> None:
        """Let the worker thread notice the abort (its next action raises); a controller stuck in
        its own code is left behind rather than holding the request."""
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(future), timeout=5.0)

    def _finish(
        self, request_id: str, episode: LiveEpisode, answer: str | None, status: int, error: str | None, start: float
    ) -> LiveResult:
        wall = time.perf_counter() - start
        self._episodes.pop(request_id, None)
        self.metrics.in_flight.dec()
        profile = episode_profile(episode.trace)
        usage = {
            "requests": episode.usage.requests,
            "generated_tokens": episode.usage.generated,
            "probe_tokens": episode.usage.probe_tokens,
            "prompt_tokens": episode.usage.prompt_tokens,
        }
        outcome = "ok" if status == 200 else {504: "deadline", 499: "cancelled", 502: "backend"}.get(status, "error")
        self.metrics.requests.labels(outcome).inc()
        self.metrics.request_seconds.observe(wall)
        self.metrics.request_tokens.observe(episode.tokens)
        tokens = {
            "charged": episode.tokens,
            "generated": episode.usage.generated,
            "probe": episode.usage.probe_tokens,
            "prompt": episode.usage.prompt_tokens,
        }
        self.metrics.episode(profile, tokens, episode.wave_seconds)
        waves = len(episode.wave_seconds)
        backend_seconds = sum(episode.backend_seconds)
        if waves:
            self.metrics.overhead.observe(max(0.0, wall - backend_seconds) / waves)
        drift = self.drift.observe(profile) if status == 200 else None
        result = LiveResult(
            request_id=request_id,
            answer=answer,
            status=status,
            error=error,
            seed=episode.seed,
            question_index=episode.question_index,
            tokens=episode.tokens,
            latency_tokens=episode.latency_tokens,
            wall_seconds=wall,
            waves=waves,
            backend_seconds=backend_seconds,
            usage=usage,
            profile=profile,
            failed_branches=episode.failed_branches,
            trace=trace_records(episode.trace),
            drift=drift,
        )
        self.log.write(
            request_id,
            "end",
            {
                "status": status,
                "error": error,
                "answer": answer,
                "tokens": episode.tokens,
                "latency_tokens": episode.latency_tokens,
                "wall_s": round(wall, 6),
                "stop_reason": profile["stop_reason"],
                "branches_opened": profile["branches_opened"],
                "stop_round": profile["stop_round"],
                "usage": usage,
            },
        )
        return result

    # ------------------------------------------------------------------ shutdown

    def abort_all(self, message: str = "the server is shutting down") -> int:
        """Fail every episode still running (503); returns how many there were."""
        episodes = list(self._episodes.values())
        for episode in episodes:
            self._abandon(episode, "shutdown", message, 503)
        self.failed_at_shutdown += len(episodes)
        return len(episodes)

    async def close(self) -> None:
        self.draining = True
        self.abort_all()
        self.executor.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            await self.backend.close()
        self.policy.close()
        self.log.close()


__all__ = ["LiveResult", "LiveService", "Overloaded", "PolicyError"]
