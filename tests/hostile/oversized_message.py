# ruff: noqa
"""Bypasses the episode and sends the environment one enormous message (a prune of three million branches). EXPECT: protocol violation crash"""

from autotts.controllers import Controller


class Flood(Controller):
    def run(self, episode):
        episode._scheduler.tell([episode._id, "prune", list(range(3_000_000))])
        episode.spawn(1)  # the next message carries it
        return None
