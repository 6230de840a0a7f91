"""Self-consistency (SC@k): read k branches whole and take the majority."""

from __future__ import annotations

import numpy as np

from ..env.batch import EpisodeBatch
from ..env.core import Episode
from .base import Controller, budget_k
from .votes import majority


class SelfConsistency(Controller):
    """SC@k. β = 1 is SC@64; k = round(64^β)."""

    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"k": budget_k(beta)}

    def run(self, episode: Episode) -> str | None:
        answers = episode.read_full(self.params["k"])
        return majority(answers)

    def run_batch(self, batch: EpisodeBatch) -> None:
        batch.read_full(self.params["k"])
        batch.stop(np.ones(batch.rows, dtype=bool), batch.vote_stats()[0])  # votes join in reading order
