"""The lockstep interpreter: one point of the structured space played on every row of an
:class:`~autotts.env.batch.EpisodeBatch` at once (numpy masks), deciding exactly as the scalar
interpreter (:mod:`.scalar`) does in each episode.

It is the one place evaluation gets its speed from: the built-ins (SC, ASC, ESC, Parallel-Probe,
CMC) keep ``run(episode)`` as their one readable form and inherit :class:`LockstepController`, whose
``run_batch`` plays the genome of their parameters here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...env.batch import EpisodeBatch, first_in_rows
from ..base import Controller
from ..votes import confidence_rows
from .genome import PROBE_GATES, check_genome, resolve


class LockstepController(Controller):
    """A controller that is one point of the structured space. ``run`` stays its own (readable) form;
    ``run_batch`` plays :meth:`as_genome` through the lockstep interpreter. Tests check, per built-in,
    that both decide alike in every episode."""

    def as_genome(self) -> dict[str, Any]:
        """The point of the space this controller is, at its β and parameters (a genome whose
        knobs are constants or β-schedules)."""
        raise NotImplementedError

    def run_batch(self, batch: EpisodeBatch) -> None:
        genome = check_genome(self.as_genome())
        play(genome, resolve(genome, min(max(self.beta, 0.0), 1.0)), batch)


def play(genome: dict[str, Any], knobs: dict[str, Any], batch: EpisodeBatch) -> None:
    """Play a checked ``genome`` with resolved ``knobs`` on every row of ``batch``, stopping each."""
    if genome["mode"] == "full":
        _play_full(genome, knobs, batch)
    else:
        _ProbeRows(genome, knobs, batch).run()


def _play_full(genome: dict[str, Any], k: dict[str, Any], batch: EpisodeBatch) -> None:
    """:meth:`SpaceController._run_full` on every row: waves of whole reads, then the gates."""
    total, threshold = k["max_samples"], k["threshold"]
    size = min(k["batch"], total)
    for w in range(total // size):
        batch.read_full(np.where(batch.active, size, 0))
        if "confidence" in genome["gates"] and (w + 1) * size >= 2:
            leader, top1, top2 = batch.vote_stats()
            batch.stop(batch.active & (confidence_rows(top1, top2) > threshold), leader)
        if "unanimous" in genome["gates"]:
            read = batch.latest[:, w * size : (w + 1) * size]  # every active row has read w + 1 batches
            batch.stop(batch.active & (read == read[:, :1]).all(axis=1), read[:, 0])
        if not batch.active.any():
            return
        if 2 * np.count_nonzero(batch.active) < batch.rows:  # most rows stopped: drop them
            batch.compact()
    batch.stop(batch.active, batch.vote_stats()[0])


class _ProbeRows:
    """The scalar interpreter's probe mode (``SpaceController._run_probe``) on every row of a batch at
    once: the same steps, on masks."""

    def __init__(self, genome: dict[str, Any], knobs: dict[str, Any], batch: EpisodeBatch):
        self.g, self.k, self.batch = genome, knobs, batch
        self.from_latest = genome["signal"] == "latest"
        self.uses_ema = "ema" in genome["gates"] or genome["widen"] in ("uncertain", "stall")
        self.deviation = np.zeros(batch.status.shape, dtype=np.int64)
        self.ema = np.zeros(batch.rows)
        self.emas: list[np.ndarray] = []  # every round's EMA; the deque of _run_probe is the last T_ema
        self.previous = np.full(batch.rows, -1)  # -1 stands for None
        self.stable = np.zeros(batch.rows, dtype=np.int64)

    def signal(self) -> tuple[np.ndarray, np.ndarray]:
        batch = self.batch
        leader, top1, top2 = batch.tally(batch.unpruned) if self.from_latest else batch.vote_stats()
        return leader, confidence_rows(top1, top2)

    def drop_deviants(self, live: np.ndarray, leader: np.ndarray) -> np.ndarray:
        """Count disagreements of ``live`` branches (rows with a leader) and prune the persistent
        ones, keeping ``keep_live``; returns the mask of branches pruned."""
        counted = live & (leader >= 0)[:, None]
        disagree = self.batch.latest != leader[:, None]
        self.deviation = np.where(counted, np.where(disagree, self.deviation + 1, 0), self.deviation)
        deviant = counted & (self.deviation >= self.k["patience"])
        if not deviant.any():
            return deviant
        room = counted.sum(axis=1) - self.k["keep_live"]  # branches a row may drop
        if (deviant.sum(axis=1) > room).any():  # some row must choose: the most deviant first
            deviant = first_in_rows(deviant, -self.deviation, room)
        self.batch.prune(deviant)
        return deviant

    def grow(self, live: np.ndarray, leader: np.ndarray) -> None:
        batch, k = self.batch, self.k
        order = -batch.intervals if self.g["order"] == "most_advanced" else None
        if k["active_cap"] < batch.width:  # only the first active_cap live branches in growth order
            live = first_in_rows(live, 0 if order is None else order, k["active_cap"])
        if k["burst_aligned"] == k["burst_other"]:  # one burst for all: no need to compare with the leader
            batch.advance(np.where(live, k["burst_other"], 0), order=order)
            return
        aligned = live & (batch.latest == leader[:, None])
        batch.advance(np.where(aligned, k["burst_aligned"], np.where(live, k["burst_other"], 0)), order=order)

    def update_ema(self, conf: np.ndarray) -> None:
        if not self.uses_ema:  # no gate or widening reads it (Parallel-Probe): skip the arithmetic
            return
        alpha = self.k["alpha"]
        self.ema = (1 - alpha) * self.ema + alpha * conf

    def run(self) -> None:
        g, k, batch = self.g, self.k, self.batch
        check_after = g["timing"] == "after"
        ema_gate, stable_gate, unanimous_gate = (name in g["gates"] for name in PROBE_GATES)
        max_branches = min(k["max_branches"], batch.width)
        widen_from = max(1, k["warm_up"] // 2)
        batch.spawn(min(k["n_init"], max_branches))
        for rnd in range(k["max_rounds"]):
            active = batch.active
            past_warm_up = rnd >= k["warm_up"]
            no_leader = np.full(batch.rows, -1)
            if check_after:  # grow, then read the leader and drop deviants
                live = batch.live & active[:, None]
                self.grow(live, self.previous if past_warm_up else no_leader)
                leader, conf = self.signal()
                # rows that dropped nothing would read the same signal again
                if g["drop"] and past_warm_up and self.drop_deviants(batch.live & active[:, None], leader).any():
                    leader, conf = self.signal()
                self.update_ema(conf)
                self.emas.append(self.ema)
            else:  # read the leader, drop deviants, grow, then read it again
                leader, conf = self.signal()
                self.update_ema(conf)
                self.emas.append(self.ema)
                live = batch.live & active[:, None]
                if g["drop"] and past_warm_up:
                    live &= ~self.drop_deviants(live, leader)
                self.grow(live, leader if past_warm_up else no_leader)
                leader, conf = self.signal()
                self.update_ema(conf)
                self.emas[-1] = self.ema
            window = min(len(self.emas), k["T_ema"])
            momentum = self.ema - self.emas[-window] if window >= 2 else np.zeros(batch.rows)
            self.stable = np.where(leader == self.previous, self.stable + 1, 0)
            self.previous = leader
            self.stop_on_gates(leader, momentum, past_warm_up, ema_gate, stable_gate, unanimous_gate)
            room = max_branches - batch.opened
            stuck = batch.active & ~batch.live.any(axis=1)
            refill = stuck & (room > 0) if g["refill"] else np.zeros_like(stuck)
            self.stop_final(stuck & ~refill, leader)
            if not batch.active.any():
                return
            opening = np.where(refill, np.minimum(k["widen_burst"], room), 0)
            if rnd >= widen_from and g["widen"] != "never":
                growing = batch.active & ~stuck & (room > 0)
                if g["widen"] == "uncertain":
                    growing &= self.ema < k["threshold"]
                elif g["widen"] == "stall":
                    growing &= (self.ema < k["threshold"]) & (momentum <= k["trend_threshold"])
                elif g["widen"] == "split":
                    _, top1, top2 = batch.tally(batch.unpruned)
                    growing &= confidence_rows(top1, top2) < k["split_threshold"]
                opening = np.where(growing, np.minimum(k["widen_burst"], room), opening)
            batch.spawn(opening)
            if 2 * np.count_nonzero(batch.active) < batch.rows:  # most rows stopped: drop them
                self.compact()
        self.stop_final(batch.active)

    def short_vote(self) -> np.ndarray:
        """Per row, the finished branches' final answers weighted by ``length_horizon`` minus their
        length in intervals (at least 1), in id order (ties: the answer met first); -1 if none."""
        batch = self.batch
        weights = np.maximum(1, self.k["length_horizon"] - batch.intervals)
        return batch.tally(batch.unpruned & ~batch.live, weights=weights)[0]

    def answer(self, rows: np.ndarray, default: np.ndarray) -> np.ndarray:
        """The answer of ``rows`` stopping now: ``default``, or with final 'short' the length-weighted
        vote of the finished branches where there are any (``_run_probe``'s ``answer``)."""
        if self.g["final"] != "short" or not rows.any():
            return default
        short = self.short_vote()
        return np.where(short >= 0, short, default)

    def stop_on_gates(self, leader, momentum, past_warm_up, ema_gate, stable_gate, unanimous_gate) -> None:
        batch, k = self.batch, self.k
        if ema_gate and past_warm_up:
            confident = (batch.finished_count >= k["min_finished"]) & (self.ema >= k["threshold"])
            rows = batch.active & confident & (momentum >= -k["slack"])
            batch.stop(rows, self.answer(rows, leader))
        if stable_gate:
            rows = batch.active & (self.stable >= k["stable_T"])
            batch.stop(rows, self.answer(rows, leader))
        if unanimous_gate:
            count, window = batch.finished_count, k["window"]
            cols = np.arange(batch.rows)[:, None]
            last = batch.finish_log[cols, np.clip(count[:, None] - window + np.arange(window), 0, batch.width - 1)]
            rows = batch.active & (count >= window) & (last == last[:, -1:]).all(axis=1)
            batch.stop(rows, self.answer(rows, last[:, -1]))

    def stop_final(self, rows: np.ndarray, leader: np.ndarray | None = None) -> None:
        """End ``rows`` with the genome's aggregation (``_final`` of the scalar form); ``leader`` is the
        signal's leader when it is current (nothing grown or dropped since it was read)."""
        batch = self.batch
        if not rows.any():
            return
        if self.g["final"] == "depth":
            batch.stop(rows, batch.tally(batch.unpruned, weights=batch.intervals)[0])
            return
        if leader is None:
            leader = self.signal()[0]
        if not self.from_latest and (rows & (leader < 0)).any():  # no finished answer yet: latest ones
            leader = np.where(leader >= 0, leader, batch.majority(batch.unpruned))
        batch.stop(rows, self.answer(rows, leader))

    def compact(self) -> None:
        keep = self.batch.compact()
        self.deviation, self.ema = self.deviation[keep], self.ema[keep]
        self.emas = [e[keep] for e in self.emas[-self.k["T_ema"] :]]
        self.previous, self.stable = self.previous[keep], self.stable[keep]
