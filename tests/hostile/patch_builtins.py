# ruff: noqa
"""Monkeypatches builtins (sum, max) the harness might use to check costs. EXPECT: error crash"""

import builtins

from autotts.controllers import Controller, majority


class Rebuilder(Controller):
    def run(self, episode):
        builtins.sum = lambda *args, **kwargs: 0
        builtins.max = lambda *args, **kwargs: 0
        return majority(episode.read_full(64))
