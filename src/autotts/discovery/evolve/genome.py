"""Variation operators on genomes of :mod:`autotts.controllers.space`: mutation, crossover, a canonical
key for de-duplication, and a complexity count for the fitness penalty.

Every operator takes an explicit ``random.Random`` so a search is a pure function of its seed.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Mapping
from typing import Any

from ...controllers.space import (
    BASELINE_GENOMES,
    CHOICES,
    FULL_GATES,
    KNOBS,
    MODE_KNOBS,
    PROBE_GATES,
    check_genome,
    schedule_value,
)

Genome = dict[str, Any]

#: chance that one discrete choice (or one gate) flips in a mutation
CHOICE_RATE = 0.08
#: expected number of knob schedules perturbed per mutation
KNOB_MUTATIONS = 2.0
#: relative step of integer knobs (in log space) and absolute step of real knobs (share of the range)
LOG_STEP = 0.35
REAL_STEP = 0.08
CURVES = (0.5, 1, 2)


def genome_key(genome: Mapping[str, Any]) -> str:
    """A canonical JSON text: equal genomes have equal keys."""
    return json.dumps(check_genome(genome), sort_keys=True, separators=(",", ":"))


def complexity(genome: Mapping[str, Any]) -> float:
    """How many mechanisms a genome switches on, plus a fraction for every β-dependent schedule."""
    g = check_genome(genome)
    if g["mode"] == "full":
        mechanisms = len(g["gates"])
    else:
        mechanisms = (
            len(g["gates"])
            + (g["drop"] is True)
            + (g["widen"] != "never")
            + (g["refill"] is True)
            + (g["final"] != "leader")
        )
    varying = sum(1 for name in MODE_KNOBS[g["mode"]] if not isinstance(g["knobs"][name], (int, float)))
    return mechanisms + 0.2 * varying


def _tidy(value: float) -> float | int:
    """Short numbers keep rendered controllers readable."""
    rounded = round(value, 4)
    return int(rounded) if rounded == int(rounded) and abs(rounded) < 1e6 else rounded


def _perturb(name: str, value: float, rng: random.Random) -> float:
    knob = KNOBS[name]
    if knob.integer:
        # log-space steps suit counts (2 → 3 matters as much as 40 → 60); ±1 keeps small counts moving
        stepped = max(value, 0.5) * math.exp(rng.gauss(0.0, LOG_STEP)) + rng.choice((-1, 0, 0, 1))
    else:
        stepped = value + rng.gauss(0.0, REAL_STEP * (knob.high - knob.low))
    return min(max(stepped, knob.low), knob.high)


def mutate_schedule(name: str, spec: Any, rng: random.Random) -> Any:
    """Perturb a schedule's values at β = 0 and β = 1 (each with probability 0.7), sometimes changing
    its shape (linear, curved, exponential, constant)."""
    at0, at1 = float(schedule_value(spec, 0.0)), float(schedule_value(spec, 1.0))
    if rng.random() < 0.7:
        at0 = _perturb(name, at0, rng)
    if rng.random() < 0.7:
        at1 = _perturb(name, at1, rng)
    shape = "exp" if isinstance(spec, Mapping) and "ratio" in spec else "lin"
    curve = spec.get("curve", 1) if isinstance(spec, Mapping) else 1
    if rng.random() < 0.15:
        shape = rng.choice(("lin", "lin", "exp", "const"))
        curve = rng.choice(CURVES)
    if shape == "const" or _tidy(at0) == _tidy(at1):
        return _tidy((at0 + at1) / 2 if shape == "const" else at0)
    if shape == "exp" and at0 > 0 and at1 > 0:
        return {"start": _tidy(at0), "ratio": _tidy(at1 / at0)}
    out: dict[str, float | int] = {"start": _tidy(at0), "span": _tidy(at1 - at0)}
    if curve != 1:
        out["curve"] = curve
    return out


def mutate(genome: Mapping[str, Any], rng: random.Random) -> Genome:
    """A mutated copy: choices and gates flip rarely, a couple of schedules move."""
    g = check_genome(genome)
    if g["mode"] == "probe":
        for name, options in CHOICES.items():
            if rng.random() < CHOICE_RATE:
                g[name] = rng.choice([o for o in options if o != g[name]])
    gates_available = FULL_GATES if g["mode"] == "full" else PROBE_GATES
    for gate in gates_available:
        if rng.random() < CHOICE_RATE:
            g["gates"] = [x for x in gates_available if (x in g["gates"]) != (x == gate)]
    names = MODE_KNOBS[g["mode"]]
    rate = KNOB_MUTATIONS / len(names)
    changed = False
    for name in names:
        if rng.random() < rate:
            g["knobs"][name] = mutate_schedule(name, g["knobs"][name], rng)
            changed = True
    if not changed:  # every mutation moves at least one schedule
        name = rng.choice(names)
        g["knobs"][name] = mutate_schedule(name, g["knobs"][name], rng)
    return check_genome(g)


def crossover(a: Mapping[str, Any], b: Mapping[str, Any], rng: random.Random) -> Genome:
    """Uniform crossover of two genomes of the same mode (else a copy of ``a``): each choice, the
    gate set and each schedule comes from either parent."""
    ga, gb = check_genome(a), check_genome(b)
    if ga["mode"] != gb["mode"]:
        return ga
    child = copy.deepcopy(ga)
    for name in CHOICES:
        if rng.random() < 0.5:
            child[name] = gb[name]
    if rng.random() < 0.5:
        child["gates"] = list(gb["gates"])
    for name in MODE_KNOBS[ga["mode"]]:
        if rng.random() < 0.5:
            child["knobs"][name] = copy.deepcopy(gb["knobs"][name])
    return check_genome(child)


def seed_genomes() -> list[Genome]:
    """The published controllers as starting points."""
    return [check_genome(g) for g in BASELINE_GENOMES.values()]
