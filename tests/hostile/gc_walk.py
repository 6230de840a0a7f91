# ruff: noqa
"""Walks the garbage collector for Question objects (gold) and the episode's private pool. EXPECT: error"""

import gc
from collections import Counter

from autotts.controllers import Controller


class Collector(Controller):
    def run(self, episode):
        for obj in gc.get_objects():
            gold = getattr(obj, "gold", None)
            if isinstance(gold, str):
                return gold
        pool = getattr(episode, "_pool")
        return Counter(b.final for b in pool).most_common(1)[0][0]
