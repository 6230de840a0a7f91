"""The sandbox: hostile candidates are contained, honest ones score exactly as in-process."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from autotts.cli import app
from autotts.data import data_dir
from autotts.evaluation import Cell, ControllerSpec, evaluate, grid
from autotts.evaluation.sandbox import (
    STOPPING_KINDS,
    SandboxError,
    SandboxLimits,
    SandboxPool,
    SandboxViolation,
    evaluate_sandboxed,
    raise_for_stops,
    stopped,
)

HERE = Path(__file__).parent
HOSTILE = sorted((HERE / "hostile").glob("*.py"))
CANDIDATES = HERE / "candidates"
STORE = "Qwen3-4B/aime24"
SEEDS = 3
LIMITS = SandboxLimits(cpu_seconds=60, wall_seconds=4, memory_mb=1024)


def expected_outcomes(path: Path) -> set[str]:
    match = re.search(r"EXPECT:([a-z ]+)", path.read_text())
    assert match, f"{path.name} lacks an EXPECT: line"
    return set(match.group(1).split())


@pytest.fixture(scope="module")
def listener():
    """A real TCP listener on 127.0.0.1 that hostile code would try to reach."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(0.2)
        yield server


@pytest.fixture(scope="module")
def arena(tmp_path_factory, listener) -> dict:
    """The hostile corpus filled in with real targets, an outside folder to watch, a scratch folder."""
    root = tmp_path_factory.mktemp("arena")
    outside, files, scratch = root / "outside", root / "files", root / "outside" / "scratch"
    outside.mkdir()
    files.mkdir()
    (outside / "precious.txt").write_text("do not touch")
    port = listener.getsockname()[1]
    marker = outside / "marker"
    for path in HOSTILE:
        text = path.read_text()
        text = text.replace("{{PORT}}", str(port)).replace("{{MARKER}}", str(marker))
        text = text.replace("{{DATA_DIR}}", str(data_dir()))
        (files / path.name).write_text(text)
    return {"root": root, "outside": outside, "files": files, "scratch": scratch, "marker": marker}


