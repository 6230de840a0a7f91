"""Store transforms: each one's defining property, on the real stores, and in-memory registration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autotts.data import ERR, load_store, register_store, registered_stores, unregister_store
from autotts.data import transforms as T
from autotts.data.store import Store
from autotts.env.batch import EpisodeBatch
from autotts.evaluation import Cell, ControllerSpec, evaluate
from autotts.evaluation.runner import episode_differences

STORE = "Qwen3-4B/aime25"


@pytest.fixture(scope="module")
def store() -> Store:
    return load_store(STORE)


def _snapshot(store: Store) -> list:
    return [(q.index, q.gold, q.probe_freq, [(b.steps, b.tokens) for b in q.branches]) for q in store.questions]


@pytest.mark.parametrize("factor", [2, 3])
def test_merged_intervals_conserve_tokens_and_match_the_original_at_merged_boundaries(
    store: Store, factor: int
) -> None:
    before = _snapshot(store)
    merged = T.merge_intervals(store, 500 * factor)
    assert merged.name == f"{STORE}~delta{500 * factor}"
    assert _snapshot(store) == before  # the input is untouched
    assert len(merged.questions) == len(store.questions)
    checked = 0
    for old_q, new_q in zip(store.questions, merged.questions, strict=True):
        assert new_q.probe_freq == 500 * factor and new_q.index == old_q.index and new_q.gold == old_q.gold
        for old, new in zip(old_q.branches, new_q.branches, strict=True):
            assert new.tokens == old.tokens and new.final == old.final
            assert new.probes == old.probes // factor
            for j in range(1, new.probes + 1):  # new probe j is shown at j·factor·500 tokens: old probe j·factor
                assert new.steps[j - 1] == old.steps[j * factor - 1]
                checked += 1
            # reading a branch to its end never costs more than before, and at least its tokens
            assert old.tokens <= max(new.probes * new_q.probe_freq, new.tokens) <= max(old.probes * 500, old.tokens)
    assert checked > 10_000
    # a whole read costs the same: total tokens of the pool are conserved
    assert sum(b.tokens for q in merged.questions for b in q.branches) == sum(
        b.tokens for q in store.questions for b in q.branches
    )


def test_merging_needs_a_multiple_of_delta(store: Store) -> None:
    with pytest.raises(T.TransformError, match="not a multiple"):
        T.merge_intervals(store, 750)
    with pytest.raises(T.TransformError, match="positive integer"):
        T.merge_intervals(store, 0)
    assert T.merge_intervals(store, 500).questions[0].branches[0].steps == store.questions[0].branches[0].steps


def test_pool_subsets_are_drawn_without_replacement_and_seeded(store: Store) -> None:
    a = T.subsample_pool(store, 64, seed=7)
    again = T.subsample_pool(store, 64, seed=7)
    other = T.subsample_pool(store, 64, seed=8)
    picks = []
    for old_q, q in zip(store.questions, a.questions, strict=True):
        position = {id(b): i for i, b in enumerate(old_q.branches)}
        chosen = [position[id(b)] for b in q.branches]  # the kept branches are the original objects
        assert len(chosen) == 64 == len(set(chosen))  # without replacement
        assert chosen == sorted(chosen)  # original relative order kept
        picks.append(chosen)
    again_picks = [[b.steps for b in q.branches] for q in again.questions]
    assert again_picks == [[b.steps for b in q.branches] for q in a.questions]  # same seed, same draw
    assert [[id(b) for b in q.branches] for q in other.questions] != [[id(b) for b in q.branches] for q in a.questions]
    assert len({tuple(p) for p in picks}) == len(picks)  # each question draws its own subset
    with pytest.raises(T.TransformError, match="size"):
        T.subsample_pool(store, 129, seed=0)


def test_probe_errors_replace_only_probe_answers_at_the_given_rate(store: Store) -> None:
    noisy = T.probe_errors(store, 0.1, seed=3)
    replaced = total = 0
    for old_q, q in zip(store.questions, noisy.questions, strict=True):
        for old, new in zip(old_q.branches, q.branches, strict=True):
            assert new.final == old.final and new.tokens == old.tokens and new.probes == old.probes
            for a, b in zip(old.steps[: old.probes], new.steps[: new.probes], strict=True):
                assert b in (a, ERR)
                replaced += b != a
                total += a != ERR
    assert 0.08 < replaced / total < 0.12
    assert T.probe_errors(store, 0.1, seed=3).questions[5].branches[9].steps == noisy.questions[5].branches[9].steps
    everything = T.probe_errors(store, 1.0, seed=0)
    assert all(set(b.steps[: b.probes]) <= {ERR} for q in everything.questions for b in q.branches)
    with pytest.raises(T.TransformError):
        T.probe_errors(store, 1.5, seed=0)


def test_alternate_forms_are_equivalent_and_distinct() -> None:
    assert T.alternate_form("12") == "12.0"
    assert T.alternate_form("1/2") == "0.5"
    assert T.alternate_form("-3/4") == "-0.75"
    assert T.alternate_form("1/3") == "\\boxed{1/3}"
    assert T.alternate_form(ERR) == ERR
    answers = {
        a
        for name in ("Qwen3-4B/aime25", "Qwen3-4B/hmmt25")
        for q in load_store(name).questions
        for b in q.branches
        for a in b.steps
    } - {ERR}
    forms = {T.alternate_form(a) for a in answers}
    assert len(forms) == len(answers)  # never merges two answers
    assert not any(T.alternate_form(a) == a for a in answers)


def test_split_forms_rewrite_whole_branches(store: Store) -> None:
    split = T.split_forms(store, 0.25, seed=1)
    flipped = total = 0
    for old_q, q in zip(store.questions, split.questions, strict=True):
        assert q.gold == old_q.gold  # graded against the original spelling
        for old, new in zip(old_q.branches, q.branches, strict=True):
            total += 1
            if new.steps == old.steps:
                continue
            flipped += 1
            assert new.steps == tuple(T.alternate_form(a) for a in old.steps)
            assert new.tokens == old.tokens
    assert 0.2 < flipped / total < 0.3


@pytest.mark.parametrize("factor", [1.5, 2 / 3])
def test_scaled_lengths_stretch_tokens_and_the_probe_timeline(store: Store, factor: float) -> None:
    scaled = T.scale_lengths(store, factor)
    for old_q, q in zip(store.questions, scaled.questions, strict=True):
        for old, new in zip(old_q.branches, q.branches, strict=True):
            assert new.tokens == round(old.tokens * factor)
            assert new.probes == math.floor(old.probes * factor + 1e-9)
            assert new.final == old.final
            # probe i of the new branch: what the old one showed at the same point of its reasoning
            for i in range(1, new.probes + 1):
                k = min(old.probes, max(1, math.floor(i / factor + 1e-9)))
                assert new.steps[i - 1] == old.steps[k - 1]
    ratio = np.mean([b.tokens for q in scaled.questions for b in q.branches]) / np.mean(
        [b.tokens for q in store.questions for b in q.branches]
    )
    assert ratio == pytest.approx(factor, rel=1e-3)
    with pytest.raises(T.TransformError):
        T.scale_lengths(store, -1)


def test_task_mix_selects_and_reweights_by_pool_pass_rate(store: Store) -> None:
    rates = {q.index: sum(b.final == q.gold for b in q.branches) / len(q.branches) for q in store.questions}
    hard = T.select_questions(store, ["hard", "unsolved"], "hard-only")
    easy = T.select_questions(store, ["easy"], "easy-only")
    assert {q.index for q in hard.questions} == {i for i, r in rates.items() if r < 0.3}
    assert {q.index for q in easy.questions} == {i for i, r in rates.items() if r >= 0.7}
    mix = T.reweight_questions(store, {"hard": 3, "unsolved": 3}, "hard-heavy")
    counts = {i: sum(q.index == i for q in mix.questions) for i in rates}
    assert counts == {i: 3 if r < 0.3 else 1 for i, r in rates.items()}
    with pytest.raises(T.TransformError, match="tiers"):
        T.select_questions(store, ["tricky"])
    with pytest.raises(T.TransformError, match="weight 0"):
        T.reweight_questions(store, dict.fromkeys(T.TIERS, 0), "none")


def test_registered_stores_load_by_name_and_cannot_shadow_published_ones(store: Store) -> None:
    merged = T.merge_intervals(store, 1000)
    register_store(merged.name, merged)
    try:
        assert load_store(merged.name) is merged and merged.name in registered_stores()
    finally:
        unregister_store(merged.name)
    assert merged.name not in registered_stores()
    with pytest.raises(ValueError, match="published"):
        register_store(STORE, merged)
    with pytest.raises(TypeError):
        register_store("x/y", "not a store")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        lambda s: T.merge_intervals(s, 1500),
        lambda s: T.subsample_pool(s, 64, seed=0),
        lambda s: T.scale_lengths(s, 1.5),
        lambda s: T.split_forms(s, 0.25, seed=0),
    ],
    ids=["delta1500", "pool64", "len150", "forms25"],
)
def test_transformed_stores_play_the_same_in_episodes_and_lockstep_batches(store: Store, make) -> None:
    shifted = make(store)
    register_store(shifted.name, shifted)
    try:
        cells = [Cell(ControllerSpec(name), 0.5, shifted.name, 2) for name in ("cmc", "parallel-probe", "esc")]
        lockstep = evaluate(cells, jobs=1)
        one_by_one = evaluate(cells, jobs=1, want_traces=True)  # traces force run()
        for a, b in zip(one_by_one, lockstep, strict=True):
            assert episode_differences(a, b) == []
        batch = EpisodeBatch(shifted.questions[:2], range(2))
        assert batch.probe_freq == shifted.questions[0].probe_freq and batch.width == min(
            64, len(shifted.questions[0].branches)
        )
    finally:
        unregister_store(shifted.name)


def test_sc64_under_merged_intervals_is_unchanged(store: Store) -> None:
    """Full reads do not see Δ: SC@64 must cost and answer exactly as on the original store."""
    merged = T.merge_intervals(store, 1500)
    register_store(merged.name, merged)
    try:
        a, b = evaluate([Cell(ControllerSpec("sc"), 1.0, n, 3) for n in (STORE, merged.name)], jobs=1)
        assert a.answers == b.answers and (a.tokens == b.tokens).all()
    finally:
        unregister_store(merged.name)


def test_layering_transforms_stay_in_data_and_nothing_below_imports_robustness() -> None:
    """data → env → controllers → evaluation → discovery → report → robustness: a lower layer never
    imports a higher one."""
    import ast
    from pathlib import Path

    src = Path(T.__file__).resolve().parents[1]
    order = ["data", "env", "controllers", "evaluation", "discovery", "report", "robustness"]
    for layer in order:
        for path in (src / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level >= 2 and node.module:
                    target = node.module.split(".")[0]
                    if target == "robustness" or (layer in ("data", "robustness") and target in order):
                        assert order.index(target) <= order.index(layer), f"{path}: imports {target}"
