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

The package is four modules, one job each: :mod:`.genome` (the schema: knobs, choices, schedules,
checks), :mod:`.catalogue` (the published controllers as genomes), :mod:`.scalar` (the
:class:`SpaceController`, playing a genome in one episode: the readable form) and :mod:`.lockstep`
(the same decisions on a whole batch, the one source of evaluation speed, which the built-ins reach
through :class:`LockstepController`). Schedules are described in :mod:`.genome`.
"""

from .catalogue import BASELINE_GENOMES, baseline_genome, constant_genome
from .genome import (
    CHOICES,
    FULL_GATES,
    KNOBS,
    MODE_KNOBS,
    MODES,
    PROBE_GATES,
    GenomeError,
    Knob,
    check_genome,
    knob_value,
    resolve,
    schedule_value,
)
from .lockstep import LockstepController, play
from .scalar import SpaceController

__all__ = [
    "BASELINE_GENOMES",
    "CHOICES",
    "FULL_GATES",
    "KNOBS",
    "MODES",
    "MODE_KNOBS",
    "PROBE_GATES",
    "GenomeError",
    "Knob",
    "LockstepController",
    "SpaceController",
    "baseline_genome",
    "check_genome",
    "constant_genome",
    "knob_value",
    "play",
    "resolve",
    "schedule_value",
]
