"""A structured family of controllers: one parametric controller whose *genome* fixes its behaviour.

The genome is a JSON-serialisable dict of discrete choices (which mechanisms are on) and of
β-schedules (every numeric knob as a function of β), so every point of the space is a single-knob
controller family. It covers the width–depth map of test-time scaling:

* **Reading** (``mode``): ``"full"`` reads branches whole in batches (SC, ASC, ESC live here);
  ``"probe"`` opens branches and grows them interval by interval (Parallel-Probe, CMC).
* **Width**: ``n_init`` branches first; widen by ``widen_burst`` up to ``max_branches`` when the
  confidence stalls (``"stall"``), whenever it is below the threshold (``"uncertain"``), every
  round (``"always"``) or ``"never"``; ``refill`` opens new branches when none is left to grow.
* **Depth**: every live branch (at most ``active_cap`` of them, most advanced first) gets
  ``burst_aligned`` intervals if its latest answer agrees with the leader, else ``burst_other``.
* **Dropping**: with ``drop``, a live branch disagreeing with the leader for ``patience``
  consecutive rounds (from round ``warm_up`` on) is pruned, keeping ``keep_live`` live branches.
* **Signal** (``signal``): the leader and its Beta-posterior confidence come from the final answers
  of finished branches (``"finished"``) or the latest answers of all unpruned ones (``"latest"``).
  ``timing`` says whether the leader is read before the round's growth (``"before"``, as CMC) or
  after it (``"after"``, as Parallel-Probe).
* **Stopping** (``gates``, any that fires): ``"ema"`` — an EMA of the confidence (rate ``alpha``)
  is ≥ ``threshold`` with at least ``min_finished`` finished answers and a momentum over ``T_ema``
  rounds ≥ −``slack``; ``"stable"`` — the leader unchanged for ``stable_T`` rounds; ``"unanimous"``
  — the last ``window`` finished answers agree; in full mode ``"confidence"`` — confidence >
  ``threshold`` — and ``"unanimous"`` — one whole batch agrees. The budget always stops.
* **Aggregation** (``final``): the leader of the signal, or a depth-weighted vote of the latest
  answers of unpruned branches (``"depth"``).

A schedule is a number (a constant), ``{"start": s, "span": d}`` (s + d·β), ``{"start": s,
"span": d, "curve": p}`` (s + d·β^p) or ``{"start": s, "ratio": r}`` (s·r^β); the knob's range
clips it and integer knobs are rounded. :data:`BASELINE_GENOMES` holds SC@64, ASC, ESC,
Parallel-Probe and CMC as points of the space.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..env.batch import EpisodeBatch, first_in_rows
from ..env.core import Episode
from .base import Controller
from .votes import confidence, confidence_rows, majority, vote_stats


@dataclass(frozen=True)
class Knob:
    """A numeric hyperparameter: integer or real, its allowed range, and what it means."""

    integer: bool
    low: float
    high: float
    meaning: str


KNOBS: dict[str, Knob] = {
    # full-read mode
    "max_samples": Knob(True, 1, 64, "branches read whole at most"),
    "batch": Knob(True, 1, 64, "branches read whole per wave"),
    # probe mode: width
    "n_init": Knob(True, 1, 64, "branches opened first"),
    "max_branches": Knob(True, 1, 64, "branches opened at most"),
    "widen_burst": Knob(True, 1, 64, "branches opened per widening"),
    "trend_threshold": Knob(False, -1.0, 1.0, "widen only while the confidence momentum is at most this"),
    # depth
    "burst_aligned": Knob(True, 1, 40, "intervals per round for a branch agreeing with the leader"),
    "burst_other": Knob(True, 1, 40, "intervals per round for any other live branch"),
    "active_cap": Knob(True, 1, 64, "live branches grown per round (the first in growth order)"),
    # dropping
    "warm_up": Knob(True, 0, 100, "rounds before deviation counting and the confidence gate"),
    "patience": Knob(True, 1, 100, "consecutive disagreeing rounds before a branch is dropped"),
    "keep_live": Knob(True, 0, 64, "live branches never dropped below"),
    # stopping
    "alpha": Knob(False, 0.01, 1.0, "EMA rate of the confidence"),
    "T_ema": Knob(True, 1, 50, "rounds over which the EMA momentum is measured"),
    "threshold": Knob(False, 0.0, 1.0, "confidence needed to stop"),
    "slack": Knob(False, 0.0, 1.0, "largest confidence drop (momentum) still allowed at a stop"),
    "min_finished": Knob(True, 0, 64, "finished answers needed to stop on confidence"),
    "stable_T": Knob(True, 1, 200, "rounds the leader must stay unchanged to stop"),
    "window": Knob(True, 1, 64, "answers that must agree to stop on unanimity"),
    "max_rounds": Knob(True, 1, 1000, "rounds at most"),
}

MODES = ("full", "probe")
CHOICES: dict[str, tuple] = {
    "signal": ("finished", "latest"),
    "timing": ("before", "after"),
    "order": ("most_advanced", "opening"),
    "widen": ("stall", "uncertain", "always", "never"),
    "final": ("leader", "depth"),
    "drop": (True, False),
    "refill": (False, True),
}
PROBE_GATES = ("ema", "stable", "unanimous")
FULL_GATES = ("confidence", "unanimous")

#: the knobs each mode reads (a genome may carry others; they are ignored)
MODE_KNOBS = {
    "full": ("max_samples", "batch", "threshold"),
    "probe": tuple(k for k in KNOBS if k not in ("max_samples", "batch")),
}


class GenomeError(ValueError):
    """A genome that does not describe a point of the space (the message says what is wrong)."""


def schedule_value(spec: Any, beta: float) -> float:
    """Evaluate one schedule at β (unclipped)."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return spec
    if not isinstance(spec, Mapping) or "start" not in spec:
        raise GenomeError(f"schedule {spec!r}: expected a number or a dict with 'start'")
    start = spec["start"]
    if "ratio" in spec:
        return start * spec["ratio"] ** beta
    curve = spec.get("curve", 1)
    return start + spec.get("span", 0) * (beta if curve == 1 else beta**curve)


