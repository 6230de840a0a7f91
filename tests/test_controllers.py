"""Built-in controllers: published configurations at β = 1, monotone budgets, registry, overrides."""

from __future__ import annotations

import pytest

from autotts import Cell, ControllerSpec, evaluate, registered
from autotts.controllers.base import get_controller_class

BUILT_INS = ("sc", "asc", "esc", "parallel-probe", "sac", "short-m", "short-3", "cmc")


def test_registry_has_every_built_in():
    assert set(BUILT_INS) <= set(registered())


@pytest.mark.parametrize(
    ("name", "published"),
    [
        ("sc", {"k": 64}),
        ("asc", {"max_samples": 64, "threshold": 0.95}),
        ("esc", {"max_samples": 64, "window": 8}),
        ("parallel-probe", {"chains": 64, "T": 40, "patience": 7, "warm_up": 15, "burst": 1, "max_steps": 100}),
        ("sac", {"branches": 64, "window": 14}),
        ("short-m", {"k": 64, "m": 1}),
    ],
)
def test_beta_one_is_the_published_configuration(name, published):
    assert get_controller_class(name)(1.0).params == published


def test_cmc_schedule_follows_the_published_formulas():
    p = get_controller_class("cmc")(0.5).params
    assert (p["n_init"], p["max_branches"], p["warm_up"], p["patience"], p["T_ema"]) == (5, 34, 6, 8, 5)
    assert p["alpha"] == pytest.approx(0.5) and p["threshold"] == pytest.approx(0.91)


@pytest.mark.parametrize("name", BUILT_INS)
def test_schedules_are_pure_and_budgets_grow_with_beta(name):
    cls = get_controller_class(name)
    assert cls.schedule(0.3) == cls.schedule(0.3)
    cells = [Cell(ControllerSpec(name), beta, "Qwen3-4B/aime24", 3) for beta in (0.0, 0.5, 1.0)]
    tokens = [r.mean_tokens for r in evaluate(cells, jobs=1)]
    assert tokens[0] <= tokens[1] * 1.02 and tokens[1] <= tokens[2] * 1.02, tokens


def test_short_m_returns_the_majority_of_the_first_finishers():
    result = evaluate([Cell(ControllerSpec("short-3"), 1.0, "Qwen3-8B/aime24", 5)], jobs=1, want_traces=True)[0]
    sc = evaluate([Cell(ControllerSpec("sc"), 1.0, "Qwen3-8B/aime24", 5)], jobs=1)[0]
    assert result.mean_tokens < sc.mean_tokens
    for record in result.traces:
        last = record["trace"][-1]
        assert last["action"] == "prune"  # the rest stop once three have finished
        assert 3 <= 64 - len(last["branches"]) < 64


def test_unknown_override_is_rejected():
    with pytest.raises(ValueError, match="unknown parameter"):
        get_controller_class("sc")(1.0, window=4)


def test_confidence_table_equals_the_beta_posterior():
    from scipy.stats import beta

    from autotts.controllers import confidence

    for top1, top2 in [(1, 0), (2, 0), (3, 1), (5, 2), (9, 4), (40, 30), (127, 1), (200, 3)]:
        assert confidence(top1, top2) == 1 - beta.cdf(0.5, top1 + 1, top2 + 1)
    assert confidence(0, 0) == 0.0
