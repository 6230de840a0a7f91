"""An honest candidate with the optional lockstep form: read branches whole in windows and stop at the
first unanimous window, else vote when the budget is spent (ESC-like). ``run_batch`` decides exactly
as ``run``."""

import numpy as np

from autotts.controllers import Controller, majority
from autotts.env import EpisodeBatch


class WindowVote(Controller):
    @classmethod
    def schedule(cls, beta: float) -> dict:
        window = 2 if beta < 0.5 else 4
        return {"window": window, "windows": max(1, round(1 + 7 * beta))}

    def run(self, episode):
        window = self.params["window"]
        votes = []
        for _ in range(self.params["windows"]):
            read = episode.read_full(window)
            votes.extend(read)
            if len(set(read)) == 1:
                return read[0]
        return majority(votes)

    def run_batch(self, batch: EpisodeBatch) -> None:
        window = self.params["window"]
        for k in range(self.params["windows"]):
            batch.read_full(np.where(batch.active, window, 0))
            read = batch.latest[:, k * window : (k + 1) * window]  # every active row has read k+1 windows
            unanimous = batch.active & (read == read[:, :1]).all(axis=1)
            batch.stop(unanimous, read[:, 0])
        batch.stop(batch.active, batch.vote_stats()[0])
