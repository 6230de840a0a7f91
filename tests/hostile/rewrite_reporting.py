# ruff: noqa
"""Replaces the function the worker reports with (the protocol writer) so that every message says zero tokens and zero latency, then reads 64 branches. EXPECT: honest HONEST: sc"""

import autotts.sandbox.protocol as protocol
import autotts.sandbox.runner as runner
from autotts.controllers import Controller, majority

_real_write = protocol.write_frame


def _zeroing(stream, header, arrays=None):
    header = {k: (0 if k in ("tokens", "latency", "cpu", "charges") else v) for k, v in header.items()}
    return _real_write(stream, header, arrays)


protocol.write_frame = _zeroing
runner.write_frame = _zeroing


class Rewriter(Controller):
    def run(self, episode):
        episode.tokens = 0
        answer = majority(episode.read_full(64))
        episode.latency_tokens = 0
        return answer
