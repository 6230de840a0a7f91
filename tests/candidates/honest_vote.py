"""An honest candidate: read a β-dependent number of branches whole and take the majority."""

from autotts.controllers import Controller, majority


class ReadAndVote(Controller):
    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"k": max(1, round(64**beta))}

    def run(self, episode) -> str | None:
        return majority(episode.read_full(self.params["k"]))
