"""Watching a live policy: Prometheus metrics, the JSONL decision log, and decision drift.

* :class:`LiveMetrics` — counters, gauges and histograms in their own ``CollectorRegistry`` (so two
  servers in one process do not share numbers), served at ``/metrics``.
* :class:`DecisionLog` — one JSON line per action (and one at the start and end of each request):
  time, request id, policy, version, β, and what the environment executed.
* :class:`DriftMonitor` — the live distribution of *branches opened* and *stop round* (the number of
  action waves an episode took) against the policy's replay distribution (the same definitions as the
  policy card, :func:`autotts.report.card.episode_shape`, computed from the environment's traces of
  the same policy and β on a replay store). A request is *out of range* when a quantity falls outside
  the replay range [min, max]; a quantity is *flagged* when more than ``tolerance`` of the last
  ``window`` requests were out of range — the live workload no longer looks like the simulation.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..env.trace import trace_records

# the two behavioural quantities compared with replay
DRIFT_QUANTITIES = ("branches_opened", "stop_round")


def episode_profile(trace: list[tuple]) -> dict[str, Any]:
    """Branches opened, pruned, intervals advanced, stop round and stop reason of one episode's
    trace (the policy card's definitions; ``stop_round`` counts action waves, prunes excluded)."""
    from ..report.card import episode_shape

    records = trace_records(trace)
    shape = episode_shape(records)
    waves = [r for r in records if r["action"] in ("spawn", "advance", "read_full")]
    return {
        "branches_opened": shape["opened"],
        "branches_pruned": shape["pruned"],
        "intervals": sum(sum(r["intervals"]) for r in waves),
        "stop_round": len(waves),
        "stop_reason": shape["stop"],
    }


class LiveMetrics:
    """Every number ``/metrics`` shows. Names start with ``autotts_``."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = CollectorRegistry()
        self.requests = Counter("autotts_requests", "Requests by outcome", ["outcome"], registry=r)
        self.branches_opened = Counter("autotts_branches_opened", "Branches opened (spawn, read_full)", registry=r)
        self.intervals = Counter("autotts_intervals_advanced", "Intervals advanced (all waves)", registry=r)
        self.prunes = Counter("autotts_branches_pruned", "Branches pruned", registry=r)
        self.stop_reasons = Counter("autotts_stop_reasons", "Episodes by stop reason", ["reason"], registry=r)
        self.tokens = Counter(
            "autotts_tokens", "Tokens: charged (the policy's cost), generated, probe, prompt", ["kind"], registry=r
        )
        self.backend_requests = Counter("autotts_backend_requests", "Backend requests", ["kind"], registry=r)
        self.backend_errors = Counter("autotts_backend_errors", "Backend requests that failed for good", registry=r)
        self.cancelled = Counter(
            "autotts_generations_cancelled", "Episodes abandoned with generations in flight", ["reason"], registry=r
        )
        latency_buckets = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
        self.request_seconds = Histogram(
            "autotts_request_seconds", "Wall time per request", buckets=latency_buckets, registry=r
        )
        self.wave_seconds = Histogram("autotts_wave_seconds", "Wall time per wave", buckets=latency_buckets, registry=r)
        self.backend_seconds = Histogram(
            "autotts_backend_request_seconds", "Wall time per backend request", buckets=latency_buckets, registry=r
        )
        self.overhead = Histogram(
            "autotts_overhead_seconds_per_wave",
            "autotts time per wave: request wall time minus the backend's critical path, over waves",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
            registry=r,
        )
        self.request_tokens = Histogram(
            "autotts_request_tokens",
            "Charged tokens per request",
            buckets=(500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 500000, 2000000),
            registry=r,
        )
        self.in_flight = Gauge("autotts_requests_in_flight", "Requests being answered", registry=r)
        self.queued = Gauge("autotts_requests_queued", "Requests waiting for a slot", registry=r)
        self.backend_in_flight = Gauge("autotts_backend_in_flight", "Backend requests in flight", registry=r)
        self.drift = Gauge(
            "autotts_drift", "1 when a quantity drifted out of the replay range", ["quantity"], registry=r
        )
        self.drift_share = Gauge(
            "autotts_drift_outside_share", "Share of recent requests outside the replay range", ["quantity"], registry=r
        )

    def backend_request(self, kind: str, seconds: float, failed: bool) -> None:
        self.backend_requests.labels(kind).inc()
        self.backend_seconds.observe(seconds)
        if failed:
            self.backend_errors.inc()

    def episode(self, profile: dict[str, Any], tokens: dict[str, int], waves: Sequence[float]) -> None:
        self.branches_opened.inc(profile["branches_opened"])
        self.intervals.inc(profile["intervals"])
        self.prunes.inc(profile["branches_pruned"])
        self.stop_reasons.labels(str(profile["stop_reason"])).inc()
        for kind, value in tokens.items():
            self.tokens.labels(kind).inc(value)
        for seconds in waves:
            self.wave_seconds.observe(seconds)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class DecisionLog:
    """Append-only JSONL, one line per action; thread-safe; flushed per line (a crash loses nothing
    written). ``path=None`` logs nowhere."""

    def __init__(self, path: Path | str | None, policy: dict[str, Any]):
        self.path = Path(path) if path else None
        self.policy = policy
        self._lock = threading.Lock()
        self._handle = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")

    def write(self, request_id: str, event: str, fields: dict[str, Any]) -> None:
        if self._handle is None:
            return
        line = {
            "ts": round(time.time(), 6),
            "request_id": request_id,
            "event": event,
            "policy": self.policy.get("policy"),
            "version": self.policy.get("version"),
            "beta": self.policy.get("beta"),
            **fields,
        }
        text = json.dumps(line, ensure_ascii=False, default=str)
        with self._lock:
            self._handle.write(text + "\n")
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


@dataclass
class ReplayReference:
    """The policy's replay behaviour: per-episode values of each drift quantity."""

    store: str
    beta: float
    seeds: int
    values: dict[str, list[int]]

    def range(self, quantity: str) -> tuple[int, int]:
        values = self.values[quantity]
        return (min(values), max(values))

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "beta": self.beta,
            "seeds": self.seeds,
            "ranges": {q: list(self.range(q)) for q in DRIFT_QUANTITIES},
            "means": {q: sum(v) / len(v) for q, v in self.values.items()},
        }


