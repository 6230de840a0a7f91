# ruff: noqa
"""Starts a process through the one primitive that raises no audit event, then reloads it. EXPECT: error"""

import importlib
import multiprocessing.util
import _posixsubprocess

from autotts.controllers import Controller, majority


class Sneaky(Controller):
    def run(self, episode):
        try:
            multiprocessing.util.spawnv_passfds(b"/usr/bin/touch", [b"/usr/bin/touch", b"{{MARKER}}"], [])
        except PermissionError:
            importlib.reload(_posixsubprocess)
            multiprocessing.util.spawnv_passfds(b"/usr/bin/touch", [b"/usr/bin/touch", b"{{MARKER}}"], [])
        return majority(episode.read_full(1))
