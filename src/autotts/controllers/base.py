"""The controller base class and the registry of named controllers.

A controller is decision logic only: the episode charges and records every action. It has one public
knob, β ∈ [0, 1]; :meth:`Controller.schedule` derives every hyperparameter from β (larger β, more
budget). Baselines also accept their published parameters as keyword overrides for experiments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from ..env.batch import EpisodeBatch
from ..env.core import DEFAULT_MAX_BRANCHES, Episode
from ..registry import Registry, RegistryError


class Controller:
    """Base class. Subclasses set ``name``, implement ``schedule(beta)`` and ``run(episode)``.

    ``run`` plays one episode through ``episode.spawn / advance / read_full / prune`` and returns
    the chosen answer (or None). ``self.params`` holds ``schedule(beta)`` with any overrides.
    """

    name: ClassVar[str] = ""
    #: ceiling on opened branches for this controller's episodes (the pool when larger)
    max_branches: ClassVar[int] = DEFAULT_MAX_BRANCHES

    def __init__(self, beta: float = 1.0, **overrides: Any):
        self.beta = float(beta)
        params = dict(self.schedule(min(max(self.beta, 0.0), 1.0)))
        unknown = sorted(set(overrides) - set(params))
        if unknown:
            known = ", ".join(sorted(params)) or "none"
            raise ValueError(f"{type(self).__name__}: unknown parameter(s) {', '.join(unknown)}; known: {known}")
        for key, value in overrides.items():
            params[key] = type(params[key])(value) if params[key] is not None else value
        self.params: dict[str, Any] = params

    @classmethod
    def schedule(cls, beta: float) -> dict[str, Any]:
        """Every hyperparameter as a pure function of β ∈ [0, 1]."""
        return {}

    def run(self, episode: Episode) -> str | None:
        raise NotImplementedError

    def run_batch(self, batch: EpisodeBatch) -> None:
        """Optional, for speed: play every row of ``batch`` (one per question and seed) in lockstep
        and :meth:`~autotts.env.batch.EpisodeBatch.stop` each row with its answer id. It must decide
        exactly as :meth:`run` does, row for row; evaluation uses it when present and traces are not
        wanted (traces come from :meth:`run`)."""
        raise NotImplementedError

    @classmethod
    def has_batch(cls) -> bool:
        """Whether the class implements :meth:`run_batch`."""
        return cls.run_batch is not Controller.run_batch

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params.items())
        return f"{self.name or type(self).__name__}(β={self.beta:g}; {shown})"


def budget_k(beta: float, ceiling: int = 64, floor: int = 1) -> int:
    """The budget-ceiling schedule used by the baselines: round(ceiling ** β), at least ``floor``."""
    return max(floor, round(ceiling ** min(max(beta, 0.0), 1.0)))


# ---------------------------------------------------------------- registry

#: the built-in controllers, imported on first use; user packages add more through the
#: ``autotts.controllers`` entry-point group, and in-process code through :func:`register`
BUILTIN_CONTROLLERS = {
    "sc": "autotts.controllers.sc:SelfConsistency",
    "asc": "autotts.controllers.asc:AdaptiveConsistency",
    "esc": "autotts.controllers.esc:EarlyStoppingConsistency",
    "parallel-probe": "autotts.controllers.parallel_probe:ParallelProbe",
    "sac": "autotts.controllers.sac:AnswerConsistency",
    "short-m": "autotts.controllers.short_m:ShortMOfK",
    "short-3": "autotts.controllers.short_m:ShortThreeOfK",
    "cmc": "autotts.controllers.cmc:ConfidenceMomentum",
    "space": "autotts.controllers.space:SpaceController",
    "evo": "autotts.controllers.evo:EvolvedController",
}


def _name_class(name: str, cls: type[Controller]) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Controller)):
        raise RegistryError(f"controller {name!r} is {cls!r}, not a Controller subclass")
    if not cls.__dict__.get("name"):  # a subclass does not inherit its parent's registry name
        cls.name = name


CONTROLLERS: Registry[type[Controller]] = Registry(
    "controller", "autotts.controllers", BUILTIN_CONTROLLERS, on_load=_name_class
)


def register(name: str) -> Callable[[type[Controller]], type[Controller]]:
    """Class decorator: make a controller available by ``name`` (``--controller NAME``) in this process.
    To add controllers from a package of your own, declare an ``autotts.controllers`` entry point."""
    return CONTROLLERS.decorator(name)


def registered() -> list[str]:
    """The name of every known controller (built in, registered, or from an entry point), sorted."""
    return CONTROLLERS.names()


def get_controller_class(name: str) -> type[Controller]:
    """The controller class registered under ``name`` (:class:`~autotts.registry.RegistryError` if unknown)."""
    return CONTROLLERS.get(name)
