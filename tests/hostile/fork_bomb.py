# ruff: noqa
"""Forks without end. EXPECT: error"""

import os

from autotts.controllers import Controller


class Forker(Controller):
    def run(self, episode):
        while True:
            os.fork()
