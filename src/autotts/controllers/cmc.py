"""The Confidence Momentum Controller (CMC), the controller discovered in the AutoTTS paper.

It opens a few branches, grows them in depth (branches that agree with the current leader get
bursts), abandons branches that keep deviating from the leader, widens when confidence stalls, and
stops once an exponential moving average of the Beta-posterior confidence of the finished answers
is high and not falling.
"""

from __future__ import annotations

from collections import deque

from ..env.core import Episode
from .base import Controller, register
from .votes import confidence, majority, vote_stats


@register("cmc")
class ConfidenceMomentum(Controller):
    """CMC with the published β schedule (DESIGN §6)."""

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
        alpha = p["alpha"]
        pool: list[str] = []  # final answers of finished branches, in finishing order
        deviation: dict[int, int] = {}
        emas: deque[float] = deque(maxlen=p["T_ema"])
        ema = 0.0

        def open_branches(n: int) -> None:
            for i in episode.spawn(n):
                deviation[i] = 0
                if episode.is_finished(i):
                    pool.append(episode.answer(i))

        def pool_confidence() -> tuple[str | None, float]:
            leader, top1, top2 = vote_stats(pool)
            return leader, confidence(top1, top2)

        open_branches(p["n_init"])
        for rnd in range(p["max_rounds"]):
            # 1. pool statistics and momentum of the confidence EMA
            leader, conf = pool_confidence()
            ema = (1 - alpha) * ema + alpha * conf
            emas.append(ema)
            momentum = emas[-1] - emas[0] if len(emas) >= 2 else 0.0
            live = episode.live()
            # 2. deviation counts against the leader
            past_warm_up = rnd >= p["warm_up"]
            if past_warm_up and leader is not None:
                for i in live:
                    deviation[i] = deviation[i] + 1 if episode.answer(i) != leader else 0
            # 3. abandon persistent deviants, most deviant first, keeping at least two live
            deviants = sorted((i for i in live if deviation[i] >= p["patience"]), key=lambda i: -deviation[i])
            drop = deviants[: max(0, len(live) - 2)]
            if drop:
                episode.prune(drop)
                live = [i for i in live if i not in set(drop)]
            # 4. depth: most-advanced first; aligned branches get a burst
            if live:
                live.sort(key=lambda i: -episode.intervals(i))
                steps = [p["burst_aligned"] if past_warm_up and episode.answer(i) == leader else 1 for i in live]
                episode.advance(live, steps)
                pool.extend(episode.answer(i) for i in live if episode.is_finished(i))
            # 5. refresh the statistics with what the wave revealed
            leader, conf = pool_confidence()
            ema = (1 - alpha) * ema + alpha * conf
            emas[-1] = ema
            momentum = emas[-1] - emas[0] if len(emas) >= 2 else 0.0
            # 6. stop when confident and not losing confidence
            if past_warm_up and len(pool) >= p["min_finished"] and ema >= p["threshold"] and momentum >= -p["slack"]:
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
            return vote_stats(pool)[0]
        return majority(episode.answer(i) for i in episode.unpruned())
