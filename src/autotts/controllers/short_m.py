"""short-m@k (Hassid et al. 2025): run k branches in parallel, stop all once the first m have
finished, majority of those m (ties to the shortest)."""

from __future__ import annotations

from ..env.core import Episode
from .base import Controller, budget_k
from .votes import majority


class ShortMOfK(Controller):
    """β = 1: k = 64; k = round(64^β); m (default 1) is capped at k. In replay the first to finish
    are those needing the fewest intervals, ties broken by fewer tokens."""

    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"k": budget_k(beta), "m": 1}

    def run(self, episode: Episode) -> str | None:
        k = self.params["k"]
        m = min(self.params["m"], k)
        episode.spawn(k)
        while len(episode.finished()) < m and episode.live():
            episode.advance(episode.live())
        live = episode.live()
        if live:
            episode.prune(live)
        done = sorted(episode.finished(), key=lambda i: (episode.intervals(i), episode.branch_tokens(i), i))[:m]
        return majority(episode.answer(i) for i in done)


class ShortThreeOfK(ShortMOfK):
    """short-3@k."""

    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"k": budget_k(beta), "m": 3}
