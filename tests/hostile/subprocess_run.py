# ruff: noqa
"""Starts a process through subprocess. EXPECT: error"""

import subprocess

from autotts.controllers import Controller, majority


class Spawner(Controller):
    def run(self, episode):
        subprocess.run(["touch", "{{MARKER}}"], check=False)
        return majority(episode.read_full(1))
