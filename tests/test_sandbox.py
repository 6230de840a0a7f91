"""The sandbox: hostile candidates end as recorded failures or honest scores; honest ones score
exactly as in-process; without the OS boundary nothing untrusted runs."""

from __future__ import annotations

import io
import os
import re
import socket
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from autotts.cli import app
from autotts.data import data_dir
from autotts.evaluation import Cell, ControllerSpec, evaluate, grid
from autotts.sandbox import (
    STOPPING_KINDS,
    SandboxError,
    SandboxLimits,
    SandboxPool,
    SandboxUnavailable,
    SandboxViolation,
    boundary,
    evaluate_cells,
    evaluate_sandboxed,
    raise_for_stops,
    stopped,
)
from autotts.sandbox.protocol import ProtocolError, read_frame, write_frame

HERE = Path(__file__).parent
HOSTILE = sorted((HERE / "hostile").glob("*.py"))
CANDIDATES = HERE / "candidates"
STORE = "Qwen3-4B/aime24"
SEEDS = 3
LIMITS = SandboxLimits(cpu_seconds=60, wall_seconds=10, memory_mb=1024, scratch_mb=16)
CANARY = "canary-7f3c9e1d-never-leak"
HONEST_REFERENCES = {"sc": ControllerSpec("sc"), "sc k=1": ControllerSpec("sc", (("k", 1),))}

pytestmark = pytest.mark.skipif(boundary.problem() is not None, reason=f"no sandbox here: {boundary.problem()}")


def expectation(path: Path) -> tuple[set[str], str | None]:
    """The outcomes a hostile file's docstring allows, and its honest reference (``HONEST:``)."""
    text = path.read_text()
    match = re.search(r"EXPECT: ([a-z ]+?)(?: HONEST: ([a-z0-9 =]+))?\"\"\"", text)
    assert match, f"{path.name} lacks an EXPECT: line"
    return set(match.group(1).split()), match.group(2)


