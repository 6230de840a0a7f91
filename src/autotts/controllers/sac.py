"""Self answer consistency (Liu & Wang 2025, probe variant of Parallel-Probe): each branch stops as
soon as its last W probe answers agree; SC over the branches on top."""

from __future__ import annotations

from ..env.core import Episode
from .base import Controller, budget_k
from .votes import majority


class AnswerConsistency(Controller):
    """β = 1: 64 branches, window 14; branches = round(64^β)."""

    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"branches": budget_k(beta), "window": 14}

    def run(self, episode: Episode) -> str | None:
        window = self.params["window"]
        ids = episode.spawn(self.params["branches"])
        while True:
            settled = []
            for i in episode.live():
                recent = episode.history(i)[-window:]
                if len(recent) == window and recent.count(recent[0]) == window:
                    settled.append(i)
            if settled:  # stopping a self-consistent branch costs nothing; its answer stands
                episode.prune(settled)
            live = episode.live()
            if not live:
                break
            episode.advance(live)
        return majority(episode.answer(i) for i in ids)
