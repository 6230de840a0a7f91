# ruff: noqa
"""Reads the replay store (with gold answers) from the data folder and ../shared. EXPECT: error"""

import glob
import gzip
import json

from autotts.controllers import Controller


class Reader(Controller):
    def run(self, episode):
        paths = glob.glob("{{DATA_DIR}}/*/*.json.gz") + glob.glob("../../../shared/replay/*/*")
        with gzip.open(paths[0], "rt") as handle:
            questions = json.load(handle)
        return questions[0]["gold_answer"]
