"""The replay environment: episode semantics and accounting, lockstep batches of episodes, action trace,
upstream adapter."""

from .batch import EpisodeBatch
from .core import DEFAULT_MAX_BRANCHES, Episode, EpisodeError, branch_order
from .trace import trace_records
from .upstream import UpstreamQuestion, solve_upstream

__all__ = [
    "DEFAULT_MAX_BRANCHES",
    "Episode",
    "EpisodeBatch",
    "EpisodeError",
    "UpstreamQuestion",
    "branch_order",
    "solve_upstream",
    "trace_records",
]
