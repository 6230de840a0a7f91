"""Adaptive consistency (Aggarwal et al. 2023): read one branch at a time until the Beta-posterior
confidence that the leader is the majority exceeds a threshold."""

from __future__ import annotations

from typing import Any

from ..env.core import Episode
from .base import budget_k
from .space import LockstepController, constant_genome
from .votes import confidence, majority, vote_stats


class AdaptiveConsistency(LockstepController):
    """ASC. β = 1 is the published configuration (at most 64 reads, threshold 0.95);
    max_samples = round(64^β)."""

    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"max_samples": budget_k(beta), "threshold": 0.95}

    def run(self, episode: Episode) -> str | None:
        threshold = self.params["threshold"]
        answers: list[str] = []
        for _ in range(self.params["max_samples"]):
            answers.extend(episode.read_full(1))
            if len(answers) >= 2:
                leader, top1, top2 = vote_stats(answers)
                if confidence(top1, top2) > threshold:
                    episode.note(stop="confident", reads=len(answers))
                    return leader
        episode.note(stop="budget", reads=len(answers))
        return majority(answers)

    def as_genome(self) -> dict[str, Any]:
        p = self.params
        return constant_genome("asc", {"max_samples": p["max_samples"], "threshold": p["threshold"]})
