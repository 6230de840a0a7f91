"""Early-stopping self-consistency (Li et al. 2024): read windows of branches whole and stop at the
first window whose answers all agree."""

from __future__ import annotations

from typing import Any

from ..env.core import Episode
from .base import budget_k
from .space import LockstepController, constant_genome
from .votes import majority


class EarlyStoppingConsistency(LockstepController):
    """ESC. β = 1 is the published configuration (at most 64 reads, window 8);
    max_samples = round(64^β), window = min(8, max_samples)."""

    @classmethod
    def schedule(cls, beta: float) -> dict:
        k = budget_k(beta)
        return {"max_samples": k, "window": min(8, k)}

    def run(self, episode: Episode) -> str | None:
        window = self.params["window"]
        answers: list[str] = []
        for w in range(self.params["max_samples"] // window):
            read = episode.read_full(window)
            answers.extend(read)
            if len(set(read)) == 1:
                episode.note(stop="unanimous window", windows=w + 1)
                return read[0]
        episode.note(stop="budget", windows=len(answers) // window)
        return majority(answers)

    def as_genome(self) -> dict[str, Any]:
        p = self.params
        return constant_genome("esc", {"max_samples": p["max_samples"], "batch": p["window"]})
