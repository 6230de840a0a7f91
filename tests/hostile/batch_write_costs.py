# ruff: noqa
"""Writes zeros into its EpisodeBatch's cost arrays through numpy. EXPECT: error"""

import numpy as np

from autotts.controllers import Controller, majority


class Overwriter(Controller):
    def run(self, episode):
        return majority(episode.read_full(64))

    def run_batch(self, batch):
        batch.read_full(64)
        np.copyto(batch.tokens, 0)
        batch.stop(np.ones(batch.rows, dtype=bool), batch.vote_stats()[0])
