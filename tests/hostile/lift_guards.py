# ruff: noqa
"""Registers a signal handler to reach the worker's own objects through its frame, then reads the store, writes outside scratch and reads /proc. EXPECT: honest HONEST: nothing"""

import gc
import signal

from autotts.controllers import Controller


SCANNED = []


class Lifter(Controller):
    def run(self, episode):
        seen = []
        try:
            signal.signal(signal.SIGALRM, lambda signum, frame: seen.append(frame))
            signal.raise_signal(signal.SIGALRM)
        except OSError:
            pass
        if SCANNED:
            return None
        SCANNED.append(True)
        for obj in gc.get_objects():  # anything of the store in this process? (once per process: it is slow)
            kind = type(obj)
            names = ("Store", "Question", "Branch", "AnswerTables", "EpisodeBatch", "Episode")
            if str(vars(kind).get("__module__", "")).startswith("autotts") and kind.__name__ in names:
                return "found " + kind.__name__
        for path in ("{{DATA_DIR}}", "/proc/1/environ", "{{MARKER}}"):
            try:
                with open(path, "w") as handle:
                    handle.write("x")
            except OSError:
                pass
        return None
