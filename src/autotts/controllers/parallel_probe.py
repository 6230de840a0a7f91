"""Parallel-Probe (arXiv 2602.03845): advance many branches in lockstep, prune branches that keep
disagreeing with the running majority, stop once the majority has been stable for T steps."""

from __future__ import annotations

from ..env.core import Episode
from .base import Controller, budget_k, register
from .votes import majority


@register("parallel-probe")
class ParallelProbe(Controller):
    """β = 1 is the published configuration (64 chains, stability T = 40, patience 7, warm-up 15,
    one interval per step, at most 100 steps); chains = round(64^β)."""

    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"chains": budget_k(beta), "T": 40, "patience": 7, "warm_up": 15, "burst": 1, "max_steps": 100}

    def run(self, episode: Episode) -> str | None:
        p = self.params
        ids = episode.spawn(p["chains"])
        off_track = [0] * len(ids)
        kept = list(ids)  # unpruned, in opening order
        leader = previous = None
        stable = 0
        for step in range(p["max_steps"]):
            live = [i for i in kept if episode.is_live(i)]
            if live:
                episode.advance(live, p["burst"])
            latest = [episode.answer(i) for i in kept]
            leader = majority(latest)
            if step >= p["warm_up"] and len(kept) > 1:
                for i in kept:
                    if episode.is_live(i):
                        off_track[i] = off_track[i] + 1 if episode.answer(i) != leader else 0
                dropped = [i for i in kept if episode.is_live(i) and off_track[i] >= p["patience"]]
                if dropped:
                    episode.prune(dropped)
                    kept = [i for i in kept if not episode.is_pruned(i)]
                    leader = majority(episode.answer(i) for i in kept)
            stable = stable + 1 if leader == previous else 0
            previous = leader
            if stable >= p["T"]:
                episode.note(stop="stable", step=step)
                return leader
            if not any(episode.is_live(i) for i in kept):
                episode.note(stop="all done", step=step)
                return leader
        episode.note(stop="max steps", step=p["max_steps"])
        return previous
