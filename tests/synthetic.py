"""Small hand-made questions for tests of the environment's exact semantics."""

from __future__ import annotations

import sys

import numpy as np

from autotts.data.store import Branch, Question, Store


def make_branch(probes: list[str], tokens: int, final: str) -> Branch:
    steps = tuple(sys.intern(a) for a in (*probes, final))
    return Branch(probes=len(probes), tokens=tokens, final=steps[-1], steps=steps)


def make_question(branches: list[tuple[list[str], int, str]], probe_freq: int = 500, gold: str = "1") -> Question:
    return Question(0, "synthetic", gold, probe_freq, tuple(make_branch(*b) for b in branches))


def tiny_store(name: str = "synthetic/tiny", questions: int = 8, branches: int = 128, seed: int = 0) -> Store:
    """A small random store with the shape of a real one (probe answers that settle over the branch,
    finals that mostly but not always agree with the gold), for unit tests on a fresh clone."""
    rng = np.random.default_rng(seed)
    made = []
    for q in range(questions):
        gold = str(q + 2)
        wrong = [str(100 + q * 10 + k) for k in range(3)]
        skill = rng.uniform(0.3, 0.8)  # the share of branches that end on the gold answer
        pool = []
        for _ in range(branches):
            probes = int(rng.integers(1, 7))
            final = gold if rng.random() < skill else str(rng.choice(wrong))
            early = [("ERR" if rng.random() < 0.3 else str(rng.choice([*wrong, gold]))) for _ in range(probes)]
            settle = int(rng.integers(0, probes + 1))  # from this probe on the branch says its final answer
            steps = [final if i >= settle else early[i] for i in range(probes)]
            pool.append((steps, probes * 500 + int(rng.integers(1, 500)), final))
        made.append(Question(q, f"synthetic question {q}", gold, 500, tuple(make_branch(*b) for b in pool)))
    return Store(name, made, "tests/synthetic.py")
