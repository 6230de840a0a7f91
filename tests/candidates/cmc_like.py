"""A CMC-like candidate, written as a discovery proposal would be (the rules discovery validates, own code).

Used by the sandbox benchmark and tests as an honest, realistically expensive controller.
"""

from collections import deque

from autotts.controllers import Controller, confidence, majority, vote_stats


class MomentumCandidate(Controller):
    # name: (value at β=0, change from β=0 to β=1, lower bound or None); counts are rounded
    RAMPS = {
        "n_init": (2, 6, 2),
        "max_branches": (4, 60, None),
        "warm_up": (2, 8, 2),
        "patience": (3, 9, 3),
        "window": (2, 6, 2),
        "burst": (1, 2, 1),
        "widen": (1, 3, 1),
        "min_finished": (2, 3, 2),
    }
    RATES = {"alpha": (0.70, -0.40), "threshold": (0.85, 0.12), "slack": (0.04, -0.03), "trend": (0.04, -0.03)}

    @classmethod
    def schedule(cls, beta: float) -> dict:
        params = {}
        for name, (start, change, floor) in cls.RAMPS.items():
            value = round(start + change * beta)
            params[name] = max(floor, value) if floor is not None else min(64, value)
        for name, (start, change) in cls.RATES.items():
            params[name] = start + change * beta
        return params

    def run(self, episode):
        p = self.params
        finals = []
        strikes = {}
        emas = deque(maxlen=p["window"])
        smoothed = 0.0

        def open_new(count):
            for branch in episode.spawn(count):
                strikes[branch] = 0
                if episode.is_finished(branch):
                    finals.append(episode.answer(branch))

        def leader_and_confidence():
            leader, top1, top2 = vote_stats(finals)
            return leader, confidence(top1, top2)

        open_new(p["n_init"])
        for step in range(500):
            leader, conf = leader_and_confidence()
            smoothed += p["alpha"] * (conf - smoothed)
            emas.append(smoothed)
            warm = step >= p["warm_up"]
            live = episode.live()
            if warm and leader is not None:
                for branch, answer in zip(live, episode.answers(live), strict=True):
                    strikes[branch] = 0 if answer == leader else strikes[branch] + 1
            worst = sorted((b for b in live if strikes[b] >= p["patience"]), key=lambda b: -strikes[b])
            dropped = worst[: max(0, len(live) - 2)]
            if dropped:
                episode.prune(dropped)
                gone = set(dropped)
                live = [b for b in live if b not in gone]
            if live:
                live.sort(key=lambda b: -episode.intervals(b))
                current = episode.answers(live)
                steps = [p["burst"] if warm and a == leader else 1 for a in current]
                episode.advance(live, steps)
                finals.extend(episode.answer(b) for b in live if episode.is_finished(b))
            leader, conf = leader_and_confidence()
            smoothed += p["alpha"] * (conf - smoothed)
            emas[-1] = smoothed
            momentum = emas[-1] - emas[0] if len(emas) > 1 else 0.0
            if warm and len(finals) >= p["min_finished"] and smoothed >= p["threshold"] and momentum >= -p["slack"]:
                return leader
            if not episode.live():
                break
            room = p["max_branches"] - episode.opened
            if room > 0 and momentum <= p["trend"] and step >= max(1, p["warm_up"] // 2) and smoothed < p["threshold"]:
                open_new(min(p["widen"], room))
        if finals:
            return vote_stats(finals)[0]
        return majority(episode.answer(b) for b in episode.unpruned())
