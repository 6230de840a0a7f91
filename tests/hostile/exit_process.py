# ruff: noqa
"""Tries to end the worker process (SystemExit, then os._exit). EXPECT: crash"""

import os

from autotts.controllers import Controller


class Quitter(Controller):
    def run(self, episode):
        try:
            raise SystemExit(0)
        finally:
            os._exit(0)
