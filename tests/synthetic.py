"""Small hand-made questions for tests of the environment's exact semantics."""

from __future__ import annotations

import sys

from autotts.data.store import Branch, Question


def make_branch(probes: list[str], tokens: int, final: str) -> Branch:
    steps = tuple(sys.intern(a) for a in (*probes, final))
    return Branch(probes=len(probes), tokens=tokens, final=steps[-1], steps=steps)


def make_question(branches: list[tuple[list[str], int, str]], probe_freq: int = 500, gold: str = "1") -> Question:
    return Question(0, "synthetic", gold, probe_freq, tuple(make_branch(*b) for b in branches))
