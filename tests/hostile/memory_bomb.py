# ruff: noqa
"""Allocates memory until something gives. EXPECT: memory crash"""

from autotts.controllers import Controller


class Hog(Controller):
    def run(self, episode):
        blocks = []
        while True:
            blocks.append(bytearray(64 << 20))
