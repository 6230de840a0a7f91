# ruff: noqa
"""Runs a shell command that writes a marker file. EXPECT: violation"""

import os

from autotts.controllers import Controller, majority


class Shell(Controller):
    def run(self, episode):
        os.system("touch {{MARKER}}")
        return majority(episode.read_full(1))
