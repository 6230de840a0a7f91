"""Parallel-Probe (arXiv 2602.03845): advance many branches in lockstep, prune branches that keep
disagreeing with the running majority, stop once the majority has been stable for T steps."""

from __future__ import annotations

from typing import Any

from ..env.core import Episode
from .base import budget_k
from .space import LockstepController, constant_genome
from .votes import majority


class ParallelProbe(LockstepController):
    """β = 1 is the published configuration (64 chains, stability T = 40, patience 7, warm-up 15,
    one interval per step, at most 100 steps); chains = round(64^β).

    Each step advances every live branch, takes the majority of the latest answers of all unpruned
    branches (finished ones included), and from the warm-up on counts, for each live branch, the
    consecutive steps it disagreed with that leader; branches reaching the patience are pruned."""

    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"chains": budget_k(beta), "T": 40, "patience": 7, "warm_up": 15, "burst": 1, "max_steps": 100}

    def run(self, episode: Episode) -> str | None:
        p = self.params
        patience, warm_up, burst = p["patience"], p["warm_up"], p["burst"]
        kept = episode.spawn(p["chains"])  # unpruned branches, in opening order
        off_track = [0] * len(kept)
        leader = previous = None
        stable = 0
        for step in range(p["max_steps"]):
            live = episode.live()
            if live:
                episode.advance(live, burst)
            leader = majority(episode.answers(kept))
            if step >= warm_up and len(kept) > 1:
                live = episode.live()
                dropped = []
                for i, answer in zip(live, episode.answers(live), strict=True):
                    off_track[i] = off_track[i] + 1 if answer != leader else 0
                    if off_track[i] >= patience:
                        dropped.append(i)
                if dropped:
                    episode.prune(dropped)
                    kept = episode.unpruned()
                    leader = majority(episode.answers(kept))
            stable = stable + 1 if leader == previous else 0
            previous = leader
            if stable >= p["T"]:
                episode.note(stop="stable", step=step)
                return leader
            if not episode.live():
                episode.note(stop="all done", step=step)
                return leader
        episode.note(stop="max steps", step=p["max_steps"])
        return previous

    def as_genome(self) -> dict[str, Any]:
        p = self.params
        knobs = {"n_init": p["chains"], "max_branches": p["chains"], "stable_T": p["T"], "patience": p["patience"]}
        knobs |= {"warm_up": p["warm_up"], "burst_aligned": p["burst"], "burst_other": p["burst"]}
        return constant_genome("parallel-probe", {**knobs, "max_rounds": p["max_steps"]})
