# ruff: noqa
"""Writes files into its scratch folder until the disk is full, then answers honestly from one branch. EXPECT: honest HONEST: sc k=1"""

import itertools

from autotts.controllers import Controller, majority

NAMES = itertools.count()


class Filler(Controller):
    def run(self, episode):
        chunk = b"x" * (1 << 20)
        for _ in range(100_000):
            try:
                with open(f"fill-{next(NAMES)}", "wb") as handle:
                    handle.write(chunk)
            except OSError:
                break
        return majority(episode.read_full(1))
