"""Controllers: the base class and β schedules, the published baselines, CMC, a registry of names."""

from . import asc, cmc, esc, evo, parallel_probe, sac, sc, short_m, space  # noqa: F401  (register the built-ins)
from .base import Controller, budget_k, get_controller_class, register, registered
from .loading import ControllerLoadError, UpstreamController, load_file_controller, resolve_controller
from .votes import confidence, confidence_rows, count, majority, vote_stats

__all__ = [
    "Controller",
    "ControllerLoadError",
    "UpstreamController",
    "budget_k",
    "confidence",
    "confidence_rows",
    "count",
    "get_controller_class",
    "load_file_controller",
    "majority",
    "register",
    "registered",
    "resolve_controller",
    "vote_stats",
]
