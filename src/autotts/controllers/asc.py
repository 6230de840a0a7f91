"""Adaptive consistency (Aggarwal et al. 2023): read one branch at a time until the Beta-posterior
confidence that the leader is the majority exceeds a threshold."""

from __future__ import annotations

import numpy as np

from ..env.batch import EpisodeBatch
from ..env.core import Episode
from .base import Controller, budget_k
from .votes import confidence, confidence_rows, majority, vote_stats


class AdaptiveConsistency(Controller):
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

    def run_batch(self, batch: EpisodeBatch) -> None:
        threshold = self.params["threshold"]
        for reads in range(1, self.params["max_samples"] + 1):
            batch.read_full(np.where(batch.active, 1, 0))
            if reads >= 2:
                leader, top1, top2 = batch.vote_stats()
                batch.stop(batch.active & (confidence_rows(top1, top2) > threshold), leader)
                if not batch.active.any():
                    return
                if 2 * np.count_nonzero(batch.active) < batch.rows:  # most rows stopped: drop them
                    batch.compact()
        batch.stop(batch.active, batch.vote_stats()[0])
