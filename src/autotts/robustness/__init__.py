"""Robustness under distribution shift: where a policy wins, where it breaks.

Store transforms (:mod:`autotts.data.transforms`) model shifts in the data — probe granularity,
pool resampling, extraction noise, reasoning length, task mix; :mod:`.conditions` names them,
:mod:`.run` evaluates every controller under each, :mod:`.verdict` judges each condition and
stratum against SC@64 with paired intervals, :mod:`.analysis` assembles ``robustness.json`` and
:mod:`.html` renders ``robustness.html``. This package sits above ``report`` in the one-way flow.
"""

from .analysis import DEFAULT_AGAINST, DEFAULT_BETAS, DEFAULT_SEEDS, SCHEMA, Robustness, analyse, resolve_entry
from .conditions import BASE, Condition, ConditionStores, default_conditions, select_conditions
from .run import REFERENCE_LABEL, Entry, evaluate_cells

__all__ = [
    "BASE",
    "DEFAULT_AGAINST",
    "DEFAULT_BETAS",
    "DEFAULT_SEEDS",
    "REFERENCE_LABEL",
    "SCHEMA",
    "Condition",
    "ConditionStores",
    "Entry",
    "Robustness",
    "analyse",
    "default_conditions",
    "evaluate_cells",
    "resolve_entry",
    "select_conditions",
]
