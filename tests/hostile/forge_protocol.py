# ruff: noqa
"""Writes its own well-formed protocol frames on the channel to the environment: every episode done with a guessed answer, without paying. EXPECT: violation protocol"""

import os

import numpy as np

from autotts.controllers import Controller
from autotts.sandbox.protocol import write_frame

NO_WAVES = {
    "episode": np.zeros(0, dtype=np.int64),
    "kind": np.zeros(0, dtype=np.int8),
    "size": np.zeros(0, dtype=np.int64),
    "ids": np.zeros(0, dtype=np.int64),
    "steps": np.zeros(0, dtype=np.int64),
}


class Impostor(Controller):
    def run(self, episode):
        ops = [[eid, "done", "204", None, None] for eid in range(90)]
        for fd in range(3, 8):
            try:
                write_frame(os.fdopen(os.dup(fd), "wb"), {"t": "act", "ops": ops}, NO_WAVES)
            except OSError:
                pass
        return "204"
