"""Evaluation: runs over seeds, β grids and stores; executors; statistics and frontier figures."""

from .executors import EXECUTORS, default_jobs, evaluate
from .metrics import area_under_curve, bootstrap_ci, paired_difference, tokens_at_accuracy
from .runner import Block, CellResult, EpisodeFailure, blocks_for, blocks_in, play_block
from .spec import Cell, ControllerSpec, grid

__all__ = [
    "EXECUTORS",
    "Block",
    "Cell",
    "CellResult",
    "ControllerSpec",
    "EpisodeFailure",
    "area_under_curve",
    "blocks_for",
    "blocks_in",
    "bootstrap_ci",
    "default_jobs",
    "evaluate",
    "grid",
    "paired_difference",
    "play_block",
    "tokens_at_accuracy",
]