def sandbox_processes() -> list[str]:
    """Command lines of any sandbox process still alive on this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "autotts.sandbox." in cmdline and str(os.getpid()) != entry.name:
                found.append(cmdline)
    return found


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
def corpus(arena, listener) -> dict:
    """Every hostile file and the honest references, in one sandboxed run with a canary secret set."""
    watched = {"outside": tree_state(arena["outside"], skip=arena["scratch"]), "data": tree_state(data_dir())}
    refs = [str(arena["files"] / p.name) for p in HOSTILE]
    specs = [ControllerSpec(r) for r in refs] + list(HONEST_REFERENCES.values())
    cells = grid(specs, [1.0], [STORE], SEEDS)
    os.environ["AUTOTTS_CANARY"] = CANARY
    try:
        results = evaluate_sandboxed(cells, jobs=2, limits=LIMITS, scratch=arena["scratch"])
    finally:
        del os.environ["AUTOTTS_CANARY"]
    connections = 0
    while True:
        try:
            conn, _ = listener.accept()
            conn.close()
            connections += 1
        except OSError:
            break
    references = evaluate([Cell(spec, 1.0, STORE, SEEDS) for spec in HONEST_REFERENCES.values()], jobs=1)
    return {
        "by_name": {Path(r.controller).name: r for r in results[: len(HOSTILE)]},
        "sandboxed_references": dict(zip(HONEST_REFERENCES, results[len(HOSTILE) :], strict=True)),
        "references": dict(zip(HONEST_REFERENCES, references, strict=True)),
        "watched_before": watched,
        "connections": connections,
        "left_behind": sandbox_processes(),
    }


# ---------------------------------------------------------------- the hostile corpus


def test_the_corpus_covers_every_class_of_attack():
    names = {p.name for p in HOSTILE}
    assert len(names) > 30
    for required in (
        "lift_guards.py",  # switching the guards off from inside
        "rewrite_reporting.py",  # rewriting what the worker reports
        "thread_outlives.py",  # threads that outlive run()
        "fill_disk.py",  # filling the disk
        "typing_backdoor.py",  # reading branches it never paid for
        "signal_parent.py",  # signalling the parent
        "steal_secrets.py",  # the parent's API keys
        "cross_episode_cache.py",  # answers another episode paid for
        "forge_protocol.py",  # speaking the protocol itself
    ):
        assert required in names


@pytest.mark.slow
@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_file_ends_as_a_failure_or_an_honest_score(path, corpus):
    result = corpus["by_name"][path.name]
    outcomes, honest = expectation(path)
    failure = stopped([result])
    if failure is not None:
        assert failure.kind in outcomes, f"{path.name}: {failure}"
        assert failure.error and failure.store == STORE
        if failure.kind in ("violation", "memory"):
            assert failure.seed >= 0 and failure.question >= 0, f"{path.name}: no episode named in {failure}"
        assert result.accuracy == 0.0 and result.mean_tokens == 0
    elif result.failures:  # ordinary errors: every episode it played raised, none scored
        assert "error" in outcomes, f"{path.name}: {result.failures[0]}"
        assert all(f.kind == "error" for f in result.failures)
        batches = all(f.question == -1 and f.error.startswith("run_batch:") for f in result.failures)
        assert batches or len(result.failures) == result.seeds * result.questions
        assert result.accuracy == 0.0
    else:
        assert "honest" in outcomes, f"{path.name} scored {result.accuracy:.1f}% without any failure"
        if honest == "nothing":
            assert result.accuracy == 0.0 and result.mean_tokens == 0
        else:
            reference = corpus["references"][honest]
            assert np.array_equal(result.correct, reference.correct), path.name
            assert np.array_equal(result.tokens, reference.tokens), path.name
            assert np.array_equal(result.latency, reference.latency), path.name


REASONS = {  # what the reason of a contained file must mention
    "fork_bomb.py": "Operation not permitted",
    "socket_connect.py": "Operation not permitted",
    "subprocess_run.py": "Operation not permitted",
    "signal_parent.py": "Operation not permitted",
    "thread_outlives.py": "can't start new thread",
    "flood_log.py": "File too large",
    "write_outside.py": "No such file",
    "raise_ceiling.py": "cannot open",
    "cross_episode_cache.py": "never revealed",
    "forge_protocol.py": "never revealed",
    "forge_results.py": "protocol",
    "claim_wide_wave_upstream.py": "one branch per wave",
    "typing_backdoor.py": "_pool",
    "infinite_loop.py": "wall-clock",
    "memory_bomb.py": "MemoryError",
    "non_string.py": "returned int",
    "equal_to_anything.py": "returned Everything",
    "raises.py": "deliberate failure",
}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "words"), sorted(REASONS.items()))
def test_reasons_name_what_happened(name, words, corpus):
    result = corpus["by_name"][name]
    assert words in str(stopped([result]) or result.failures[0])


@pytest.mark.slow
def test_nothing_outside_the_scratch_folder_changed(arena, corpus):
    before = corpus["watched_before"]
    assert tree_state(arena["outside"], skip=arena["scratch"]) == before["outside"]
    assert tree_state(data_dir()) == before["data"]
    assert not arena["marker"].exists()
    assert (arena["outside"] / "precious.txt").read_text() == "do not touch"
    assert corpus["connections"] == 0


@pytest.mark.slow
def test_the_scratch_quota_and_the_log_cap_hold(arena, corpus):
    """The disk filler got a score (it stopped at the quota), and nothing it wrote reached this disk
    beyond the capped log."""
    logs = list(arena["scratch"].rglob("candidate.log"))
    assert logs
    assert max(p.stat().st_size for p in logs) <= boundary.BoundaryLimits().log_mb << 20
    assert not list(arena["scratch"].rglob("fill-*"))  # the scratch folder was a tmpfs inside the sandbox


@pytest.mark.slow
def test_no_secret_reached_any_output(arena, corpus):
    for result in corpus["by_name"].values():
        text = repr(result.answers) + repr(result.failures) + repr(result.traces)
        assert CANARY not in text
    for path in arena["scratch"].rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_no_process_is_left_behind_and_the_parent_lives(corpus):
    assert corpus["left_behind"] == []
    assert os.getppid() > 0  # we are still here: nothing killed this process


@pytest.mark.slow
def test_honest_references_in_the_sandbox_equal_in_process(corpus):
    for name, sandboxed in corpus["sandboxed_references"].items():
        reference = corpus["references"][name]
        assert not sandboxed.failures
        assert np.array_equal(sandboxed.correct, reference.correct)
        assert np.array_equal(sandboxed.tokens, reference.tokens)
        assert np.array_equal(sandboxed.latency, reference.latency)


@pytest.mark.slow
def test_raise_for_stops(corpus):
    raise_for_stops([corpus["sandboxed_references"]["sc"]])
    with pytest.raises(SandboxViolation) as caught:
        raise_for_stops([corpus["by_name"]["raise_ceiling.py"]])
    assert caught.value.failure.kind == "violation"
    assert "violation" in STOPPING_KINDS


# ---------------------------------------------------------------- honest candidates


@pytest.mark.slow
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
    assert np.array_equal(one[0].latency, trusted.latency) and one[0].answers == trusted.answers
    assert 60 < one[0].accuracy <= 100


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cmc", "parallel-probe", "asc", "esc", "evo"])
def test_builtins_in_the_sandbox_equal_in_process_episode_for_episode(name, tmp_path):
    """The built-ins, played behind the boundary through run() and through run_batch, against the
    in-process harness: every answer, token count and latency equal."""
    cells = grid([ControllerSpec(name)], [0.0, 0.5, 1.0], ["Qwen3-1.7B/hmmt25"], 3)
    batched = evaluate_sandboxed(cells, jobs=2, scratch=tmp_path / "batched")
    scalar = evaluate_sandboxed(cells, jobs=2, want_traces=True, scratch=tmp_path / "scalar")
    trusted = evaluate(cells, jobs=1, want_traces=True)
    for a, b, c in zip(batched, scalar, trusted, strict=True):
        assert not a.failures and not b.failures
        for x in (a, b):
            assert x.answers == c.answers
            assert np.array_equal(x.tokens, c.tokens) and np.array_equal(x.latency, c.latency)
        assert [t["trace"] for t in b.traces] == [t["trace"] for t in c.traces]


@pytest.mark.slow
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


@pytest.mark.slow
def test_traces_match_the_in_process_harness(tmp_path):
    cells = [Cell(ControllerSpec(str(CANDIDATES / "cmc_like.py")), 0.5, STORE, 2)]
    (sandboxed,) = evaluate_sandboxed(cells, jobs=1, want_traces=True, scratch=tmp_path)
    (trusted,) = evaluate(cells, jobs=1, want_traces=True)
    assert len(sandboxed.traces) == 2 * 30
    assert [t["trace"] for t in sandboxed.traces] == [t["trace"] for t in trusted.traces]


@pytest.mark.slow
def test_published_harness_files_run_sandboxed_unchanged(tmp_path):
    """A ``solve(question)`` file written for the published harness runs behind the boundary with
    the results it has in-process."""
    path = tmp_path / "upstream_sc.py"
    path.write_text(
        "from collections import Counter\n\n\n"
        "class Method:\n"
        "    def __init__(self, config=None):\n"
        "        self.k = 4 if (config or {}).get('beta', 1.0) < 0.5 else 8\n\n"
        "    def solve(self, question):\n"
        "        answers = [question.get_new_branch_final_answer() for _ in range(self.k)]\n"
        "        answers.append(question.probe_new()[0])\n"
        "        return Counter(answers).most_common(1)[0][0]\n"
    )
    cells = grid([ControllerSpec(str(path))], [0.2, 1.0], [STORE], 3)
    sandboxed = evaluate_sandboxed(cells, jobs=1, scratch=tmp_path / "s")
    trusted = evaluate(cells, jobs=1)
    for a, b in zip(sandboxed, trusted, strict=True):
        assert not a.failures and a.answers == b.answers and np.array_equal(a.tokens, b.tokens)
    assert sandboxed[1].mean_tokens > sandboxed[0].mean_tokens > 0


@pytest.mark.slow
def test_blocks_stream_to_on_block(tmp_path):
    seen = []
    cells = grid([ControllerSpec(str(CANDIDATES / "honest_vote.py"))], [0.0, 1.0], [STORE], 30)
    evaluate_sandboxed(cells, jobs=2, scratch=tmp_path, on_block=lambda b: seen.append((b.cell_index, b.seed_lo)))
    assert sorted(seen) == [(0, 0), (0, 25), (1, 0), (1, 25)]


def test_an_environment_refuses_stores_with_gold(monkeypatch, tmp_path):
    import autotts.sandbox.pool as pool
    from autotts.data import load_store

    class Leaky:
        def __init__(self, store):
            self.store = store
            self.questions = store.questions

        def without_gold(self):
            return self.store  # the bug the environment process must catch: gold still attached

    monkeypatch.setattr(pool, "load_store", lambda name: Leaky(load_store(name)))
    with pytest.raises(SandboxError, match="gold"):
        evaluate_sandboxed([Cell(ControllerSpec("sc"), 0.0, STORE, 1)], jobs=1, scratch=tmp_path)
    logs = "".join(p.read_text() for p in tmp_path.rglob("environment*.log"))
    assert "gold" in logs


@pytest.mark.slow
def test_pool_inspects_a_candidate(tmp_path):
    ref = str(CANDIDATES / "cmc_like.py")
    with SandboxPool([ref], [STORE], jobs=1, scratch=tmp_path) as pool:
        info = pool.inspect(ref, [0.0, 1.0])
    assert info["controllers"] == ["MomentumCandidate"] and info["inherits_init"]
    assert info["schedules"][0] == info["schedules"][1]


# ---------------------------------------------------------------- never fail open


def test_without_the_boundary_untrusted_code_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(boundary.shutil, "which", lambda name: None)
    boundary.problem.cache_clear()
    try:
        assert "bubblewrap" in boundary.problem() and "apt-get install bubblewrap" in boundary.problem()
        honest = ControllerSpec(str(CANDIDATES / "honest_vote.py"))
        with pytest.raises(SandboxUnavailable, match="bubblewrap"):
            evaluate_cells([Cell(honest, 1.0, STORE, 1)], scratch=tmp_path)
        runner = CliRunner()
        refused = runner.invoke(app, ["eval", "-c", honest.ref, "--store", STORE, "--seeds", "1"])
        assert refused.exit_code == 2 and "bubblewrap" in refused.output
        # built-ins and --trusted code need no boundary
        (builtin,) = evaluate_cells([Cell(ControllerSpec("sc"), 1.0, STORE, 1)])
        trusted = runner.invoke(app, ["eval", "-c", honest.ref, "--store", STORE, "--seeds", "1", "--trusted"])
        assert builtin.accuracy > 0 and trusted.exit_code == 0
    finally:
        boundary.problem.cache_clear()


def test_the_seam_sends_only_files_to_the_sandbox(monkeypatch):
    import autotts.sandbox.seam as seam

    sent: list[str] = []
    def spy(cells, **_):
        sent.extend(c.controller.ref for c in cells)
        return evaluate(cells, jobs=1)  # our own honest file: safe to run here

    monkeypatch.setattr(seam, "evaluate_sandboxed", spy)
    honest = str(CANDIDATES / "honest_vote.py")
    cells = [Cell(ControllerSpec("sc"), 1.0, STORE, 1), Cell(ControllerSpec(honest), 1.0, STORE, 1)]
    results = evaluate_cells(cells)
    assert sent == [honest] and [r.controller for r in results] == ["sc", honest]
    sent.clear()
    assert len(evaluate_cells(cells, trusted=True)) == 2 and sent == []


# ---------------------------------------------------------------- the protocol


def test_protocol_frames_round_trip_and_refuse_malformed_input():
    stream = io.BytesIO()
    write_frame(stream, {"t": "act", "ops": [[0, "spawn", 2]]}, {"steps": np.arange(6, dtype=np.int64).reshape(2, 3)})
    stream.seek(0)
    header, arrays = read_frame(stream)
    assert header["t"] == "act" and header["ops"] == [[0, "spawn", 2]] and header["v"] == 1
    assert arrays["steps"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert read_frame(stream) is None  # a clean end of stream

    def frame(header: bytes, payload: bytes = b"") -> io.BytesIO:
        return io.BytesIO(struct.pack("<II", len(header), len(payload)) + header + payload)

    with pytest.raises(ProtocolError, match="limits"):
        read_frame(io.BytesIO(struct.pack("<II", 1 << 30, 0)))
    with pytest.raises(ProtocolError, match="JSON"):
        read_frame(frame(b"{not json"))
    with pytest.raises(ProtocolError, match="version"):
        read_frame(frame(b'{"v": 99, "t": "act"}'))
    with pytest.raises(ProtocolError, match="inside a frame"):
        read_frame(io.BytesIO(struct.pack("<II", 50, 0) + b'{"v":1'))
    with pytest.raises(ProtocolError, match="payload"):
        read_frame(frame(b'{"v":1,"t":"x","arrays":[["a","<i8",[4]]]}', b"\0" * 8))
    with pytest.raises(ProtocolError, match="specification"):
        read_frame(frame(b'{"v":1,"t":"x","arrays":[["a","|O",[1]]]}', b"\0" * 8))


def test_the_seccomp_program_denies_process_creation():
    program = boundary.seccomp_program("x86_64")
    assert len(program) % 8 == 0
    numbers = {struct.unpack("<HBBI", program[i : i + 8])[3] for i in range(0, len(program), 8)}
    for call in ("clone", "clone3", "fork", "vfork", "execve", "socket", "ptrace", "kill", "pidfd_open"):
        assert boundary.SYSCALLS["x86_64"][call] in numbers


@pytest.mark.slow
def test_confidence_reaches_sandboxed_controllers_once_revealed(tmp_path):
    """On a store with per-interval confidence (as `autotts collect` writes), a sandboxed controller
    reads exactly what the in-process episode shows: the confidence of the intervals revealed."""
    from dataclasses import replace

    from autotts.data import load_store, register_store, unregister_store

    base = load_store(STORE)
    rng = np.random.default_rng(7)

    def with_confidence(branch):
        values = [None if rng.random() < 0.1 else round(float(rng.uniform(5, 20)), 3) for _ in range(branch.probes + 1)]
        return replace(branch, confidence=tuple(values))

    questions = [replace(q, branches=tuple(with_confidence(b) for b in q.branches)) for q in base.questions[:6]]
    register_store("test-model/confident", replace(base, name="test-model/confident", questions=questions))
    path = tmp_path / "confident.py"
    path.write_text(
        "from autotts.controllers import Controller\n\n\n"
        "class Confident(Controller):\n"
        "    def run(self, episode):\n"
        "        assert episode.has_confidence\n"
        "        ids = episode.spawn(6)\n"
        "        episode.advance(ids[:3], [2, 1, 3])\n"
        "        episode.read_full(2)\n"
        "        def score(i):\n"
        "            values = [c for c in episode.confidence(i) if c is not None]\n"
        "            return (sum(values) / len(values)) if values else 0.0\n"
        "        best = max(range(episode.opened), key=score)\n"
        "        episode.note(best=best, seen=len(episode.confidence(best)))\n"
        "        return episode.answer(best)\n"
    )
    try:
        cells = [Cell(ControllerSpec(str(path)), 1.0, "test-model/confident", 3)]
        (sandboxed,) = evaluate_sandboxed(cells, jobs=1, want_traces=True, scratch=tmp_path / "s")
        (trusted,) = evaluate(cells, jobs=1, want_traces=True)
    finally:
        unregister_store("test-model/confident")
    assert not sandboxed.failures and sandboxed.answers == trusted.answers
    assert [t["trace"] for t in sandboxed.traces] == [t["trace"] for t in trusted.traces]  # notes included
