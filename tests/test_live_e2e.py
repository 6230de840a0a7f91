"""``autotts serve`` end to end with a real model: Gemma 3 270M (GGUF, from PyPI) behind llama.cpp's
``llama-server`` on 127.0.0.1 (the collect e2e test's server fixture), called with the official
``openai`` SDK. Checks the answer, the usage, the decision summary, the metrics and the decision log;
then ``autotts run`` of the same questions with the sim-to-real comparison against a store collected
from the same server.
"""

from __future__ import annotations

import json

import pytest

from governance_helpers import cli
from live_helpers import get, metric, read_jsonl, serve
from test_collect_e2e import llama_server  # noqa: F401 - the module-scoped server fixture

DELTA, INTERVALS, POOL = 16, 3, 4
SETTINGS = ["--interval", str(DELTA), "--max-tokens", str(DELTA * INTERVALS), "--branches", str(POOL),
            "--probe-tokens", "8", "--temperature", "0.7", "--timeout", "600"]  # fmt: skip


@pytest.mark.slow
def test_openai_sdk_calls_serve_in_front_of_gemma(tmp_path, llama_server):  # noqa: F811
    from openai import OpenAI

    log = tmp_path / "decisions.jsonl"
    # cmc at β = 0: spawns branches, advances and stops by agreement; the pool of 4 is its ceiling
    args = ["--backend", llama_server, "--model", "gemma-3-270m", "--decision-log", str(log), *SETTINGS]
    with serve("cmc", "--allow-unapproved", "--beta", "0", *args, cwd=tmp_path) as (url, _):
        client = OpenAI(base_url=url, api_key="-", max_retries=0, timeout=600)
        reply = client.chat.completions.create(model="cmc", messages=[{"role": "user", "content": "What is 12 + 30?"}])
        base = url.removesuffix("/v1")
        metrics_text = get(base + "/metrics")[1]
        health = json.loads(get(base + "/healthz")[1])
    summary = reply.model_extra["autotts"]
    waves = [t for t in summary["trace"] if t["action"] != "note"]
    answer = reply.choices[0].message.content
    assert isinstance(answer, str) and answer == summary["answer"] and answer
    assert any(answer in t["answers"] for t in waves)  # an answer the episode revealed
    # the charged tokens: replay's accounting of the server's own counts
    assert reply.usage.completion_tokens == summary["tokens"] == sum(t["tokens"] for t in waves) > 0
    assert summary["tokens"] <= summary["usage"]["generated_tokens"] <= POOL * DELTA * INTERVALS
    assert reply.usage.prompt_tokens == summary["usage"]["prompt_tokens"] > 0 and summary["usage"]["probe_tokens"] > 0
    assert 1 <= summary["branches_opened"] <= POOL and summary["waves"] >= 1
    assert summary["wall_seconds"] >= summary["backend_seconds"] > 0
    assert metric(metrics_text, "autotts_requests_total", 'outcome="ok"') == 1
    assert metric(metrics_text, "autotts_branches_opened_total") == summary["branches_opened"]
    assert metric(metrics_text, "autotts_tokens_total", 'kind="charged"') == summary["tokens"]
    assert metric(metrics_text, "autotts_backend_requests_total", 'kind="interval"') > 0
    assert health["status"] == "ok"
    lines = read_jsonl(log)
    actions = [x for x in lines if x["event"] == "action" and x["action"] != "note"]
    assert len(actions) == len(waves)
    assert {x["request_id"] for x in actions} == {summary["request_id"]} and lines[-1]["event"] == "end"


@pytest.mark.slow
def test_run_against_gemma_with_the_sim_to_real_comparison(tmp_path, llama_server):  # noqa: F811
    questions = tmp_path / "arith.jsonl"
    rows = [{"question": "What is 12 + 30?", "answer": "42"}, {"question": "What is 7 times 6?", "answer": "42"}]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = tmp_path / "gemma" / "arith.json.gz"
    collected = cli("collect", "--base-url", llama_server, "--model", "gemma-3-270m", "--questions", str(questions),
                    "--out", str(store), "--top-logprobs", "0", *SETTINGS, cwd=tmp_path)  # fmt: skip
    assert collected.returncode == 0, collected.stderr[-2000:]
    out = tmp_path / "run"
    result = cli("run", "sc", "--allow-unapproved", "--beta", "0.25", "--base-url", llama_server, "--model",
                 "gemma-3-270m", "--questions", str(questions), "--store", str(store), "--replay-seeds", "5",
                 "--out", str(out), "--concurrency", "2", *SETTINGS, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    results = read_jsonl(out / "results.jsonl")
    assert len(results) == 2 and all(r["status"] == 200 and r["correct"] in (True, False) for r in results)
    # sc at β = 0.25 reads round(64 ** 0.25) = 3 branches whole: one wave, every token charged
    assert all(r["profile"]["branches_opened"] == 3 and r["waves"] == 1 for r in results)
    assert all(r["tokens"] == r["usage"]["generated_tokens"] for r in results)
    sim = summary["sim_to_real"]
    assert set(sim["figures"]) == {"accuracy", "tokens", "latency_tokens"} and sim["same_questions"]
    assert sim["episodes"]["compared"] == 2 and not sim["settings_differ"]
    assert "sim-to-real" in result.stdout and "verdict:" in result.stdout
