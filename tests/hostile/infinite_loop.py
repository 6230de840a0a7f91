# ruff: noqa
"""Loops forever inside run(). EXPECT: timeout"""

from autotts.controllers import Controller


class Spin(Controller):
    def run(self, episode):
        n = 0
        while True:
            n += 1
