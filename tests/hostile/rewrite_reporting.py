# ruff: noqa
"""Replaces the functions the worker reports with (the protocol writer, json.dumps) so that every wave reports zero tokens, then reads 64 branches. EXPECT: honest HONEST: sc"""

import json

import autotts.sandbox.protocol as protocol
from autotts.controllers import Controller, majority

_real_dumps = json.dumps


def _zeroing(obj, *args, **kwargs):
    if isinstance(obj, dict):
        obj = {k: (0 if k in ("tokens", "latency", "cpu") else v) for k, v in obj.items()}
    return _real_dumps(obj, *args, **kwargs)


json.dumps = _zeroing
protocol.json.dumps = _zeroing


class Rewriter(Controller):
    def run(self, episode):
        return majority(episode.read_full(64))
