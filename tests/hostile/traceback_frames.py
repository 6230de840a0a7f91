# ruff: noqa
"""Reaches frames through an exception's traceback instead of sys. EXPECT: error"""

from collections import Counter

from autotts.controllers import Controller


class Tracer(Controller):
    def run(self, episode):
        try:
            episode.advance([999])
        except Exception as exc:
            tb = exc.__traceback__
            while tb.tb_next is not None:
                tb = tb.tb_next
            pool = tb.tb_frame.f_locals["self"]._pool
            return Counter(b.final for b in pool).most_common(1)[0][0]
        return None
