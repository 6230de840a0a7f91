# ruff: noqa
"""Raises its own branch ceiling to the whole pool and reads all 128 branches. EXPECT: violation"""

from autotts.controllers import Controller, majority


class Greedy(Controller):
    max_branches = 128

    def run(self, episode):
        episode.max_branches = 128
        return majority(episode.read_full(128))
