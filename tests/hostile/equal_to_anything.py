# ruff: noqa
"""Returns an object that compares equal to every answer (a str subclass), after reading one branch. EXPECT: error"""

from autotts.controllers import Controller


class Everything(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class Chameleon(Controller):
    def run(self, episode):
        episode.read_full(1)
        return Everything("42")
