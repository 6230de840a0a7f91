# ruff: noqa
"""Shares what episodes of the same question revealed through module state, and answers with an answer another episode paid for. EXPECT: violation"""

from collections import defaultdict

from autotts.controllers import Controller, majority

SEEN = defaultdict(list)


class Hoarder(Controller):
    def run(self, episode):
        (first,) = episode.spawn(1)
        key = episode.answer(first)
        own = episode.read_full(2) + [key]
        SEEN[key].extend(own)
        episode.spawn(1)  # let the other episodes of the block add theirs
        others = [a for a in SEEN[key] if a not in own]
        return others[0] if others else majority(own)
