"""Parallel-Probe (arXiv 2602.03845): advance many branches in lockstep, prune branches that keep
disagreeing with the running majority, stop once the majority has been stable for T steps."""

from __future__ import annotations

import numpy as np

from ..env.batch import EpisodeBatch
from ..env.core import Episode
from .base import Controller, budget_k
from .votes import majority


class ParallelProbe(Controller):
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

    def run_batch(self, batch: EpisodeBatch) -> None:
        """:meth:`run` for all rows at once, on masks."""
        p = self.params
        patience, warm_up, burst = p["patience"], p["warm_up"], p["burst"]
        batch.spawn(p["chains"])
        off_track = np.zeros(batch.status.shape, dtype=np.int64)
        previous = np.full(batch.rows, -1)  # -1 stands for None, in leader and previous alike
        stable = np.zeros(batch.rows, dtype=np.int64)
        for step in range(p["max_steps"]):
            active = batch.active
            batch.advance(np.where(batch.live & active[:, None], burst, 0))
            kept = batch.unpruned
            leader = batch.majority(kept)
            if step >= warm_up:
                live = batch.live & (active & (kept.sum(axis=1) > 1))[:, None]
                agrees = batch.latest == leader[:, None]
                off_track = np.where(live, np.where(agrees, 0, off_track + 1), off_track)
                dropped = live & (off_track >= patience)
                if dropped.any():
                    batch.prune(dropped)
                    leader = np.where(dropped.any(axis=1), batch.majority(batch.unpruned), leader)
            stable = np.where(leader == previous, stable + 1, 0)
            previous = leader
            batch.stop(active & ((stable >= p["T"]) | ~batch.live.any(axis=1)), leader)
            if not batch.active.any():
                return
            if 2 * np.count_nonzero(batch.active) < batch.rows:  # most rows stopped: drop them
                keep = batch.compact()
                off_track, previous, stable = off_track[keep], previous[keep], stable[keep]
        batch.stop(batch.active, previous)
