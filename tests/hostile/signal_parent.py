# ruff: noqa
"""Tries to kill the processes that run it: its parent through a pidfd, then every process it may signal. EXPECT: error crash"""

import os
import signal

from autotts.controllers import Controller, majority


class Assassin(Controller):
    def run(self, episode):
        parent = os.getppid()
        fd = os.pidfd_open(parent if parent > 0 else 1)
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        os.kill(-1, signal.SIGKILL)
        return majority(episode.read_full(1))
