"""A deliberately fragile controller for the robustness tests.

It keys on two quirks of the published search stores (aime24): every store probes every 500 tokens,
and every answer is an integer. It opens 64 branches and counts its budget in intervals, as if
Δ = 500 were a law of nature (8 to 16 intervals, meant as "4,000 to 8,000 tokens" per branch), then
votes on the latest answers, counting only answers written as plain integers. Under a coarser probe
granularity (Δ = 1500) the same interval count buys three times the tokens, so its saving against
SC@64 collapses; on benchmarks whose answers are not all integers (hmmt25) it throws away correct
votes.
"""

from autotts.controllers import Controller, majority


class FragileDelta(Controller):
    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"intervals": 8 + round(8 * beta)}  # "4,000 + 4,000 β tokens", assuming Δ = 500

    def run(self, episode) -> str | None:
        ids = episode.spawn(64)
        for _ in range(self.params["intervals"] - 1):
            live = [i for i in ids if episode.is_live(i)]
            if not live:
                break
            episode.advance(live)
        votes = [a for a in episode.answers(ids) if a.isascii() and a.isdigit()]
        return majority(votes) if votes else None
