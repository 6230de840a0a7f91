# ruff: noqa
"""Prints without end, to fill the disk through its log. EXPECT: error"""

from autotts.controllers import Controller


class Shouter(Controller):
    def run(self, episode):
        line = "y" * 65536
        while True:
            print(line, flush=True)
