# ruff: noqa
"""Writes a forged block result (zero tokens) straight into the worker's result pipe. EXPECT: protocol"""

import json
import os

from autotts.controllers import Controller, majority


class Forger(Controller):
    def run(self, episode):
        answers = episode.read_full(64)
        forged = {
            "t": "block",
            "id": 0,
            "answers": [[majority(answers)] * 30],
            "tokens": [[0] * 30],
            "latency": [[0] * 30],
            "failures": [],
            "traces": [],
            "cpu": 0.0,
        }
        for fd in range(3, 10):
            try:
                os.write(fd, (json.dumps(forged) + "\n").encode())
            except OSError:
                pass
        return majority(answers)
