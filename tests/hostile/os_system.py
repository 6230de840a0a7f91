# ruff: noqa
"""Runs a shell command that writes a marker file. EXPECT: honest HONEST: sc k=1"""

import os

from autotts.controllers import Controller, majority


class Shell(Controller):
    def run(self, episode):
        os.system("touch {{MARKER}}")
        return majority(episode.read_full(1))
