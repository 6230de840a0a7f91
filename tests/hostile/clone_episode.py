# ruff: noqa
"""Deep-copies the episode, reads 64 branches on the copy for free, answers with their majority. EXPECT: error"""

import copy

from autotts.controllers import Controller, majority


class Cloner(Controller):
    def run(self, episode):
        clone = copy.deepcopy(episode)
        return majority(clone.read_full(64))