def tree_state(folder: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    state = {}
    for path in folder.rglob("*"):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        stat = path.lstat()
        state[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return state


@pytest.fixture(scope="module")
def runtime_results(arena, listener) -> dict:
    """Every hostile file, with the static screen off, next to honest SC@64, in one sandboxed run."""
    watched = {"outside": tree_state(arena["outside"], skip=arena["scratch"]), "data": tree_state(data_dir())}
    refs = [str(arena["files"] / p.name) for p in HOSTILE]
    cells = grid([ControllerSpec(r) for r in refs] + [ControllerSpec("sc")], [1.0], [STORE], SEEDS)
    results = evaluate_sandboxed(cells, jobs=2, limits=LIMITS, scratch=arena["scratch"], screen=False)
    connections = 0
    while True:
        try:
            conn, _ = listener.accept()
            conn.close()
            connections += 1
        except OSError:
            break
    return {
        "by_name": {Path(r.controller).name: r for r in results},
        "honest": results[-1],
        "watched_before": watched,
        "connections": connections,
    }


# ---------------------------------------------------------------- the full sandbox (screen on)


BEHAVIOURAL = {  # nothing to see statically
    "infinite_loop.py",
    "memory_bomb.py",
    "non_string.py",
    "raises.py",
    "batch_write_costs.py",
}


def test_full_sandbox_rejects_or_contains_every_hostile_file(arena):
    refs = [str(arena["files"] / p.name) for p in HOSTILE]
    cells = grid([ControllerSpec(r) for r in refs] + [ControllerSpec("sc")], [1.0], [STORE], SEEDS)
    results = evaluate_sandboxed(cells, jobs=2, limits=LIMITS, scratch=arena["root"] / "screened")
    honest = results.pop()
    for path, result in zip(HOSTILE, results, strict=True):
        failure = stopped([result]) or result.failures[0]
        if path.name in BEHAVIOURAL:
            assert failure.kind in expected_outcomes(path), f"{path.name}: {failure}"
        else:
            assert failure.kind == "rejected" and "line" in failure.error, f"{path.name}: {failure}"
        assert result.accuracy == 0.0 < honest.accuracy


# ---------------------------------------------------------------- runtime layers alone (screen off)


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_file_is_contained_at_run_time(path, runtime_results):
    result = runtime_results["by_name"][path.name]
    expected = expected_outcomes(path)
    failure = stopped([result])
    assert result.failures, f"{path.name} ran without any failure"
    if failure is not None:
        assert failure.kind in expected, f"{path.name}: {failure}"
        assert failure.error and failure.store == STORE
        if failure.kind in ("violation", "timeout", "memory"):
            assert failure.seed >= 0 and failure.question >= 0, f"{path.name}: no episode named in {failure}"
    else:  # contained as ordinary errors: every episode (or every lockstep batch) failed, none scored
        assert "error" in expected, f"{path.name}: {result.failures[0]}"
        batches_failed = all(f.question == -1 and f.error.startswith("run_batch:") for f in result.failures)
        assert batches_failed or len(result.failures) == result.seeds * result.questions
        assert all(f.kind == "error" for f in result.failures)
    assert result.accuracy <= runtime_results["honest"].accuracy
    assert result.accuracy == 0.0


REASONS = {  # what the reason of each contained file must mention
    "os_system.py": "os.system denied",
    "fork_bomb.py": "os.fork denied",
    "subprocess_run.py": "subprocess.Popen denied",
    "socket_connect.py": "socket",
    "write_outside.py": "outside the scratch folder",
    "read_store.py": "denied",
    "gc_walk.py": "gc.get_objects denied",
    "frame_walk.py": "sys._getframe denied",
    "traceback_frames.py": "object.__getattr__ denied",
    "fake_tokens.py": "accounting",
    "raise_ceiling.py": "ceiling",
    "patch_builtins.py": "builtins",
    "infinite_loop.py": "wall-clock",
    "non_string.py": "returned int",
    "raises.py": "deliberate failure",
    "forge_results.py": "nonce",
    "clone_episode.py": "cannot be copied",
}


@pytest.mark.parametrize(("name", "words"), sorted(REASONS.items()))
def test_reasons_name_what_was_denied(name, words, runtime_results):
    result = runtime_results["by_name"][name]
    assert words in str(stopped([result]) or result.failures[0])


def test_nothing_outside_the_scratch_folder_changed(arena, runtime_results):
    before = runtime_results["watched_before"]
    assert tree_state(arena["outside"], skip=arena["scratch"]) == before["outside"]
    assert tree_state(data_dir()) == before["data"]
    assert not arena["marker"].exists()
    assert not (arena["root"] / "escaped.txt").exists()
    assert (arena["outside"] / "precious.txt").read_text() == "do not touch"
    assert runtime_results["connections"] == 0


def test_honest_sc_next_to_hostile_files_is_unharmed(runtime_results):
    honest = runtime_results["honest"]
    assert not honest.failures
    (reference,) = evaluate([Cell(ControllerSpec("sc"), 1.0, STORE, SEEDS)], jobs=1)
    assert np.array_equal(honest.correct, reference.correct)
    assert np.array_equal(honest.tokens, reference.tokens)


def test_raise_for_stops(runtime_results):
    raise_for_stops([runtime_results["honest"]])
    with pytest.raises(SandboxViolation) as caught:
        raise_for_stops([runtime_results["by_name"]["os_system.py"]])
    assert caught.value.failure.kind == "violation"
    assert "violation" in STOPPING_KINDS


# ---------------------------------------------------------------- honest candidates


def test_sandboxed_results_equal_in_process_and_do_not_depend_on_jobs(tmp_path):
    # 26 and 30 seeds: cells span two blocks, so jobs=2 splits them across workers
    cmc_like = [Cell(ControllerSpec(str(CANDIDATES / "cmc_like.py")), 1.0, STORE, 26)]
    randomised = grid(
        [ControllerSpec(str(CANDIDATES / "random_vote.py"))], [0.3, 1.0], [STORE, "Qwen3-0.6B/aime24"], 30
    )
    cells = cmc_like + randomised
    one = evaluate_sandboxed(cells, jobs=1, scratch=tmp_path / "one")
    two = evaluate_sandboxed(cells, jobs=2, scratch=tmp_path / "two")
    for a, b in zip(one, two, strict=True):
        assert not a.failures and not b.failures
        assert np.array_equal(a.correct, b.correct) and np.array_equal(a.tokens, b.tokens)
        assert np.array_equal(a.latency, b.latency) and a.answers == b.answers
    (trusted,) = evaluate(cmc_like, jobs=1)
    assert np.array_equal(one[0].correct, trusted.correct) and np.array_equal(one[0].tokens, trusted.tokens)
    assert 60 < one[0].accuracy <= 100


def test_a_candidate_run_batch_is_used_in_the_sandbox_and_equals_run(tmp_path):
    """Without traces the sandbox plays a candidate's run_batch (one lockstep batch per block); the
    numbers equal the per-episode run() that trace passes use."""
    cells = grid([ControllerSpec(str(CANDIDATES / "batched_vote.py"))], [0.2, 0.9], [STORE], 26)
    batched = evaluate_sandboxed(cells, jobs=2, scratch=tmp_path / "batched")
    scalar = evaluate_sandboxed(cells, jobs=2, want_traces=True, scratch=tmp_path / "scalar")
    for a, b in zip(batched, scalar, strict=True):
        assert not a.failures and not b.failures and not a.traces and len(b.traces) == 26 * 30
        assert a.answers == b.answers and np.array_equal(a.tokens, b.tokens) and np.array_equal(a.latency, b.latency)
    assert batched[1].mean_tokens > batched[0].mean_tokens


def test_traces_match_the_in_process_harness(tmp_path):
    cells = [Cell(ControllerSpec(str(CANDIDATES / "cmc_like.py")), 0.5, STORE, 2)]
    (sandboxed,) = evaluate_sandboxed(cells, jobs=1, want_traces=True, scratch=tmp_path)
    (trusted,) = evaluate(cells, jobs=1, want_traces=True)
    assert len(sandboxed.traces) == 2 * 30
    assert [t["trace"] for t in sandboxed.traces] == [t["trace"] for t in trusted.traces]


def test_blocks_stream_to_on_block(tmp_path):
    seen = []
    cells = grid([ControllerSpec(str(CANDIDATES / "honest_vote.py"))], [0.0, 1.0], [STORE], 30)
    evaluate_sandboxed(cells, jobs=2, scratch=tmp_path, on_block=lambda b: seen.append((b.cell_index, b.seed_lo)))
    assert sorted(seen) == [(0, 0), (0, 25), (1, 0), (1, 25)]


def test_a_worker_refuses_stores_with_gold(monkeypatch, tmp_path):
    import autotts.evaluation.sandbox as sandbox
    from autotts.data import load_store

    class Leaky:
        def __init__(self, store):
            self.store = store
            self.questions = store.questions

        def without_gold(self):
            return self.store  # the bug the worker must catch: gold still attached

    monkeypatch.setattr(sandbox, "load_store", lambda name: Leaky(load_store(name)))
    with pytest.raises(SandboxError, match="gold"):
        evaluate_sandboxed([Cell(ControllerSpec("sc"), 0.0, STORE, 1)], jobs=1, scratch=tmp_path)


def test_pool_inspects_a_candidate(tmp_path):
    ref = str(CANDIDATES / "cmc_like.py")
    with SandboxPool([ref], [STORE], jobs=1, scratch=tmp_path) as pool:
        info = pool.inspect(ref, [0.0, 1.0])
    assert info["controllers"] == ["MomentumCandidate"] and info["inherits_init"]
    assert info["schedules"][0] == info["schedules"][1]
    assert not os.listdir(tmp_path) or all(p.name.startswith("worker-") for p in tmp_path.iterdir())


# ---------------------------------------------------------------- the eval command


def test_eval_runs_files_in_the_sandbox_unless_trusted(arena):
    runner = CliRunner()
    hostile = str(arena["files"] / "fake_tokens.py")
    result = runner.invoke(app, ["eval", "-c", hostile, "--store", STORE, "--seeds", "2", "--json"])
    assert result.exit_code == 1
    assert "stopped (rejected)" in " ".join(result.output.split())
    honest = str(CANDIDATES / "honest_vote.py")
    sandboxed = runner.invoke(app, ["eval", "-c", honest, "--store", STORE, "--seeds", "2", "--json"])
    trusted = runner.invoke(app, ["eval", "-c", honest, "--store", STORE, "--seeds", "2", "--json", "--trusted"])
    assert sandboxed.exit_code == 0 and trusted.exit_code == 0
    assert sandboxed.stdout == trusted.stdout
