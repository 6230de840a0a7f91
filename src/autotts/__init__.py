"""autotts: discover test-time-scaling policies for reasoning models.

The public API is the workflow, layer by layer (data -> env -> controllers -> evaluation ->
discovery -> report)::

    from autotts import load_store, Episode, Controller, register, evaluate, grid, ControllerSpec

    store = load_store("Qwen3-4B/aime24")                       # a replay store by name
    cells = grid([ControllerSpec("cmc"), ControllerSpec("my_policy.py")], [0.5, 1.0], [store.name])
    results = evaluate(cells)                                   # files run behind the OS sandbox
    check = validate("my_policy.py")                            # what a proposal must pass
    summary = discover("runs/evo")                              # the discovery loop (evolve proposer)
    html = report("runs/evo")                                   # report.html of a run

Everything else lives in the subpackages (``autotts.data``, ``autotts.env``, ``autotts.controllers``
— whose ``__all__`` is the API a controller is written against —, ``autotts.evaluation``,
``autotts.sandbox``, ``autotts.discovery``, ``autotts.report``, ``autotts.governance``).
``discover``, ``validate`` and ``report`` are imported on first use (they pull in matplotlib).
"""

from typing import TYPE_CHECKING, Any

from .controllers import Controller
from .controllers.base import register, registered
from .data import Store, load_store
from .env import Episode, EpisodeBatch, EpisodeError
from .evaluation import Cell, CellResult, ControllerSpec, grid
from .sandbox.seam import evaluate_cells as evaluate

if TYPE_CHECKING:
    from .discovery.loop import discover
    from .discovery.validation import validate_candidate as validate
    from .report.discovery_report import write_discovery_report as report

__version__ = "0.1.0"

_LAZY = {
    "discover": ("autotts.discovery.loop", "discover"),
    "validate": ("autotts.discovery.validation", "validate_candidate"),
    "report": ("autotts.report.discovery_report", "write_discovery_report"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'autotts' has no attribute {name!r}")


__all__ = [
    "Cell",
    "CellResult",
    "Controller",
    "ControllerSpec",
    "Episode",
    "EpisodeBatch",
    "EpisodeError",
    "Store",
    "__version__",
    "discover",
    "evaluate",
    "grid",
    "load_store",
    "register",
    "registered",
    "report",
    "validate",
]
