# ruff: noqa
"""Writes files outside its scratch folder (absolute and relative paths). EXPECT: error"""

from autotts.controllers import Controller, majority


class Scribbler(Controller):
    def run(self, episode):
        for path in ("{{MARKER}}", "../../escaped.txt"):
            with open(path, "w") as handle:
                handle.write("escaped")
        return majority(episode.read_full(1))
