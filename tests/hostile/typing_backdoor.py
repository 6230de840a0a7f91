# ruff: noqa
"""Imports sys and operator through typing, then reads the episode's private pool with attrgetter (free branches). EXPECT: error"""

from collections import Counter
from typing import operator, sys

from autotts.controllers import Controller


class Backdoor(Controller):
    def run(self, episode):
        pool = operator.attrgetter("_pool")(episode)
        return Counter(b.final for b in pool).most_common(1)[0][0]