def knob_value(name: str, spec: Any, beta: float) -> int | float:
    """A knob's value at β: the schedule, rounded for integer knobs, clipped to the knob's range."""
    knob = KNOBS[name]
    value = schedule_value(spec, beta)
    if knob.integer:
        return int(min(max(round(value), knob.low), knob.high))
    return float(min(max(value, knob.low), knob.high))


def check_genome(genome: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a genome and return a normalised deep copy (missing choices get their defaults)."""
    if not isinstance(genome, Mapping):
        raise GenomeError(f"a genome is a dict, not {type(genome).__name__}")
    g = copy.deepcopy(dict(genome))
    mode = g.get("mode")
    if mode not in MODES:
        raise GenomeError(f"genome 'mode' must be one of {MODES}, not {mode!r}")
    for name, options in CHOICES.items():
        g.setdefault(name, options[0])
        if g[name] not in options:
            raise GenomeError(f"genome {name!r} must be one of {options}, not {g[name]!r}")
    allowed_gates = FULL_GATES if mode == "full" else PROBE_GATES
    gates = g.setdefault("gates", [])
    if not isinstance(gates, list) or any(x not in allowed_gates for x in gates):
        raise GenomeError(f"genome 'gates' must be a list drawn from {allowed_gates}, not {gates!r}")
    knobs = g.setdefault("knobs", {})
    missing = [k for k in MODE_KNOBS[mode] if k not in knobs]
    if missing:
        raise GenomeError(f"genome lacks schedules for {', '.join(missing)}")
    unknown = [k for k in knobs if k not in KNOBS]
    if unknown:
        raise GenomeError(f"genome has unknown knobs {', '.join(unknown)}")
    for name in MODE_KNOBS[mode]:
        knob_value(name, knobs[name], 0.5)  # raises on a malformed schedule
    return g


def resolve(genome: Mapping[str, Any], beta: float) -> dict[str, Any]:
    """Every knob the genome's mode uses, at β."""
    return {name: knob_value(name, genome["knobs"][name], beta) for name in MODE_KNOBS[genome["mode"]]}


def _lin(start: float, span: float) -> dict[str, float]:
    return {"start": start, "span": span}


_SC_BUDGET = {"start": 1, "ratio": 64}  # round(64^β), the baselines' budget ceiling

_NEUTRAL_PROBE_KNOBS: dict[str, Any] = {
    "n_init": _SC_BUDGET,
    "max_branches": _SC_BUDGET,
    "widen_burst": 1,
    "trend_threshold": 0.0,
    "burst_aligned": 1,
    "burst_other": 1,
    "active_cap": 64,
    "warm_up": 0,
    "patience": 100,
    "keep_live": 0,
    "alpha": 1.0,
    "T_ema": 2,
    "threshold": 1.0,
    "slack": 1.0,
    "min_finished": 0,
    "stable_T": 200,
    "window": 64,
    "max_rounds": 500,
}

BASELINE_GENOMES: dict[str, dict[str, Any]] = {
    "sc": {"mode": "full", "gates": [], "knobs": {"max_samples": _SC_BUDGET, "batch": _SC_BUDGET, "threshold": 1.0}},
    "asc": {
        "mode": "full",
        "gates": ["confidence"],
        "knobs": {"max_samples": _SC_BUDGET, "batch": 1, "threshold": 0.95},
    },
    "esc": {"mode": "full", "gates": ["unanimous"], "knobs": {"max_samples": _SC_BUDGET, "batch": 8, "threshold": 1.0}},
    "parallel-probe": {
        "mode": "probe",
        "signal": "latest",
        "timing": "after",
        "order": "opening",
        "widen": "never",
        "final": "leader",
        "drop": True,
        "refill": False,
        "gates": ["stable"],
        "knobs": {**_NEUTRAL_PROBE_KNOBS, "warm_up": 15, "patience": 7, "stable_T": 40, "max_rounds": 100},
    },
    "cmc": {
        "mode": "probe",
        "signal": "finished",
        "timing": "before",
        "order": "most_advanced",
        "widen": "stall",
        "final": "leader",
        "drop": True,
        "refill": False,
        "gates": ["ema"],
        "knobs": {
            **_NEUTRAL_PROBE_KNOBS,
            "n_init": _lin(2, 6),
            "max_branches": _lin(4, 60),
            "warm_up": _lin(2, 8),
            "patience": _lin(3, 9),
            "keep_live": 2,
            "T_ema": _lin(2, 6),
            "alpha": _lin(0.70, -0.40),
            "threshold": _lin(0.85, 0.12),
            "slack": _lin(0.04, -0.03),
            "burst_aligned": _lin(1, 2),
            "widen_burst": _lin(1, 3),
            "trend_threshold": _lin(0.04, -0.03),
            "min_finished": _lin(2, 3),
        },
    },
}


def baseline_genome(name: str) -> dict[str, Any]:
    """A copy of a published controller's genome (``sc``, ``asc``, ``esc``, ``parallel-probe``, ``cmc``)."""
    return check_genome(BASELINE_GENOMES[name])


class SpaceController(Controller):
    """The parametric controller of the structured space. Its one extra parameter ``genome`` (a JSON
    string, so it travels as an evaluation override) fixes the mechanisms; β sets every knob.

    ``autotts eval --controller space -p genome='{...}'`` evaluates any point of the space."""

    def __init__(self, beta: float = 1.0, genome: str | Mapping[str, Any] = "", **overrides: Any):
        text = genome if isinstance(genome, str) else json.dumps(genome)
        super().__init__(beta, genome=text, **overrides)
        if not text:
            raise GenomeError("SpaceController needs a genome (see autotts.controllers.space)")
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GenomeError(f"genome is not valid JSON: {exc}") from None
        self.genome = check_genome(parsed)
        self.knobs = resolve(self.genome, min(max(self.beta, 0.0), 1.0))

    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"genome": ""}

    def run(self, episode: Episode) -> str | None:
        if self.genome["mode"] == "full":
            return self._run_full(episode)
        return self._run_probe(episode)

    # ---------------------------------------------------------------- full reads

    def _run_full(self, episode: Episode) -> str | None:
        k = self.knobs
        total, threshold = k["max_samples"], k["threshold"]
        batch = min(k["batch"], total)
        confidence_gate = "confidence" in self.genome["gates"]
        unanimous_gate = "unanimous" in self.genome["gates"]
        answers: list[str] = []
        for _ in range(total // batch):
            read = episode.read_full(batch)
            answers.extend(read)
            if confidence_gate and len(answers) >= 2:
                leader, top1, top2 = vote_stats(answers)
                if confidence(top1, top2) > threshold:
                    return leader
            if unanimous_gate and len(set(read)) == 1:
                return read[0]
        return majority(answers)

    # ---------------------------------------------------------------- probing

    def _run_probe(self, episode: Episode) -> str | None:
        g, k = self.genome, self.knobs
        from_latest = g["signal"] == "latest"
        check_after = g["timing"] == "after"
        most_advanced = g["order"] == "most_advanced"
        widen, drop, refill = g["widen"], g["drop"], g["refill"]
        ema_gate, stable_gate, unanimous_gate = (name in g["gates"] for name in PROBE_GATES)
        alpha, threshold, slack = k["alpha"], k["threshold"], k["slack"]
        warm_up, patience, keep_live = k["warm_up"], k["patience"], k["keep_live"]
        burst_aligned, burst_other, active_cap = k["burst_aligned"], k["burst_other"], k["active_cap"]
        max_branches = min(k["max_branches"], episode.max_branches)
        widen_from = max(1, warm_up // 2)

        pool: list[str] = []  # final answers of finished branches, in finishing order
        kept: list[int] = []  # unpruned branches, in opening order
        deviation: dict[int, int] = {}
        emas: deque[float] = deque(maxlen=k["T_ema"])
        ema = 0.0
        previous: str | None = None
        stable = 0

        def open_branches(n: int) -> None:
            for i in episode.spawn(n):
                deviation[i] = 0
                kept.append(i)
                if episode.is_finished(i):
                    pool.append(episode.answer(i))

        def signal() -> tuple[str | None, float]:
            votes = [episode.answer(i) for i in kept] if from_latest else pool
            leader, top1, top2 = vote_stats(votes)
            return leader, confidence(top1, top2)

        def drop_deviants(live: list[int], leader: str) -> list[int]:
            for i in live:
                deviation[i] = deviation[i] + 1 if episode.answer(i) != leader else 0
            deviants = sorted((i for i in live if deviation[i] >= patience), key=lambda i: -deviation[i])
            doomed = deviants[: max(0, len(live) - keep_live)]
            if not doomed:
                return live
            episode.prune(doomed)
            gone = set(doomed)
            kept[:] = [i for i in kept if i not in gone]
            return [i for i in live if i not in gone]

        def grow(live: list[int], leader: str | None) -> None:
            if most_advanced:
                live = sorted(live, key=lambda i: -episode.intervals(i))
            live = live[:active_cap]
            steps = [burst_aligned if leader is not None and episode.answer(i) == leader else burst_other for i in live]
            episode.advance(live, steps)
            pool.extend(episode.answer(i) for i in live if episode.is_finished(i))

        open_branches(min(k["n_init"], max_branches))
        for rnd in range(k["max_rounds"]):
            past_warm_up = rnd >= warm_up
            if check_after:  # grow, then read the leader and drop deviants
                live = episode.live()
                if live:
                    grow(live, previous if past_warm_up else None)
                leader, conf = signal()
                if drop and past_warm_up and leader is not None:
                    live = episode.live()
                    if len(drop_deviants(live, leader)) < len(live):
                        leader, conf = signal()
                ema = (1 - alpha) * ema + alpha * conf
                emas.append(ema)
            else:  # read the leader, drop deviants, grow, then read it again
                leader, conf = signal()
                ema = (1 - alpha) * ema + alpha * conf
                emas.append(ema)
                live = episode.live()
                if drop and past_warm_up and leader is not None:
                    live = drop_deviants(live, leader)
                if live:
                    grow(live, leader if past_warm_up else None)
                leader, conf = signal()
                ema = (1 - alpha) * ema + alpha * conf
                emas[-1] = ema
            momentum = emas[-1] - emas[0] if len(emas) >= 2 else 0.0
            stable = stable + 1 if leader == previous else 0
            previous = leader

            if ema_gate and past_warm_up and len(pool) >= k["min_finished"] and ema >= threshold and momentum >= -slack:
                return leader
            if stable_gate and stable >= k["stable_T"]:
                return leader
            if unanimous_gate and len(pool) >= k["window"] and len(set(pool[-k["window"] :])) == 1:
                return pool[-1]
            room = max_branches - episode.opened
            if not episode.live():
                if not (refill and room > 0):
                    break
                open_branches(min(k["widen_burst"], room))
                continue
            if room > 0 and rnd >= widen_from and widen != "never":
                wanted = (
                    widen == "always"
                    or (widen == "uncertain" and ema < threshold)
                    or (widen == "stall" and ema < threshold and momentum <= k["trend_threshold"])
                )
                if wanted:
                    open_branches(min(k["widen_burst"], room))
        return self._final(episode, pool, kept, from_latest)

    def _final(self, episode: Episode, pool: list[str], kept: list[int], from_latest: bool) -> str | None:
        if self.genome["final"] == "depth":
            weights: dict[str, int] = {}
            for i in kept:
                answer = episode.answer(i)
                weights[answer] = weights.get(answer, 0) + episode.intervals(i)
            return max(weights, key=weights.get) if weights else None
        if pool and not from_latest:
            return vote_stats(pool)[0]
        return majority(episode.answer(i) for i in kept)

    # ---------------------------------------------------------------- the same, in lockstep

    def run_batch(self, batch: EpisodeBatch) -> None:
        if self.genome["mode"] == "full":
            self._run_full_batch(batch)
        else:
            _ProbeRows(self.genome, self.knobs, batch).run()

    def _run_full_batch(self, batch: EpisodeBatch) -> None:
        k = self.knobs
        total, threshold = k["max_samples"], k["threshold"]
        size = min(k["batch"], total)
        for w in range(total // size):
            batch.read_full(np.where(batch.active, size, 0))
            if "confidence" in self.genome["gates"] and (w + 1) * size >= 2:
                leader, top1, top2 = batch.vote_stats()
                batch.stop(batch.active & (confidence_rows(top1, top2) > threshold), leader)
            if "unanimous" in self.genome["gates"]:
                read = batch.latest[:, w * size : (w + 1) * size]  # every active row has read w + 1 batches
                batch.stop(batch.active & (read == read[:, :1]).all(axis=1), read[:, 0])
            if not batch.active.any():
                return
        batch.stop(batch.active, batch.vote_stats()[0])


class _ProbeRows:
    """:meth:`SpaceController._run_probe` on every row of a batch at once (the same steps, on masks)."""

    def __init__(self, genome: dict[str, Any], knobs: dict[str, Any], batch: EpisodeBatch):
        self.g, self.k, self.batch = genome, knobs, batch
        self.from_latest = genome["signal"] == "latest"
        self.deviation = np.zeros(batch.status.shape, dtype=np.int64)
        self.ema = np.zeros(batch.rows)
        self.emas: list[np.ndarray] = []  # every round's EMA; the deque of _run_probe is the last T_ema
        self.previous = np.full(batch.rows, -1)  # -1 stands for None
        self.stable = np.zeros(batch.rows, dtype=np.int64)

    def signal(self) -> tuple[np.ndarray, np.ndarray]:
        batch = self.batch
        leader, top1, top2 = batch.tally(batch.unpruned) if self.from_latest else batch.vote_stats()
        return leader, confidence_rows(top1, top2)

    def drop_deviants(self, live: np.ndarray, leader: np.ndarray) -> np.ndarray:
        """Count disagreements of ``live`` branches (rows with a leader) and prune the persistent
        ones, keeping ``keep_live``; returns the mask of branches pruned."""
        counted = live & (leader >= 0)[:, None]
        disagree = self.batch.latest != leader[:, None]
        self.deviation = np.where(counted, np.where(disagree, self.deviation + 1, 0), self.deviation)
        deviant = counted & (self.deviation >= self.k["patience"])
        doomed = np.zeros_like(deviant)
        if deviant.any():
            doomed = first_in_rows(deviant, -self.deviation, counted.sum(axis=1) - self.k["keep_live"])
            self.batch.prune(doomed)
        return doomed

    def grow(self, live: np.ndarray, leader: np.ndarray) -> None:
        batch, k = self.batch, self.k
        order = -batch.intervals if self.g["order"] == "most_advanced" else None
        if k["active_cap"] < batch.width:  # only the first active_cap live branches in growth order
            live = first_in_rows(live, 0 if order is None else order, k["active_cap"])
        aligned = live & (batch.latest == leader[:, None])
        batch.advance(np.where(aligned, k["burst_aligned"], np.where(live, k["burst_other"], 0)), order=order)

    def update_ema(self, conf: np.ndarray) -> None:
        alpha = self.k["alpha"]
        self.ema = (1 - alpha) * self.ema + alpha * conf

    def run(self) -> None:
        g, k, batch = self.g, self.k, self.batch
        check_after = g["timing"] == "after"
        ema_gate, stable_gate, unanimous_gate = (name in g["gates"] for name in PROBE_GATES)
        max_branches = min(k["max_branches"], batch.width)
        widen_from = max(1, k["warm_up"] // 2)
        batch.spawn(min(k["n_init"], max_branches))
        for rnd in range(k["max_rounds"]):
            active = batch.active
            past_warm_up = rnd >= k["warm_up"]
            no_leader = np.full(batch.rows, -1)
            if check_after:  # grow, then read the leader and drop deviants
                live = batch.live & active[:, None]
                self.grow(live, self.previous if past_warm_up else no_leader)
                leader, conf = self.signal()
                # rows that dropped nothing would read the same signal again
                if g["drop"] and past_warm_up and self.drop_deviants(batch.live & active[:, None], leader).any():
                    leader, conf = self.signal()
                self.update_ema(conf)
                self.emas.append(self.ema)
            else:  # read the leader, drop deviants, grow, then read it again
                leader, conf = self.signal()
                self.update_ema(conf)
                self.emas.append(self.ema)
                live = batch.live & active[:, None]
                if g["drop"] and past_warm_up:
                    live &= ~self.drop_deviants(live, leader)
                self.grow(live, leader if past_warm_up else no_leader)
                leader, conf = self.signal()
                self.update_ema(conf)
                self.emas[-1] = self.ema
            window = min(len(self.emas), k["T_ema"])
            momentum = self.ema - self.emas[-window] if window >= 2 else np.zeros(batch.rows)
            self.stable = np.where(leader == self.previous, self.stable + 1, 0)
            self.previous = leader
            self.stop_on_gates(leader, momentum, past_warm_up, ema_gate, stable_gate, unanimous_gate)
            room = max_branches - batch.opened
            stuck = batch.active & ~batch.live.any(axis=1)
            refill = stuck & (room > 0) if g["refill"] else np.zeros_like(stuck)
            self.stop_final(stuck & ~refill)
            if not batch.active.any():
                return
            opening = np.where(refill, np.minimum(k["widen_burst"], room), 0)
            if rnd >= widen_from and g["widen"] != "never":
                growing = batch.active & ~stuck & (room > 0)
                if g["widen"] == "uncertain":
                    growing &= self.ema < k["threshold"]
                elif g["widen"] == "stall":
                    growing &= (self.ema < k["threshold"]) & (momentum <= k["trend_threshold"])
                opening = np.where(growing, np.minimum(k["widen_burst"], room), opening)
            batch.spawn(opening)
            if 2 * np.count_nonzero(batch.active) < batch.rows:  # most rows stopped: drop them
                self.compact()
        self.stop_final(batch.active)

    def stop_on_gates(self, leader, momentum, past_warm_up, ema_gate, stable_gate, unanimous_gate) -> None:
        batch, k = self.batch, self.k
        if ema_gate and past_warm_up:
            confident = (batch.finished_count >= k["min_finished"]) & (self.ema >= k["threshold"])
            batch.stop(batch.active & confident & (momentum >= -k["slack"]), leader)
        if stable_gate:
            batch.stop(batch.active & (self.stable >= k["stable_T"]), leader)
        if unanimous_gate:
            count, window = batch.finished_count, k["window"]
            rows = np.arange(batch.rows)[:, None]
            last = batch.finish_log[rows, np.clip(count[:, None] - window + np.arange(window), 0, batch.width - 1)]
            agree = (count >= window) & (last == last[:, -1:]).all(axis=1)
            batch.stop(batch.active & agree, last[:, -1])

    def stop_final(self, rows: np.ndarray) -> None:
        """End ``rows`` with the genome's aggregation (``_final`` of the scalar form)."""
        batch = self.batch
        if not rows.any():
            return
        if self.g["final"] == "depth":
            batch.stop(rows, batch.tally(batch.unpruned, weights=batch.intervals)[0])
            return
        fallback = batch.majority(batch.unpruned)
        if self.from_latest:
            batch.stop(rows, fallback)
            return
        leader = batch.vote_stats()[0]
        batch.stop(rows, np.where(leader >= 0, leader, fallback))

    def compact(self) -> None:
        keep = self.batch.compact()
        self.deviation, self.ema = self.deviation[keep], self.ema[keep]
        self.emas = [e[keep] for e in self.emas[-self.k["T_ema"] :]]
        self.previous, self.stable = self.previous[keep], self.stable[keep]
