# ruff: noqa
"""Starts a thread that outlives run() and keeps writing files. EXPECT: error"""

import threading
import time

from autotts.controllers import Controller, majority


def scribble():
    while True:
        with open("{{MARKER}}", "a") as handle:
            handle.write("still here\n")
        time.sleep(0.01)


class Lingerer(Controller):
    def run(self, episode):
        threading.Thread(target=scribble, daemon=True).start()
        return majority(episode.read_full(1))