def replay_reference(source: Any, store: str, *, seeds: int = 5, trusted: bool = False) -> ReplayReference:
    """Play the policy (a :class:`~.policy.PolicySource`) at its β on a replay store, with traces,
    and keep each episode's drift quantities. A controller file runs behind the sandbox unless
    ``trusted``, as everywhere else."""
    from .policy import play_in_replay

    result = play_in_replay(source, store, seeds, want_traces=True, trusted=trusted)
    values: dict[str, list[int]] = {q: [] for q in DRIFT_QUANTITIES}
    for trace in result.traces:
        from ..report.card import episode_shape

        records = trace["trace"]
        values["branches_opened"].append(episode_shape(records)["opened"])
        values["stop_round"].append(sum(1 for r in records if r["action"] in ("spawn", "advance", "read_full")))
    if not values["branches_opened"]:
        raise ValueError(f"replaying {source.label} on {store} gave no traces (did the controller fail?)")
    return ReplayReference(store, source.beta, seeds, values)


@dataclass
class DriftMonitor:
    """Live values of the drift quantities over a sliding window, against a replay reference."""

    reference: ReplayReference | None
    window: int = 100
    tolerance: float = 0.1
    metrics: LiveMetrics | None = None
    _recent: dict[str, deque] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._recent = {q: deque(maxlen=self.window) for q in DRIFT_QUANTITIES}

    def observe(self, profile: dict[str, Any]) -> dict[str, Any] | None:
        """Record one finished episode; returns whether each quantity was in the replay range."""
        if self.reference is None:
            return None
        out = {}
        with self._lock:
            for q in DRIFT_QUANTITIES:
                low, high = self.reference.range(q)
                inside = low <= profile[q] <= high
                self._recent[q].append(0 if inside else 1)
                out[q] = {"value": profile[q], "replay_range": [low, high], "in_range": inside}
                if self.metrics is not None:
                    share = sum(self._recent[q]) / len(self._recent[q])
                    self.metrics.drift_share.labels(q).set(share)
                    self.metrics.drift.labels(q).set(1 if share > self.tolerance else 0)
        return out

    def status(self) -> dict[str, Any]:
        if self.reference is None:
            return {"reference": None}
        with self._lock:
            quantities = {}
            for q in DRIFT_QUANTITIES:
                recent = self._recent[q]
                share = sum(recent) / len(recent) if recent else 0.0
                quantities[q] = {
                    "replay_range": list(self.reference.range(q)),
                    "outside_share": round(share, 4),
                    "window": len(recent),
                    "drifted": share > self.tolerance,
                }
        return {"reference": self.reference.to_json(), "tolerance": self.tolerance, "quantities": quantities}
