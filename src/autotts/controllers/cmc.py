"""The Confidence Momentum Controller (CMC), the controller discovered in the AutoTTS paper.

It opens a few branches, grows them in depth (branches that agree with the current leader get
bursts), abandons branches that keep deviating from the leader, widens when confidence stalls, and
stops once an exponential moving average of the Beta-posterior confidence of the finished answers
is high and not falling.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ..env.core import Episode
from .space import LockstepController, constant_genome
from .votes import confidence, count_stats, majority


class ConfidenceMomentum(LockstepController):
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

    def as_genome(self) -> dict[str, Any]:
        return constant_genome("cmc", self.params)  # its parameters are the space's knobs, by name
