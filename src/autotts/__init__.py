"""autotts: discover test-time-scaling policies for reasoning models.

The public API, layer by layer (data -> env -> controllers -> evaluation -> discovery -> report)::

    from autotts import load_store, Episode, Controller, register, evaluate, grid, ControllerSpec
"""

from .controllers import (
    Controller,
    ControllerLoadError,
    budget_k,
    confidence,
    get_controller_class,
    majority,
    register,
    registered,
    resolve_controller,
    vote_stats,
)
from .data import (
    ALL_STORES,
    Store,
    StoreError,
    data_dir,
    fetch_stores,
    load_store,
    load_store_file,
    split_stores,
)
from .env import Episode, EpisodeBatch, EpisodeError, UpstreamQuestion, branch_order, trace_records
from .evaluation import Cell, CellResult, ControllerSpec, evaluate, grid

__version__ = "0.1.0"

__all__ = [
    "ALL_STORES",
    "Cell",
    "CellResult",
    "Controller",
    "ControllerLoadError",
    "ControllerSpec",
    "Episode",
    "EpisodeBatch",
    "EpisodeError",
    "Store",
    "StoreError",
    "UpstreamQuestion",
    "__version__",
    "branch_order",
    "budget_k",
    "confidence",
    "data_dir",
    "evaluate",
    "fetch_stores",
    "get_controller_class",
    "grid",
    "load_store",
    "load_store_file",
    "majority",
    "register",
    "registered",
    "resolve_controller",
    "split_stores",
    "trace_records",
    "vote_stats",
]
