# ruff: noqa
"""Writes its own protocol frames on the channel to the environment: every episode done with a guessed answer, without paying. EXPECT: violation protocol"""

import os

from autotts.controllers import Controller
from autotts.sandbox.protocol import write_frame


class Impostor(Controller):
    def run(self, episode):
        ops = [[eid, "done", "204", None, None] for eid in range(90)]
        for fd in range(3, 8):
            try:
                write_frame(os.fdopen(os.dup(fd), "wb"), {"t": "act", "ops": ops})
            except OSError:
                pass
        return "204"
