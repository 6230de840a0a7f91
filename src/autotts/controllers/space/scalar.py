"""The scalar interpreter: :class:`SpaceController` plays one point of the structured space in one
:class:`~autotts.env.core.Episode`, step by step. It is the readable form of every genome (evolve
candidates and the shipped ``evo`` are data it plays); :mod:`.lockstep` decides exactly alike on a
whole batch, for speed.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

from ...env.batch import EpisodeBatch
from ...env.core import Episode
from ..votes import confidence, majority, vote_stats
from .genome import PROBE_GATES, GenomeError, check_genome, resolve
from .lockstep import LockstepController, play


class SpaceController(LockstepController):
    """The parametric controller of the structured space.

    ``autotts eval --controller space -p genome='{...}'`` evaluates any point of the space: the
    ``genome`` parameter (a JSON string, so it travels as an evaluation override) fixes the
    mechanisms and β sets every knob. A subclass that sets :attr:`GENOME` is one fixed point (that is
    how evolve candidates and ``evo`` are written): its parameters are then the genome's knobs at β,
    each of which ``-p knob=value`` may override."""

    #: a subclass's fixed genome (None: the genome comes from the ``genome`` parameter)
    GENOME: ClassVar[Mapping[str, Any] | None] = None

    def __init__(self, beta: float = 1.0, **overrides: Any):
        # ``genome`` travels among the overrides so that the constructor takes β only (the single-knob
        # rule validation applies to candidates, which subclass this with a fixed GENOME)
        genome: str | Mapping[str, Any] = overrides.pop("genome", "")
        if self.GENOME is not None:
            if genome:
                raise GenomeError(f"{type(self).__name__} is a fixed genome; it takes no 'genome' parameter")
            super().__init__(beta, **overrides)
            self.genome = check_genome(self.GENOME)
            self.knobs = dict(self.params)
            return
        text = genome if isinstance(genome, str) else json.dumps(genome)
        super().__init__(beta, genome=text, **overrides)
        if not text:
            raise GenomeError("SpaceController needs a genome (see autotts.controllers.space)")
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GenomeError(f"genome is not valid JSON: {exc}") from None
        self.genome = check_genome(parsed)
        self.knobs = resolve(self.genome, min(max(self.beta, 0.0), 1.0))

    @classmethod
    def schedule(cls, beta: float) -> dict:
        if cls.GENOME is not None:
            return resolve(check_genome(cls.GENOME), beta)
        return {"genome": ""}

    def as_genome(self) -> dict[str, Any]:
        return self.genome

    def run_batch(self, batch: EpisodeBatch) -> None:
        play(self.genome, self.knobs, batch)  # the knobs as resolved here, overrides included

    def run(self, episode: Episode) -> str | None:
        if self.genome["mode"] == "full":
            return self._run_full(episode)
        return self._run_probe(episode)

    # ---------------------------------------------------------------- full reads

    def _run_full(self, episode: Episode) -> str | None:
        k = self.knobs
        total, threshold = k["max_samples"], k["threshold"]
        batch = min(k["batch"], total)
        confidence_gate = "confidence" in self.genome["gates"]
        unanimous_gate = "unanimous" in self.genome["gates"]
        answers: list[str] = []
        for _ in range(total // batch):
            read = episode.read_full(batch)
            answers.extend(read)
            if confidence_gate and len(answers) >= 2:
                leader, top1, top2 = vote_stats(answers)
                if confidence(top1, top2) > threshold:
                    episode.note(stop="confident", reads=len(answers))
                    return leader
            if unanimous_gate and len(set(read)) == 1:
                episode.note(stop="unanimous wave", reads=len(answers))
                return read[0]
        episode.note(stop="budget", reads=len(answers))
        return majority(answers)

    # ---------------------------------------------------------------- probing

    def _run_probe(self, episode: Episode) -> str | None:
        g, k = self.genome, self.knobs
        from_latest = g["signal"] == "latest"
        check_after = g["timing"] == "after"
        most_advanced = g["order"] == "most_advanced"
        widen, drop, refill = g["widen"], g["drop"], g["refill"]
        ema_gate, stable_gate, unanimous_gate = (name in g["gates"] for name in PROBE_GATES)
        alpha, threshold, slack = k["alpha"], k["threshold"], k["slack"]
        warm_up, patience, keep_live = k["warm_up"], k["patience"], k["keep_live"]
        burst_aligned, burst_other, active_cap = k["burst_aligned"], k["burst_other"], k["active_cap"]
        max_branches = min(k["max_branches"], episode.max_branches)
        widen_from = max(1, warm_up // 2)
        split = k["split_threshold"]

        pool: list[str] = []  # final answers of finished branches, in finishing order
        kept: list[int] = []  # unpruned branches, in opening order
        deviation: dict[int, int] = {}
        emas: deque[float] = deque(maxlen=k["T_ema"])
        ema = 0.0
        previous: str | None = None
        stable = 0

        def open_branches(n: int) -> None:
            for i in episode.spawn(n):
                deviation[i] = 0
                kept.append(i)
                if episode.is_finished(i):
                    pool.append(episode.answer(i))

        def signal() -> tuple[str | None, float]:
            votes = [episode.answer(i) for i in kept] if from_latest else pool
            leader, top1, top2 = vote_stats(votes)
            return leader, confidence(top1, top2)

        def answer(default: str | None) -> str | None:
            """What the episode answers on stopping: ``default`` (the gate's answer), or with final
            'short' the length-weighted vote of the finished branches when there are any."""
            if g["final"] != "short" or not pool:
                return default
            return self._short_vote(episode)

        def drop_deviants(live: list[int], leader: str) -> list[int]:
            for i in live:
                deviation[i] = deviation[i] + 1 if episode.answer(i) != leader else 0
            deviants = sorted((i for i in live if deviation[i] >= patience), key=lambda i: -deviation[i])
            doomed = deviants[: max(0, len(live) - keep_live)]
            if not doomed:
                return live
            episode.prune(doomed)
            gone = set(doomed)
            kept[:] = [i for i in kept if i not in gone]
            return [i for i in live if i not in gone]

        def grow(live: list[int], leader: str | None) -> None:
            if most_advanced:
                live = sorted(live, key=lambda i: -episode.intervals(i))
            live = live[:active_cap]
            steps = [burst_aligned if leader is not None and episode.answer(i) == leader else burst_other for i in live]
            episode.advance(live, steps)
            pool.extend(episode.answer(i) for i in live if episode.is_finished(i))

        open_branches(min(k["n_init"], max_branches))
        for rnd in range(k["max_rounds"]):
            past_warm_up = rnd >= warm_up
            if check_after:  # grow, then read the leader and drop deviants
                live = episode.live()
                if live:
                    grow(live, previous if past_warm_up else None)
                leader, conf = signal()
                if drop and past_warm_up and leader is not None:
                    live = episode.live()
                    if len(drop_deviants(live, leader)) < len(live):
                        leader, conf = signal()
                ema = (1 - alpha) * ema + alpha * conf
                emas.append(ema)
            else:  # read the leader, drop deviants, grow, then read it again
                leader, conf = signal()
                ema = (1 - alpha) * ema + alpha * conf
                emas.append(ema)
                live = episode.live()
                if drop and past_warm_up and leader is not None:
                    live = drop_deviants(live, leader)
                if live:
                    grow(live, leader if past_warm_up else None)
                leader, conf = signal()
                ema = (1 - alpha) * ema + alpha * conf
                emas[-1] = ema
            momentum = emas[-1] - emas[0] if len(emas) >= 2 else 0.0
            stable = stable + 1 if leader == previous else 0
            previous = leader

            if ema_gate and past_warm_up and len(pool) >= k["min_finished"] and ema >= threshold and momentum >= -slack:
                episode.note(stop="confident", round=rnd, ema=round(ema, 4))
                return answer(leader)
            if stable_gate and stable >= k["stable_T"]:
                episode.note(stop="stable", round=rnd)
                return answer(leader)
            if unanimous_gate and len(pool) >= k["window"] and len(set(pool[-k["window"] :])) == 1:
                episode.note(stop="unanimous", round=rnd)
                return answer(pool[-1])
            room = max_branches - episode.opened
            if not episode.live():
                if not (refill and room > 0):
                    break
                open_branches(min(k["widen_burst"], room))
                continue
            if room > 0 and rnd >= widen_from and widen != "never":
                wanted = (
                    widen == "always"
                    or (widen == "uncertain" and ema < threshold)
                    or (widen == "stall" and ema < threshold and momentum <= k["trend_threshold"])
                    or (widen == "split" and confidence(*vote_stats([episode.answer(i) for i in kept])[1:]) < split)
                )
                if wanted:
                    open_branches(min(k["widen_burst"], room))
        episode.note(stop="exhausted")
        return self._final(episode, pool, kept, from_latest)

    def _short_vote(self, episode: Episode) -> str | None:
        """The finished branches' final answers, each weighing ``length_horizon`` minus its length in
        intervals (at least 1), summed in id order; ties go to the answer met first."""
        horizon = self.knobs["length_horizon"]
        weights: dict[str, int] = {}
        for i in range(episode.opened):
            if episode.is_finished(i):
                weights[episode.answer(i)] = weights.get(episode.answer(i), 0) + max(1, horizon - episode.intervals(i))
        return max(weights, key=weights.get) if weights else None

    def _final(self, episode: Episode, pool: list[str], kept: list[int], from_latest: bool) -> str | None:
        if self.genome["final"] == "short" and pool:
            return self._short_vote(episode)
        if self.genome["final"] == "depth":
            weights: dict[str, int] = {}
            for i in kept:
                answer = episode.answer(i)
                weights[answer] = weights.get(answer, 0) + episode.intervals(i)
            return max(weights, key=weights.get) if weights else None
        if pool and not from_latest:
            return vote_stats(pool)[0]
        return majority(episode.answer(i) for i in kept)

