"""The controller API: everything a controller — built in, written by a user, or proposed by a model —
is written against.

``__all__`` is the candidate API: exactly the names a proposed controller may import from autotts.
The static screen (:mod:`autotts.discovery.screen`) and the proposer workspace's API notes read this
list, so there is one place that says what untrusted code can reach. The built-in controllers live in
their own modules (``sc``, ``asc``, ``esc``, ``parallel_probe``, ``sac``, ``short_m``, ``cmc``,
``space``, ``evo``) and are found by name through :data:`autotts.controllers.base.CONTROLLERS`; files
are loaded by :mod:`autotts.controllers.loading`.
"""

from ..env import Episode, EpisodeBatch, EpisodeError
from .base import Controller, budget_k
from .space import SpaceController
from .votes import confidence, confidence_rows, count, majority, vote_stats

__all__ = [
    "Controller",
    "Episode",
    "EpisodeBatch",
    "EpisodeError",
    "SpaceController",
    "budget_k",
    "confidence",
    "confidence_rows",
    "count",
    "majority",
    "vote_stats",
]
