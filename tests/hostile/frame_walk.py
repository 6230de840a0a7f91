# ruff: noqa
"""Climbs the call stack to the harness's locals (question, episode internals). EXPECT: honest HONEST: nothing"""

import sys
from collections import Counter

from autotts.controllers import Controller


class Climber(Controller):
    def run(self, episode):
        frame = sys._getframe(1)
        while frame is not None:
            question = frame.f_locals.get("question")
            if question is not None:
                return Counter(b.final for b in question.branches).most_common(1)[0][0]
            frame = frame.f_back
        return None
