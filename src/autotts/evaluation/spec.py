"""Picklable recipes for what to evaluate: a controller reference with overrides, at one β, on one store."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..controllers.base import Controller
from ..controllers.loading import resolve_controller


@dataclass(frozen=True)
class ControllerSpec:
    """A controller by registry name or file reference (``path.py[:Class]``) plus parameter
    overrides; cheap to send to worker processes, which rebuild the controller from it."""

    ref: str
    overrides: tuple[tuple[str, Any], ...] = ()
    label: str = ""

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        if not self.overrides:
            return self.ref
        return self.ref + "[" + ",".join(f"{k}={v}" for k, v in self.overrides) + "]"

    def controller_class(self) -> type[Controller]:
        return resolve_controller(self.ref)

    def build(self, beta: float) -> Controller:
        return self.controller_class()(beta, **dict(self.overrides))


@dataclass(frozen=True)
class Cell:
    """One (controller, β, store) evaluation over ``seeds`` seeds."""

    controller: ControllerSpec
    beta: float
    store: str
    seeds: int = 100


def grid(
    controllers: Iterable[ControllerSpec],
    betas: Iterable[float],
    stores: Iterable[str],
    seeds: int = 100,
) -> list[Cell]:
    """Every (controller, β, store) combination, in that nesting order."""
    betas, stores = list(betas), list(stores)
    return [Cell(c, b, s, seeds) for c in controllers for b in betas for s in stores]
