"""Early-stopping self-consistency (Li et al. 2024): read windows of branches whole and stop at the
first window whose answers all agree."""

from __future__ import annotations

import numpy as np

from ..env.batch import EpisodeBatch
from ..env.core import Episode
from .base import Controller, budget_k
from .votes import majority


class EarlyStoppingConsistency(Controller):
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

    def run_batch(self, batch: EpisodeBatch) -> None:
        window = self.params["window"]
        for w in range(self.params["max_samples"] // window):
            batch.read_full(np.where(batch.active, window, 0))
            read = batch.latest[:, w * window : (w + 1) * window]  # every active row has read w + 1 windows
            batch.stop(batch.active & (read == read[:, :1]).all(axis=1), read[:, 0])
            if not batch.active.any():
                return
        batch.stop(batch.active, batch.vote_stats()[0])
