"""Results do not depend on the executor: in-process, a process pool, or a (local) Ray cluster."""

from __future__ import annotations

import numpy as np
import pytest

from autotts import Cell, ControllerSpec, evaluate

CELLS = [
    Cell(ControllerSpec("cmc"), 0.5, "Qwen3-4B/aime24", 10),
    Cell(ControllerSpec("parallel-probe"), 0.5, "Qwen3-0.6B/hmmt25", 6),
    Cell(ControllerSpec("esc"), 1.0, "Qwen3-8B/aime25", 30),  # more than one block of seeds
]


@pytest.fixture(scope="module")
def serial():
    return evaluate(CELLS, executor="serial")


def same(a, b) -> bool:
    return all(
        np.array_equal(x.correct, y.correct)
        and np.array_equal(x.tokens, y.tokens)
        and np.array_equal(x.latency, y.latency)
        and x.answers == y.answers
        for x, y in zip(a, b, strict=True)
    )


def test_process_pool_equals_serial(serial):
    assert same(evaluate(CELLS, executor="process", jobs=2), serial)


@pytest.mark.slow
def test_ray_equals_serial(serial):
    ray = pytest.importorskip("ray", reason="Ray is part of the dev extras; install autotts[dev]")
    try:
        assert same(evaluate(CELLS, executor="ray"), serial)
    finally:
        ray.shutdown()
