# ruff: noqa
"""Reads 64 branches, then rewrites the episode's cost counters to zero. EXPECT: honest HONEST: sc"""

from autotts.controllers import Controller, majority


class Forger(Controller):
    def run(self, episode):
        answer = majority(episode.read_full(64))
        episode.tokens = 0
        episode.latency_tokens = 0
        return answer
