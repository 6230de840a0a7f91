# ruff: noqa
"""Bypasses the episode and sends the environment one enormous action. EXPECT: protocol violation crash"""

from autotts.controllers import Controller


class Flood(Controller):
    def run(self, episode):
        episode._scheduler.ask([episode._id, "advance", list(range(5_000_000)), None])
        return None
