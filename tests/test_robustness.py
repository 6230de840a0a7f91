"""``autotts robustness``: verdicts for evo, CMC and a deliberately fragile controller, SC@64's figures
under every transform checked against an independent computation, strata, the transfer matrix, the
command and its errors."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from autotts.cli import app
from autotts.data import load_store
from autotts.data.lookup import registered_stores
from autotts.data.transforms import base_name
from autotts.report.runs import ReportInputError
from autotts.robustness import analyse, default_conditions, resolve_entry, select_conditions
from autotts.robustness.analysis import Robustness
from autotts.robustness.html import render
from test_report_support import run_folder

REPO = Path(__file__).resolve().parents[1]
FRAGILE = str(REPO / "tests" / "candidates" / "fragile_delta.py")
STORES = ["Qwen3-4B/aime25", "Qwen3-4B/hmmt25"]
SEEDS = 3
BETAS = [0.5, 1.0]


@pytest.fixture(scope="module")
def report() -> Robustness:
    """The fragile controller (in-process: it is our own test file) against evo and CMC, every default
    condition, a small grid."""
    return analyse(
        resolve_entry(FRAGILE, trusted=True),
        [resolve_entry("evo"), resolve_entry("cmc")],
        STORES,
        default_conditions(subset_replicates=2),
        betas=BETAS,
        seeds=SEEDS,
        jobs=1,
        trusted=True,
    )


def _cell(r: Robustness, controller: str, condition: str):
    (v,) = [v for v in r.verdicts if v.controller == controller and v.condition == condition]
    return v


@pytest.mark.slow
def test_the_fragile_controller_is_flagged_and_evo_and_cmc_hold_where_it_breaks(report: Robustness) -> None:
    fragile = report.policy.label
    assert fragile == "fragile_delta"
    broken = _cell(report, fragile, "delta1500")
    assert broken.flagged and broken.lost_saving
    assert broken.saving.estimate < 0.5 * broken.base_saving
    assert "loses more than half its saving under delta1500" in broken.reason
    hmmt = _cell(report, fragile, "benchmark: hmmt25")  # votes only on integers; hmmt25 answers are not all integers
    assert hmmt.flagged and hmmt.worse and hmmt.delta_accuracy.high < 0
    doc = report.to_json()
    assert "delta1500" in doc["policy_flagged"] and "benchmark: hmmt25" in doc["policy_flagged"]
    assert doc["flagged"][0]["controller"] == fragile  # the policy's flagged cells come first
    for label in ("evo", "CMC"):
        for condition in ("delta1000", "delta1500", "pool64", "err10", "shorter"):
            v = _cell(report, label, condition)
            assert not v.flagged, v.reason
            assert v.saving.estimate > 0.5 * v.base_saving


def _sc64(store, seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """SC@64 per question computed straight from a store's branches: the published branch order,
    the first 64 finals, majority with ties to the first seen, scored by exact match."""
    acc, tok = [], []
    for q in store.questions:
        pool = len(q.branches)
        right = spent = 0
        for seed in range(seeds):
            order = list(range(pool))
            random.Random(seed).shuffle(order)
            read = [q.branches[i] for i in order[: min(64, pool)]]
            counts: dict[str, int] = {}
            for b in read:
                counts[b.final] = counts.get(b.final, 0) + 1
            top = max(counts.values())
            winner = next(a for a in counts if counts[a] == top)  # dicts keep first-seen order
            right += winner == q.gold
            spent += sum(b.tokens for b in read)
        acc.append(100.0 * right / seeds)
        tok.append(spent / seeds)
    return np.array(acc), np.array(tok)


@pytest.mark.slow
def test_sc64_figures_under_every_transform_match_an_independent_computation(report: Robustness) -> None:
    doc = report.to_json()
    conditions = {c.name: c for c in default_conditions(subset_replicates=2)}
    checked = 0
    for entry in doc["conditions"]:
        condition = conditions[entry["name"]]
        per_replicate = []
        for r, names in enumerate(entry["stores"]):
            parts = []
            for name in names:
                original = load_store(base_name(name))
                store = original if condition.transform is None else condition.transform(original, r)
                parts.append(_sc64(store, SEEDS))
            per_replicate.append((np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])))
        acc = np.mean([p[0] for p in per_replicate], axis=0)
        tok = np.mean([p[1] for p in per_replicate], axis=0)
        cell = next(c for c in doc["cells"] if c["condition"] == entry["name"] and c["controller"] == "evo")
        assert cell["questions"] == acc.size
        assert cell["sc64_accuracy"] == pytest.approx(acc.mean(), abs=1e-3), entry["name"]
        assert cell["sc64_tokens"] == pytest.approx(tok.mean(), abs=0.1), entry["name"]
        checked += 1
    assert checked == len(conditions)
    # the shifts really change SC@64: fewer branches to vote with, split forms, longer branches
    by_name = {c["condition"]: c for c in doc["cells"] if c["controller"] == "evo"}
    assert by_name["delta1500"]["sc64_tokens"] == by_name["base"]["sc64_tokens"]  # full reads ignore Δ
    assert by_name["longer"]["sc64_tokens"] > 1.4 * by_name["base"]["sc64_tokens"]
    assert by_name["forms25"]["sc64_accuracy"] < by_name["base"]["sc64_accuracy"]
    assert registered_stores() == []  # every transformed store was unregistered after use


@pytest.mark.slow
def test_figures_are_paired_differences_from_the_unit_vectors(report: Robustness) -> None:
    base = report.results[0]
    for label in report.labels:
        beta = report.operating[label]
        v = _cell(report, label, "base")
        own, ref = base.families[label], base.families["SC@64"]
        assert v.delta_accuracy.estimate == pytest.approx(float(np.mean(own.accuracy[beta] - ref.accuracy[1.0])))
        assert v.saving.estimate == pytest.approx(100 * (1 - own.tokens[beta].sum() / ref.tokens[1.0].sum()))
        assert v.delta_accuracy.low <= v.delta_accuracy.estimate <= v.delta_accuracy.high
        assert v.saving.low <= v.saving.estimate <= v.saving.high
        # the operating β: the smallest that reaches SC@64's accuracy, else the most accurate
        reaching = [b for b in BETAS if own.accuracy[b].mean() >= ref.accuracy[1.0].mean() - 1e-9]
        assert beta == (reaching[0] if reaching else max(BETAS, key=lambda b: own.accuracy[b].mean()))


@pytest.mark.slow
def test_strata_follow_the_pool_difficulty_of_each_question(report: Robustness) -> None:
    tiers = {}
    for name in STORES:
        for q in load_store(name).questions:
            rate = sum(b.final == q.gold for b in q.branches) / len(q.branches)
            tiers[(name, q.index)] = (
                "easy" if rate >= 0.7 else "medium" if rate >= 0.3 else "hard" if rate > 0 else "unsolved"
            )
    base = report.results[0]
    sc_acc = base.families["SC@64"].accuracy[1.0]
    for tier in ("easy", "medium", "hard", "unsolved"):
        mask = np.array([tiers[u] == tier for u in base.units])
        if not mask.any():
            continue
        v = _cell(report, "evo", f"difficulty: {tier}")
        assert v.questions == int(mask.sum())
        assert v.sc64_accuracy == pytest.approx(sc_acc[mask].mean())
    assert _cell(report, "evo", "difficulty: unsolved").sc64_accuracy == 0.0
    assert _cell(report, "evo", "model: Qwen3-4B").questions == 60
    assert _cell(report, "evo", "benchmark: aime25").questions == 30


@pytest.mark.slow
def test_task_mix_reuse_equals_evaluating_the_transformed_stores(report: Robustness) -> None:
    conditions = select_conditions(default_conditions(), ["hard-heavy"])
    real = [dataclasses.replace(c, reuses_base=False) for c in conditions]
    fresh = analyse(resolve_entry("cmc"), [], STORES, real, betas=[1.0], seeds=SEEDS, jobs=1)
    mixed = fresh.results[1]
    reused = next(r for r in report.results if r.condition.name == "hard-heavy")
    assert mixed.units == reused.units and len(mixed.units) > 60  # questions repeated
    np.testing.assert_allclose(mixed.families["CMC"].accuracy[1.0], reused.families["CMC"].accuracy[1.0])
    np.testing.assert_allclose(mixed.families["CMC"].tokens[1.0], reused.families["CMC"].tokens[1.0])
    np.testing.assert_allclose(mixed.families["SC@64"].tokens[1.0], reused.families["SC@64"].tokens[1.0])


@pytest.mark.slow
def test_json_schema_and_html_state_the_failures_in_plain_words(report: Robustness, tmp_path: Path) -> None:
    path = report.write_json(tmp_path / "robustness.json")
    doc = json.loads(path.read_text())
    assert doc["schema"] == "autotts.robustness/1"
    for cell in doc["cells"]:
        assert {"condition", "controller", "beta", "saving", "delta_accuracy", "flagged", "reason"} <= set(cell)
        assert {"estimate", "low", "high"} == set(cell["saving"]) == set(cell["delta_accuracy"])
    assert {c["name"] for c in doc["conditions"]} >= {"base", "delta1000", "pool64", "err10", "forms25", "longer"}
    assert len(doc["curves"]) == len(doc["conditions"]) * 3 * len(BETAS)
    page = render(report, tmp_path).read_text()
    assert "fragile_delta (at β = " in page and "fails under" in page
    heat_map = re.search(r'<h2 id="s\d+">Heat map', page).start()
    assert re.search(r'<h2 id="s\d+">Flagged cells', page).start() < heat_map
    assert page.index("loses more than half its saving under delta1500") < heat_map
    assert "<script" not in page and "://" not in page


@pytest.mark.slow
def test_policy_references(tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.raises(ReportInputError, match=r"registry references need `autotts policy` \(not available\)"):
        resolve_entry("my-policy@1.2.0")
    with pytest.raises(ReportInputError, match="unknown controller"):
        resolve_entry("no-such-controller")
    with pytest.raises(ReportInputError, match="no such controller file"):
        resolve_entry("missing.py")
    broken = tmp_path_factory.mktemp("broken") / "broken.py"
    broken.write_text("import no_such_module\n")
    with pytest.raises(ReportInputError, match="No module named 'no_such_module'"):
        resolve_entry(str(broken), trusted=True)  # in-process: checked at once
    assert resolve_entry(str(broken)).kind == "file"  # sandboxed: never imported here
    run = run_folder(tmp_path_factory)
    entry = resolve_entry(str(run))
    assert entry.kind == "run" and entry.spec.ref.endswith("rounds/001/candidate.py")


@pytest.mark.slow
def test_transfer_matrix_of_a_discovery_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    run = run_folder(tmp_path_factory)  # discovered on Qwen3-4B/aime24
    r = analyse(
        resolve_entry("cmc"),
        [],
        ["Qwen3-4B/aime24", "Qwen3-0.6B/aime25"],
        select_conditions(default_conditions(), ["delta1000"]),
        betas=[0.5, 1.0],
        seeds=2,
        jobs=1,
        transfer_runs=[run],
    )
    cells = {c["target"]: c for c in r.transfer}
    assert set(cells) == {"model: Qwen3-4B", "model: Qwen3-0.6B", "benchmark: aime24", "benchmark: aime25"}
    assert cells["model: Qwen3-4B"]["in_sample"] and not cells["model: Qwen3-0.6B"]["in_sample"]
    assert r.transfer_sources[0]["discovered_on"] == ["Qwen3-4B/aime24"]
    assert all(c["source"].endswith("(Qwen3-4B/aime24)") for c in r.transfer)
    assert cells["benchmark: aime25"]["target_stores"] == ["Qwen3-0.6B/aime25"]


@pytest.mark.slow
def test_command_end_to_end_with_a_sandboxed_file(tmp_path: Path) -> None:
    out = tmp_path / "rob"
    result = CliRunner().invoke(
        app,
        ["robustness", FRAGILE, "--against", "cmc", "--store", STORES[0], "--conditions", "delta1500"]
        + ["--betas", "1", "--seeds", "2", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "robustness.json").read_text())
    assert doc["policy"]["kind"] == "file" and [c["name"] for c in doc["conditions"]] == ["base", "delta1500"]
    assert "delta1500" in doc["policy_flagged"]
    assert "robustness: " in result.output and "blocks" in result.output  # plain progress lines off a TTY
    assert "fails under" in result.output
    assert (out / "robustness.html").is_file()


@pytest.mark.slow
def test_a_controller_the_sandbox_stops_is_an_error_not_a_figure(tmp_path: Path) -> None:
    bad = tmp_path / "sneaky.py"
    bad.write_text(
        "import os\nfrom autotts.controllers import Controller\n\n\nclass Sneaky(Controller):\n"
        "    def run(self, episode):\n        return os.getcwd()\n"
    )
    result = CliRunner().invoke(
        app,
        ["robustness", str(bad), "--store", STORES[0], "--conditions", "delta1000", "--betas", "1"]
        + ["--seeds", "1", "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 1
    assert "the sandbox stopped sneaky" in result.output and "never revealed" in result.output
    assert not (tmp_path / "out" / "robustness.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evo", "--conditions", "nope"], "unknown condition"),
        (["evo", "--store", "Nope/x"], "unknown store"),
        (["evo", "--betas", "2"], "--betas takes numbers in [0, 1]"),
        (["x@1.0.0"], "registry references need `autotts policy` (not available)"),
        (["evo", "--against", "sc,bogus"], "unknown controller"),
    ],
)
def test_command_rejects_bad_input(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["robustness", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_any_store_file_works_and_conditions_that_cannot_apply_say_why(tmp_path: Path) -> None:
    """A store collected elsewhere (a file, probed every 1000 tokens): Δ = 1500 cannot be reached by
    merging, so that condition skips the store and says why; Δ = 1000 leaves it as it is."""
    source = load_store("Qwen3-0.6B/aime25")
    raw = [
        {
            "question": q.text,
            "gold_answer": q.gold,
            "probe_freq": 1000,
            "each_branch": [[list(b.steps[1 : b.probes : 2]), b.tokens, b.final] for b in q.branches],
        }
        for q in source.questions[:8]
    ]
    path = tmp_path / "my-model" / "my-bench.json"
    path.parent.mkdir()
    path.write_text(json.dumps(raw))
    r = analyse(
        resolve_entry("cmc"),
        [],
        [str(path)],
        select_conditions(default_conditions(), ["delta1000", "delta1500", "err10"]),
        betas=[1.0],
        seeds=2,
        jobs=1,
    )
    doc = r.to_json()
    by_name = {c["name"]: c for c in doc["conditions"]}
    assert "not a multiple" in by_name["delta1500"]["skipped"][str(path)]
    assert by_name["delta1500"]["questions"] == 0 and by_name["err10"]["questions"] == 8
    cells = {c["condition"]: c for c in doc["cells"]}
    assert "delta1500" not in cells
    assert cells["delta1000"]["tokens"] == cells["base"]["tokens"]  # merging by 1 changes nothing
    assert cells["model: my-model"]["questions"] == 8


@pytest.mark.slow
def test_files_go_through_the_sandbox_and_built_ins_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from autotts.sandbox import seam as run_module

    seen: list[str] = []
    real = run_module.evaluate_sandboxed

    def spy(cells, **kwargs):
        seen.extend(c.controller.ref for c in cells)
        return real(cells, **kwargs)

    monkeypatch.setattr(run_module, "evaluate_sandboxed", spy)
    r = analyse(
        resolve_entry(FRAGILE),
        [resolve_entry("cmc")],
        STORES[:1],
        select_conditions(default_conditions(), ["delta1500"]),
        betas=[1.0],
        seeds=2,
        jobs=1,
    )
    assert seen and set(seen) == {FRAGILE}  # both conditions, the file only
    assert len(seen) == 2
    trusted = analyse(
        resolve_entry(FRAGILE, trusted=True),
        [],
        STORES[:1],
        select_conditions(default_conditions(), ["delta1500"]),
        betas=[1.0],
        seeds=2,
        jobs=1,
        trusted=True,
    )
    assert len(seen) == 2  # trusted: in-process
    # the sandbox and the in-process run give the same figures
    for a, b in zip(r.verdicts, trusted.verdicts, strict=False):
        if a.controller == b.controller == "fragile_delta":
            assert (a.condition, a.accuracy, a.tokens) == (b.condition, b.accuracy, b.tokens)
