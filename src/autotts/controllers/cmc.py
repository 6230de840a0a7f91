"""The Confidence Momentum Controller (CMC), the controller discovered in the AutoTTS paper.

It opens a few branches, grows them in depth (branches that agree with the current leader get
bursts), abandons branches that keep deviating from the leader, widens when confidence stalls, and
stops once an exponential moving average of the Beta-posterior confidence of the finished answers
is high and not falling.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..env.batch import EpisodeBatch, first_in_rows
from ..env.core import Episode
from .base import Controller
from .votes import confidence, confidence_rows, count_stats, majority


class ConfidenceMomentum(Controller):
    """CMC with the published β schedule (the published β schedule of the AutoTTS paper's discovered controller)."""

    @classmethod
    def schedule(cls, beta: float) -> dict:
        b = beta
        return {
            "n_init": max(2, round(2 + 6 * b)),
            "max_branches": min(64, round(4 + 60 * b)),
            "warm_up": max(2, round(2 + 8 * b)),
            "patience": max(3, round(3 + 9 * b)),
            "T_ema": max(2, round(2 + 6 * b)),
            "alpha": 0.70 - 0.40 * b,
            "threshold": 0.85 + 0.12 * b,
            "slack": 0.04 - 0.03 * b,
            "burst_aligned": max(1, round(1 + 2 * b)),
            "widen_burst": max(1, round(1 + 3 * b)),
            "trend_threshold": 0.04 - 0.03 * b,
            "min_finished": max(2, round(2 + 3 * b)),
            "max_rounds": 500,
        }

    def run(self, episode: Episode) -> str | None:
        p = self.params
        alpha, patience, burst = p["alpha"], p["patience"], p["burst_aligned"]
        pool: dict[str, int] = {}  # votes of finished branches' final answers, in first-seen order
        deviation: dict[int, int] = {}
        emas: deque[float] = deque(maxlen=p["T_ema"])
        ema = 0.0

        def add_finished(ids: list[int]) -> None:
            for i in ids:
                if episode.is_finished(i):
                    answer = episode.answer(i)
                    pool[answer] = pool.get(answer, 0) + 1

        def open_branches(n: int) -> None:
            ids = episode.spawn(n)
            deviation.update(dict.fromkeys(ids, 0))
            add_finished(ids)

        def pool_confidence() -> tuple[str | None, float]:
            leader, top1, top2 = count_stats(pool)
            return leader, confidence(top1, top2)

        open_branches(p["n_init"])
        for rnd in range(p["max_rounds"]):
            # 1. pool statistics and momentum of the confidence EMA
            leader, conf = pool_confidence()
            ema = (1 - alpha) * ema + alpha * conf
            emas.append(ema)
            momentum = emas[-1] - emas[0] if len(emas) >= 2 else 0.0
            live = episode.live()
            latest = episode.answers(live)
            # 2. deviation counts against the leader
            past_warm_up = rnd >= p["warm_up"]
            if past_warm_up and leader is not None:
                for i, answer in zip(live, latest, strict=True):
                    deviation[i] = deviation[i] + 1 if answer != leader else 0
            # 3. abandon persistent deviants, most deviant first, keeping at least two live
            deviants = [i for i in live if deviation[i] >= patience]
            if deviants and len(live) > 2:
                deviants.sort(key=lambda i: -deviation[i])
                dropped = set(deviants[: len(live) - 2])
                episode.prune(sorted(dropped))
                kept = [k for k, i in enumerate(live) if i not in dropped]
                live, latest = [live[k] for k in kept], [latest[k] for k in kept]
            # 4. depth: most-advanced first (ties in opening order); aligned branches get a burst
            if live:
                depth = [-episode.intervals(i) for i in live]
                order = sorted(range(len(live)), key=depth.__getitem__)
                wave = [live[k] for k in order]
                steps = [burst if past_warm_up and latest[k] == leader else 1 for k in order]
                episode.advance(wave, steps)
                add_finished(wave)
            # 5. refresh the statistics with what the wave revealed
            leader, conf = pool_confidence()
            ema = (1 - alpha) * ema + alpha * conf
            emas[-1] = ema
            momentum = emas[-1] - emas[0] if len(emas) >= 2 else 0.0
            # 6. stop when confident and not losing confidence
            finished = sum(pool.values())
            if past_warm_up and finished >= p["min_finished"] and ema >= p["threshold"] and momentum >= -p["slack"]:
                episode.note(stop="confident", round=rnd, ema=round(ema, 4), momentum=round(momentum, 4))
                return leader
            # 7. nothing left to grow
            if not episode.live():
                break
            # 8. widen when confidence is not rising
            if (
                episode.opened < p["max_branches"]
                and momentum <= p["trend_threshold"]
                and rnd >= max(1, p["warm_up"] // 2)
                and ema < p["threshold"]
            ):
                open_branches(min(p["widen_burst"], p["max_branches"] - episode.opened))
        episode.note(stop="exhausted", ema=round(ema, 4))
        if pool:
            return count_stats(pool)[0]
        return majority(episode.answers(episode.unpruned()))

    def run_batch(self, batch: EpisodeBatch) -> None:
        """:meth:`run` for all rows at once: the same steps, numbered alike, on masks."""
        p = self.params
        alpha, patience, burst, window = p["alpha"], p["patience"], p["burst_aligned"], p["T_ema"]
        deviation = np.zeros(batch.status.shape, dtype=np.int64)
        ema = np.zeros(batch.rows)
        emas: list[np.ndarray] = []  # every round's EMA; the deque of run() is its last T_ema entries

        def pool_confidence() -> tuple[np.ndarray, np.ndarray]:
            leader, top1, top2 = batch.vote_stats()
            return leader, confidence_rows(top1, top2)

        def stop_exhausted(rows: np.ndarray) -> None:
            if rows.any():
                leader = batch.vote_stats()[0]
                batch.stop(rows, np.where(leader >= 0, leader, batch.majority(batch.unpruned)))

        batch.spawn(p["n_init"])
        for rnd in range(p["max_rounds"]):
            active = batch.active
            # 1. pool statistics and the confidence EMA
            leader, conf = pool_confidence()
            ema = (1 - alpha) * ema + alpha * conf
            emas.append(ema)
            live = batch.live & active[:, None]
            latest = batch.latest
            # 2. deviation counts against the leader
            past_warm_up = rnd >= p["warm_up"]
            if past_warm_up:
                counted = live & (leader >= 0)[:, None]
                deviation = np.where(counted, np.where(latest != leader[:, None], deviation + 1, 0), deviation)
            # 3. abandon persistent deviants, most deviant first (ties by id), keeping at least two live
            deviant = live & (deviation >= patience)
            n_live = live.sum(axis=1)
            if (deviant.any(axis=1) & (n_live > 2)).any():
                dropped = first_in_rows(deviant, -deviation, n_live - 2)
                batch.prune(dropped)
                live &= ~dropped
            # 4. depth: most-advanced first (ties by id); aligned branches get a burst
            steps = live.astype(np.int64)
            if past_warm_up:
                steps[live & (latest == leader[:, None])] = burst
            batch.advance(steps, order=-batch.intervals)
            # 5. refresh the statistics with what the wave revealed
            leader, conf = pool_confidence()
            ema = (1 - alpha) * ema + alpha * conf
            emas[-1] = ema
            kept = min(rnd + 1, window)
            momentum = ema - emas[-kept] if kept >= 2 else np.zeros(batch.rows)
            # 6. stop when confident and not losing confidence
            if past_warm_up:
                confident = (
                    active
                    & (batch.finished_count >= p["min_finished"])
                    & (ema >= p["threshold"])
                    & (momentum >= -p["slack"])
                )
                batch.stop(confident, leader)
            # 7. nothing left to grow
            stop_exhausted(batch.active & ~batch.live.any(axis=1))
            if not batch.active.any():
                return
            # 8. widen when confidence is not rising
            if rnd >= max(1, p["warm_up"] // 2):
                room = p["max_branches"] - batch.opened
                widen = batch.active & (room > 0) & (momentum <= p["trend_threshold"]) & (ema < p["threshold"])
                batch.spawn(np.where(widen, np.minimum(p["widen_burst"], room), 0))
            if 2 * np.count_nonzero(batch.active) < batch.rows:  # most rows stopped: drop them
                keep = batch.compact()
                deviation, ema = deviation[keep], ema[keep]
                emas = [e[keep] for e in emas[-window:]]
        stop_exhausted(batch.active)
