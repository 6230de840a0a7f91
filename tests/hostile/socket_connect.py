# ruff: noqa
"""Connects to a listener on 127.0.0.1 (data exfiltration). EXPECT: error"""

import socket

from autotts.controllers import Controller, majority


class Caller(Controller):
    def run(self, episode):
        with socket.create_connection(("127.0.0.1", {{PORT}}), timeout=2) as conn:
            conn.sendall(b"hello from the sandbox")
        return majority(episode.read_full(1))
