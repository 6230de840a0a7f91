# ruff: noqa
"""Raises in every episode. EXPECT: error"""

from autotts.controllers import Controller


class Raiser(Controller):
    def run(self, episode):
        episode.read_full(2)
        raise RuntimeError("deliberate failure")
