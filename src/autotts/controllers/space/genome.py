"""The genome schema of the structured space: its knobs, its discrete choices, β-schedules, checks.

A genome is a JSON-serialisable dict of discrete choices (which mechanisms are on) and of
β-schedules (every numeric knob as a function of β), so every point of the space is a single-knob
controller family. What each choice and knob does is stated in :mod:`autotts.controllers.space`.

A schedule is a number (a constant), ``{"start": s, "span": d}`` (s + d·β), ``{"start": s,
"span": d, "curve": p}`` (s + d·β^p) or ``{"start": s, "ratio": r}`` (s·r^β); the knob's range
clips it and integer knobs are rounded.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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
    "split_threshold": Knob(False, 0.0, 1.0, "widen ('split') while the latest answers' confidence is below this"),
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
    # aggregation
    "length_horizon": Knob(True, 1, 400, "('short') a finished answer weighs this minus its intervals, at least 1"),
}

MODES = ("full", "probe")
CHOICES: dict[str, tuple] = {
    "signal": ("finished", "latest"),
    "timing": ("before", "after"),
    "order": ("most_advanced", "opening"),
    "widen": ("stall", "uncertain", "always", "never", "split"),
    "final": ("leader", "depth", "short"),
    "drop": (True, False),
    "refill": (False, True),
}
PROBE_GATES = ("ema", "stable", "unanimous")
FULL_GATES = ("confidence", "unanimous")

#: the knobs each mode reads (a genome may carry others; they are ignored)
#: knobs added after genomes were first written: a genome without them gets these (inert) values
LATER_KNOBS: dict[str, Any] = {"split_threshold": 0.0, "length_horizon": 1}

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
    if not isinstance(knobs, dict):
        raise GenomeError(f"genome 'knobs' must be a dict of schedules, not {type(knobs).__name__}")
    if mode == "probe":
        for name, value in LATER_KNOBS.items():
            knobs.setdefault(name, value)
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

