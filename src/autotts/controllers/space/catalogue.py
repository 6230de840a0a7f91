"""The catalogue: the published controllers (SC@64, ASC, ESC, Parallel-Probe, CMC) as points of the
structured space, and the bridge a built-in uses to play its own parameters through the lockstep
interpreter (:func:`constant_genome`).

Each entry states the built-in's β-schedule as genome schedules; ``tests/test_space.py`` checks that
the space controller with these genomes decides exactly as the built-ins' ``run`` in every episode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .genome import KNOBS, GenomeError, check_genome


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



def constant_genome(name: str, knobs: Mapping[str, int | float]) -> dict[str, Any]:
    """The catalogue genome ``name`` with ``knobs`` as constants (the other knobs keep their
    schedules): how a built-in states its parameters, overrides included, as one point of the space.

    A value outside its knob's range would be clipped by the interpreter and so decide otherwise
    than the built-in's ``run``; it is refused instead, naming the knob."""
    for knob, value in knobs.items():
        spec = KNOBS[knob]
        if not spec.low <= value <= spec.high or (spec.integer and value != int(value)):
            kind = "an integer" if spec.integer else "a number"
            raise GenomeError(
                f"{name}: {knob}={value!r} is not {kind} in [{spec.low:g}, {spec.high:g}], the range the lockstep "
                "interpreter plays (run() alone can play it: evaluate with traces)"
            )
    genome = BASELINE_GENOMES[name]
    return check_genome({**genome, "knobs": {**genome["knobs"], **knobs}})
