"""An honest candidate that uses module-level randomness and set order (results must still not
depend on which worker ran which block)."""

import random

from autotts.controllers import Controller, majority

SEEN = set()


class RandomWidth(Controller):
    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"k_max": max(1, round(2 + 14 * beta))}

    def run(self, episode):
        k = random.randint(1, self.params["k_max"])
        answers = episode.read_full(k)
        SEEN.update(answers)
        tie_break = sorted(SEEN)[0] if len(SEEN) > 50 else None
        return majority(answers) or tie_break
