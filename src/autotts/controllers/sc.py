"""Self-consistency (SC@k): read k branches whole and take the majority."""

from __future__ import annotations

from typing import Any

from ..env.core import Episode
from .base import budget_k
from .space import LockstepController, constant_genome
from .votes import majority


class SelfConsistency(LockstepController):
    """SC@k. β = 1 is SC@64; k = round(64^β)."""

    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"k": budget_k(beta)}

    def run(self, episode: Episode) -> str | None:
        answers = episode.read_full(self.params["k"])
        return majority(answers)

    def as_genome(self) -> dict[str, Any]:
        k = self.params["k"]
        return constant_genome("sc", {"max_samples": k, "batch": k})  # one wave of k whole reads
