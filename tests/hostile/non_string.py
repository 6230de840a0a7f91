# ruff: noqa
"""Returns a number instead of an answer string. EXPECT: error"""

from autotts.controllers import Controller


class Numeric(Controller):
    def run(self, episode):
        episode.read_full(1)
        return 42
