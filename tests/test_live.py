"""The live environment and ``autotts serve`` / ``autotts run`` against scripted loopback backends.

The central check: a scripted backend is built from a replay store's branches, and the same policy at
the same β must decide exactly the same in replay (``Episode`` on those branches) and live (every
action, branch id, revealed answer and token charge), in-process, behind the sandbox, and through
``autotts serve`` called with the official ``openai`` SDK.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autotts.env import Episode
from autotts.env.core import branch_order
from autotts.env.trace import trace_records
from autotts.live import LiveConfig, LiveService, build_policy, load_policy
from autotts.live.monitor import DriftMonitor, ReplayReference, episode_profile
from live_helpers import (
    DELTA,
    TrackingServer,
    get,
    metric,
    post,
    read_jsonl,
    replay_questions,
    script_from_store,
    serve,
    serve_log,
)

STORE = "Qwen3-0.6B/aime24"
Q, B, PROBES = 3, 16, 6
CANDIDATES = Path(__file__).parent / "candidates"
PRUNER = '''
from autotts.controllers import Controller, majority


class PruneHalf(Controller):
    """Open k branches, advance them twice, prune the half whose answers are rarest, finish the rest."""

    @classmethod
    def schedule(cls, beta):
        return {"k": max(2, round(2 + 6 * beta))}

    def run(self, episode):
        ids = episode.spawn(self.params["k"])
        for _ in range(2):
            ids = [i for i in ids if episode.is_live(i)]
            if ids:
                episode.advance(ids)
        live = episode.live()
        answers = episode.answers(live)
        ranked = sorted(live, key=lambda i: (-answers.count(episode.answer(i)), i))
        episode.prune(ranked[len(ranked) // 2 :])
        while episode.live():
            episode.advance(episode.live())
        return majority([episode.answer(i) for i in episode.finished()])
'''


@pytest.fixture(scope="module")
def script():
    return script_from_store(STORE, Q, B, PROBES)


@pytest.fixture(scope="module")
def replay(script):
    return replay_questions(script)


def config(url: str, **kw) -> LiveConfig:
    return LiveConfig(base_url=url, model="scripted", branches=B, interval=DELTA, max_tokens=DELTA * 100, **kw)


class Replayed:
    """A replay episode played to its end, with the answer its controller returned."""

    def __init__(self, question, ref: str, beta: float, seed: int):
        policy = build_policy(load_policy(ref, beta=beta, allow_unapproved=True, warn=lambda _: None), trusted=True)
        self.episode = Episode(question, seed, max_branches=policy.cls.max_branches)
        self.answer = policy.cls(beta).run(self.episode)
        self.trace = self.episode.trace
        self.tokens, self.latency_tokens = self.episode.tokens, self.episode.latency_tokens


def replay_episode(question, ref: str, beta: float, seed: int) -> Replayed:
    return Replayed(question, ref, beta, seed)


def play_live(url: str, ref: str, beta: float, jobs: list[tuple[int, int]], *, trusted=True, **kw):
    source = load_policy(ref, beta=beta, allow_unapproved=True, warn=lambda _: None)
    policy = build_policy(source, trusted=trusted)

    async def main():
        async with LiveService(policy, config(url, **kw), max_concurrent=8) as service:
            return await asyncio.gather(
                *(service.answer(f"question {q}", question_index=q, seed=seed) for q, seed in jobs)
            )

    return asyncio.run(main())


def assert_same(live, episode: Replayed) -> None:
    assert live.status == 200, live.error
    assert live.trace == trace_records(episode.trace)  # every action, branch, answer and charge
    assert (live.answer, live.tokens, live.latency_tokens) == (
        episode.answer,
        episode.tokens,
        episode.latency_tokens,
    )


@pytest.mark.parametrize(
    ("ref", "beta"),
    [(name, 0.5) for name in ("sc", "cmc", "esc", "asc", "sac", "short-m", "parallel-probe", "evo")],
)
@pytest.mark.slow
def test_live_decides_exactly_as_replay_on_the_same_branches(script, replay, ref, beta):
    jobs = [(q, seed) for q in range(Q) for seed in (0, 3)]
    with TrackingServer(script) as server:
        results = play_live(server.url, ref, beta, jobs)
        assert not server.errors  # every request continued the right text with the right seed
    for (q, seed), live in zip(jobs, results, strict=True):
        assert_same(live, replay_episode(replay[q], ref, beta, seed))
    # the server's usage: generated tokens are at least what was charged (read-whole branches match exactly)
    assert all(r.usage["generated_tokens"] >= r.tokens > 0 for r in results)


@pytest.mark.slow
def test_a_sandboxed_controller_file_decides_exactly_as_replay(script, replay):
    ref = str(CANDIDATES / "cmc_like.py")
    jobs = [(q, 0) for q in range(Q)]
    with TrackingServer(script) as server:
        results = play_live(server.url, ref, 0.5, jobs, trusted=False)
    for (q, seed), live in zip(jobs, results, strict=True):
        assert_same(live, replay_episode(replay[q], ref, 0.5, seed))
    assert results[0].profile["branches_opened"] > 0


def test_confidence_is_revealed_as_in_a_collected_store(script, replay):
    """A controller reading per-interval confidence sees the same values live and in replay."""
    with TrackingServer(script) as server:
        source = load_policy("sc", beta=0.0, allow_unapproved=True, warn=lambda _: None)
        service = LiveService(build_policy(source), config(server.url, top_logprobs=3))
        from autotts.live import LiveEpisode

        async def main():
            async with service:
                episode = LiveEpisode(service.backend, asyncio.get_running_loop(), "question 1", question_index=1)

                def act():
                    (a, b) = episode.spawn(2)
                    episode.advance([a], steps=2)
                    return episode.confidence(a), episode.confidence(b), episode.history(a)

                return await asyncio.get_running_loop().run_in_executor(None, act)

        live = asyncio.run(main())
    ep = Episode(replay[1], 0)
    (a, b) = ep.spawn(2)
    ep.advance([a], steps=2)
    want = (ep.confidence(a), ep.confidence(b), ep.history(a))
    assert [pytest.approx(v, abs=1e-3) for v in want[0]] == live[0] and len(live[1]) == 1 and live[2] == want[2]


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["500", "hang", "drop"])
def test_a_branch_failing_for_good_ends_with_err_and_the_request_completes(script, fault):
    with TrackingServer(script, broken={(0, 3): fault}, slow=1.0) as server:
        started = time.monotonic()
        (live,) = play_live(server.url, "sc", 0.5, [(0, 0)], retries=2, timeout=0.5)
        assert time.monotonic() - started < 15  # nothing hangs
    # seed 0 opens pool branches in a shuffled order; branch 3 of the pool is among the 8 sc reads
    assert live.status == 200 and live.failed_branches == 1
    assert "ERR" in live.trace[0]["answers"] and live.answer not in (None, "ERR")


def test_every_branch_failing_is_a_clear_502(script):
    broken = {(0, b) for b in range(B)}
    with TrackingServer(script, broken=broken) as server:
        started = time.monotonic()
        (live,) = play_live(server.url, "cmc", 0.5, [(0, 0)], retries=2)
    assert live.status == 502 and "every branch failed on the backend" in live.error and "HTTP 500" in live.error
    assert time.monotonic() - started < 30


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["500", "503", "timeout", "drop", "drop_mid"])
def test_transient_faults_are_retried_and_change_nothing(script, replay, fault):
    with TrackingServer(script, faults=[fault] * 3, slow=1.5) as server:
        (live,) = play_live(server.url, "cmc", 0.5, [(1, 0)], timeout=0.75, retries=5)
        assert len(server.faulted) == 3
    assert_same(live, replay_episode(replay[1], "cmc", 0.5, 0))


@pytest.mark.slow
def test_deadline_cancels_the_generations_in_flight(script):
    with TrackingServer(script, hold=0.4) as server:
        source = load_policy("sc", beta=0.5, allow_unapproved=True, warn=lambda _: None)

        async def main():
            async with LiveService(build_policy(source), config(server.url), deadline=0.6) as service:
                started = time.monotonic()
                result = await service.answer("question 0")
                took = time.monotonic() - started
                await asyncio.sleep(0.1)
                return result, took, service.backend.in_flight

        result, took, in_flight = asyncio.run(main())
        asked = server.requests
        time.sleep(1.0)  # nothing abandoned keeps asking the server for more
        assert server.requests == asked
    assert result.status == 504 and "deadline" in result.error
    assert took < 3.0 and in_flight == 0


def test_episode_profile_and_drift_flag():
    trace = [("spawn", (0, 1), ("1", "2"), 64, 32, None), ("note", {"stop": "agree"}), ("prune", (1,), (), 0, 0, None)]
    trace.append(("advance", (0,), ("1",), 32, 32, None))
    profile = episode_profile(trace)
    assert profile == {
        "branches_opened": 2,
        "branches_pruned": 1,
        "intervals": 3,
        "stop_round": 2,
        "stop_reason": "agree",
    }
    monitor = DriftMonitor(ReplayReference("s", 1.0, 1, {"branches_opened": [2, 4], "stop_round": [1, 3]}), window=4)
    assert monitor.observe(profile)["branches_opened"]["in_range"]
    assert not monitor.status()["quantities"]["branches_opened"]["drifted"]
    for _ in range(3):
        monitor.observe({**profile, "branches_opened": 9})
    status = monitor.status()["quantities"]
    assert status["branches_opened"]["drifted"] and status["branches_opened"]["outside_share"] == 0.75
    assert not status["stop_round"]["drifted"]


# ---------------------------------------------------------------------- autotts serve, over HTTP


@pytest.mark.slow
@pytest.mark.parametrize("ref", ["cmc", str(CANDIDATES / "cmc_like.py")], ids=["builtin", "sandboxed-file"])
def test_serve_with_the_openai_sdk_equals_replay_and_is_monitored(script, replay, tmp_path, ref):
    from openai import OpenAI

    log = tmp_path / "decisions.jsonl"
    label = Path(ref).name
    with TrackingServer(script) as backend, serve(
        ref, "--allow-unapproved", "--beta", "0.5", "--backend", backend.url, "--model", "scripted",
        "--branches", str(B), "--interval", str(DELTA), "--max-tokens", str(DELTA * 100),
        "--decision-log", str(log), cwd=tmp_path,
    ) as (url, _proc):  # fmt: skip
        client = OpenAI(base_url=url, api_key="-", max_retries=0)
        replies = []
        for q in range(Q):
            replies.append(
                client.chat.completions.create(
                    model="cmc",
                    messages=[{"role": "user", "content": f"question {q}"}],
                    extra_body={"autotts": {"question_index": q, "seed": q}},
                )
            )
        metrics_text = get(url.removesuffix("/v1") + "/metrics")[1]
        health = json.loads(get(url.removesuffix("/v1") + "/healthz")[1])
    for q, reply in enumerate(replies):
        episode = replay_episode(replay[q], ref, 0.5, q)
        summary = reply.model_extra["autotts"]
        assert summary["trace"] == trace_records(episode.trace)
        assert reply.choices[0].message.content == episode.answer
        assert reply.usage.completion_tokens == episode.tokens and summary["latency_tokens"] == episode.latency_tokens
        assert reply.usage.prompt_tokens > 0 and summary["usage"]["probe_tokens"] > 0
        profile = episode_profile(episode.trace)
        assert summary["branches_opened"] == profile["branches_opened"] > 0
        assert summary["stop_round"] == profile["stop_round"] and summary["policy"] == label
        assert summary["sandboxed"] == ref.endswith(".py")
    assert metric(metrics_text, "autotts_requests_total", 'outcome="ok"') == Q
    opened = sum(r.model_extra["autotts"]["branches_opened"] for r in replies)
    assert metric(metrics_text, "autotts_branches_opened_total") == opened
    assert metric(metrics_text, "autotts_tokens_total", 'kind="charged"') == sum(
        r.usage.completion_tokens for r in replies
    )
    assert metric(metrics_text, "autotts_request_seconds_count") == Q
    assert health["status"] == "ok" and health["policy"] == label and not health["approved"]
    lines = read_jsonl(log)
    assert lines[0]["event"] == "unapproved"
    actions = [x for x in lines if x["event"] == "action"]
    assert {x["request_id"] for x in actions} == {r.id.removeprefix("chatcmpl-") for r in replies}
    assert all(x["policy"] == label and x["version"] == replies[0].model_extra["autotts"]["version"] for x in lines)
    assert all(x["beta"] == 0.5 for x in lines)
    waves = [x for x in actions if x["action"] != "note"]
    assert len(waves) == sum(
        len([t for t in r.model_extra["autotts"]["trace"] if t["action"] != "note"]) for r in replies
    )


@pytest.mark.slow
def test_serve_load_20_concurrent_requests_lose_nothing(tmp_path):
    """Bounded load: 20 concurrent SDK requests (one question each), twice; none lost, every one equal to
    replay, no request for a branch after it was pruned, nothing left in flight on the backend, memory
    flat between the rounds."""
    from openai import AsyncOpenAI

    n = 20
    script = script_from_store(STORE, n, B, PROBES)
    replay = replay_questions(script)
    log = tmp_path / "d.jsonl"
    pruner = tmp_path / "prune_half.py"
    pruner.write_text(PRUNER)
    with TrackingServer(script, hold=0.005) as backend, serve(
        str(pruner), "--trusted", "--allow-unapproved", "--beta", "0.5", "--backend", backend.url,
        "--model", "scripted", "--branches", str(B), "--interval", str(DELTA), "--max-tokens", str(DELTA * 100),
        "--max-concurrent", "20", "--decision-log", str(log), cwd=tmp_path,
    ) as (url, proc):  # fmt: skip

        async def burst(seed: int):
            client = AsyncOpenAI(base_url=url, api_key="-", max_retries=0, timeout=120)
            try:
                return await asyncio.gather(
                    *(
                        client.chat.completions.create(
                            model="cmc",
                            messages=[{"role": "user", "content": f"question {i}"}],
                            extra_body={"autotts": {"question_index": i, "seed": seed}},
                        )
                        for i in range(n)
                    )
                )
            finally:
                await client.close()

        def rss() -> int:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
            return 0

        first = asyncio.run(burst(0))
        time.sleep(0.3)
        first_requests = list(backend.log)
        before = rss()
        second = asyncio.run(burst(1))
        after = rss()
        time.sleep(0.5)
        in_flight = backend.in_flight
        metrics_text = get(url.removesuffix("/v1") + "/metrics")[1]
    assert len(first) == len(second) == n
    for seed, replies in ((0, first), (1, second)):
        for i, reply in enumerate(replies):
            episode = replay_episode(replay[i], str(pruner), 0.5, seed)
            assert reply.model_extra["autotts"]["trace"] == trace_records(episode.trace)
            assert reply.usage.completion_tokens == episode.tokens
    assert backend.peak > 1  # requests did run concurrently
    assert in_flight == 0 and metric(metrics_text, "autotts_backend_in_flight") == 0
    assert metric(metrics_text, "autotts_requests_total", 'outcome="ok"') == 2 * n
    assert after - before < 30_000  # KiB: flat, not growing with requests
    # no generation after a prune: every request for a pruned pool branch started before the prune
    lines = read_jsonl(log)
    started = {x["request_id"]: x for x in lines if x["event"] == "start"}
    prunes = [x for x in lines if x["event"] == "action" and x["action"] == "prune"]
    assert prunes and metric(metrics_text, "autotts_branches_pruned_total") == sum(len(x["branches"]) for x in prunes)
    order = branch_order(0, B)  # the first round (seed 0): branch id i is pool branch order[i]
    checked = 0
    for x in prunes:
        start = started[x["request_id"]]
        if start["seed"] != 0:
            continue
        for branch in x["branches"]:
            asked = [t for q, b, t in first_requests if (q, b) == (start["question_index"], order[branch])]
            assert asked and max(asked) <= x["ts"]
            checked += 1
    assert checked > 0


@pytest.mark.slow
def test_serve_backpressure_refuses_beyond_the_queue(script, tmp_path):
    with TrackingServer(script, hold=0.3) as backend, serve(
        "sc", "--allow-unapproved", "--beta", "0", "--backend", backend.url, "--model", "scripted",
        "--branches", str(B), "--interval", str(DELTA), "--max-tokens", str(DELTA * 100),
        "--max-concurrent", "1", "--max-queue", "1", "--decision-log", str(tmp_path / "d.jsonl"), cwd=tmp_path,
    ) as (url, _proc):  # fmt: skip
        body = {"model": "sc", "messages": [{"role": "user", "content": "question 0"}]}
        with ThreadPoolExecutor(5) as pool:
            replies = list(pool.map(lambda _: post(url + "/chat/completions", body), range(5)))
    codes = sorted(r[0] for r in replies)
    assert codes.count(200) >= 2 and 429 in codes
    refused = next(r for r in replies if r[0] == 429)
    assert refused[1]["retry-after"] and "queued" in refused[2]["error"]["message"]


@pytest.mark.slow
def test_serve_rejects_bad_requests_with_the_field_named(script, tmp_path):
    with TrackingServer(script) as backend, serve(
        "sc", "--allow-unapproved", "--beta", "0", "--backend", backend.url, "--model", "scripted",
        "--branches", str(B), "--interval", str(DELTA), "--decision-log", str(tmp_path / "d.jsonl"), cwd=tmp_path,
    ) as (url, _proc):  # fmt: skip
        cases = [
            ({"model": "x"}, "'messages'"),
            ({"messages": [{"role": "user", "content": "q"}], "stream": True}, "'stream'"),
            ({"messages": [{"role": "user", "content": "q"}], "autotts": {"seed": "x"}}, "'autotts.seed'"),
            ({"messages": [{"role": "user", "content": "q"}], "autotts": {"bogus": 1}}, "bogus"),
        ]
        for body, field in cases:
            status, _, reply = post(url + "/chat/completions", body)
            assert status == 400 and field in reply["error"]["message"]
        assert post(url + "/chat/completions", b"{")[0] == 400


def ask_in_background(url: str) -> tuple[threading.Thread, dict]:
    """Send question 0 to ``serve`` from a thread; its reply lands in ``box["reply"]``."""
    box: dict = {}

    def call():
        body = {"model": "sc", "messages": [{"role": "user", "content": "question 0"}]}
        box["reply"] = post(url + "/chat/completions", body)

    thread = threading.Thread(target=call)
    thread.start()
    return thread, box


@pytest.mark.slow
def test_graceful_shutdown_finishes_the_request_in_flight(script, tmp_path):
    with TrackingServer(script, hold=0.2) as backend, serve(
        "sc", "--allow-unapproved", "--beta", "0.25", "--backend", backend.url, "--model", "scripted",
        "--branches", str(B), "--interval", str(DELTA), "--max-tokens", str(DELTA * 100), "--drain", "30",
        "--decision-log", str(tmp_path / "d.jsonl"), cwd=tmp_path,
    ) as (url, proc):  # fmt: skip
        thread, box = ask_in_background(url)
        time.sleep(0.6)  # the request is in flight (its first wave takes > 1 s)
        proc.send_signal(signal.SIGTERM)
        thread.join(timeout=60)
        code = proc.wait(timeout=30)
    assert box["reply"][0] == 200 and box["reply"][2]["autotts"]["branches_opened"] == 3
    # uvicorn re-raises the signal once drained, so a supervisor sees a SIGTERM exit
    assert code in (0, -signal.SIGTERM) and "serve: stopped (0 requests failed at shutdown)" in serve_log(tmp_path)


@pytest.mark.slow
def test_serve_refuses_an_unapproved_policy(tmp_path):
    from governance_helpers import cli

    result = cli("serve", "sc", "--backend", "http://127.0.0.1:9/v1", "--model", "m", cwd=tmp_path)
    assert result.returncode == 2 and "not a registered, approved version" in result.stderr
    assert "Traceback" not in result.stderr
    result = cli("serve", "nope@production", "--backend", "http://127.0.0.1:9/v1", "--model", "m",
                 "--registry", str(tmp_path / "reg.sqlite"), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2 and "nope" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_registered_unapproved_version_runs_only_with_the_flag_and_is_audited(tmp_path):
    from autotts.governance import Registry
    from autotts.governance.evidence import EvidencePlan, collect_evidence, controller_source
    from governance_helpers import cli

    reg_path = tmp_path / "reg.sqlite"
    with Registry.open(reg_path) as reg:
        manifest = collect_evidence("sc", 0.0, "p", EvidencePlan(("Qwen3-4B/aime25",), 1, 1, (1.0,)))
        source, kind, cls = controller_source("sc")
        reg.add_version("p", source, kind, "sc", cls, 0.0, manifest, by="x")
    args = ["--backend", "http://127.0.0.1:9/v1", "--model", "m", "--registry", str(reg_path)]
    refused = cli("serve", "p@1", *args, cwd=tmp_path)
    assert refused.returncode == 2 and "p@1 is" in refused.stderr and "--allow-unapproved" in refused.stderr
    from autotts.live.policy import load_policy

    source = load_policy("p@1", allow_unapproved=True, registry=reg_path, warn=lambda _: None)
    assert (source.label, source.kind, source.class_ref, source.beta, source.approved) == (
        "p@1",
        "builtin",
        "sc",
        0.0,
        False,
    )
    with Registry.open(reg_path) as reg:
        assert any(e["action"] == "unapproved_use" for e in reg.audit_entries())
        approved, _ = reg.approve("p@1", by="alice", note="read", override="test of the live gate")
        assert approved
        reg.promote("p@1", by="alice")
    warnings: list[str] = []
    source = load_policy("p@production", registry=reg_path, warn=warnings.append)
    assert (source.label, source.approved, source.describe()["registry_status"]) == ("p@1", True, "approved")
    assert not warnings  # an approved version runs without the flag and without a warning


@pytest.mark.slow
def test_run_writes_results_and_the_sim_to_real_comparison(script, tmp_path):
    """``autotts collect`` then ``autotts run`` against the same scripted server: every episode is
    identical to its replay twin, and the figures agree."""
    from governance_helpers import cli

    questions = tmp_path / "qs.jsonl"
    gold = [replay_episode_gold(script, q) for q in range(Q)]
    questions.write_text("".join(json.dumps({"question": f"question {q}", "answer": gold[q]}) + "\n" for q in range(Q)))
    store = tmp_path / "scripted" / "qs.json.gz"
    common = ["--interval", str(DELTA), "--max-tokens", str(DELTA * 100), "--branches", str(B), "--model", "scripted"]
    with TrackingServer(script) as backend:
        collected = cli("collect", "--base-url", backend.url, "--questions", str(questions), "--out", str(store),
                        "--top-logprobs", "0", *common, cwd=tmp_path)  # fmt: skip
        assert collected.returncode == 0, collected.stderr
        out = tmp_path / "run"
        result = cli("run", "cmc", "--allow-unapproved", "--beta", "0.5", "--base-url", backend.url, "--questions",
                     str(questions), "--store", str(store), "--replay-seeds", "3", "--out", str(out), *common,
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(out / "results.jsonl")
    summary = json.loads((out / "summary.json").read_text())
    assert len(rows) == Q and all(r["status"] == 200 and r["trace"] for r in rows)
    assert [r["correct"] for r in rows] == [r["answer"] == g for r, g in zip(rows, gold, strict=True)]
    sim = summary["sim_to_real"]
    assert sim["episodes"]["identical"] == sim["episodes"]["compared"] == Q
    assert sim["agree"] and not sim["settings_differ"]
    assert "sim-to-real" in result.stdout and "3/3 identical to replay" in result.stdout
    assert summary["tokens"]["low"] <= summary["tokens"]["mean"] <= summary["tokens"]["high"]
    assert (out / "decisions.jsonl").is_file()


def replay_episode_gold(script, q: int) -> str:
    """A gold answer: the final answer of the question's first scripted branch."""
    text = "".join(script.questions[q][0].texts)
    return text.rsplit("\\boxed{", 1)[1].rsplit("}", 1)[0]


@pytest.mark.slow
def test_serve_drift_reference_from_a_replay_store(script, tmp_path):
    """--drift-store replays the policy first; each reply says whether it stayed in the replay range and
    /healthz and /metrics carry the monitor's state."""
    with TrackingServer(script) as backend, serve(
        "sc", "--allow-unapproved", "--beta", "0.5", "--backend", backend.url, "--model", "scripted",
        "--branches", str(B), "--interval", str(DELTA), "--max-tokens", str(DELTA * 100),
        "--drift-store", STORE, "--drift-seeds", "2", "--decision-log", str(tmp_path / "d.jsonl"), cwd=tmp_path,
    ) as (url, _proc):  # fmt: skip
        body = {"model": "sc", "messages": [{"role": "user", "content": "question 0"}]}
        status, _, reply = post(url + "/chat/completions", body)
        health = json.loads(get(url.removesuffix("/v1") + "/healthz")[1])
        metrics_text = get(url.removesuffix("/v1") + "/metrics")[1]
    assert status == 200
    drift = reply["autotts"]["drift"]
    # sc at β = 0.5 reads 8 branches in one wave, live as in replay
    assert drift["branches_opened"] == {"value": 8, "replay_range": [8, 8], "in_range": True}
    assert drift["stop_round"] == {"value": 1, "replay_range": [1, 1], "in_range": True}
    quantities = health["drift"]["quantities"]
    assert health["drift"]["reference"]["store"] == STORE and not quantities["branches_opened"]["drifted"]
    assert metric(metrics_text, "autotts_drift", 'quantity="stop_round"') == 0
    assert metric(metrics_text, "autotts_drift_outside_share", 'quantity="branches_opened"') == 0


@pytest.mark.slow
def test_a_client_that_hangs_up_abandons_its_generations(script, tmp_path):
    with TrackingServer(script, hold=0.3) as backend, serve(
        "sc", "--allow-unapproved", "--beta", "0.5", "--backend", backend.url, "--model", "scripted",
        "--branches", str(B), "--interval", str(DELTA), "--max-tokens", str(DELTA * 100),
        "--decision-log", str(tmp_path / "d.jsonl"), cwd=tmp_path,
    ) as (url, _proc):  # fmt: skip
        body = {"model": "sc", "messages": [{"role": "user", "content": "question 0"}]}
        with pytest.raises(OSError):  # the client gives up after 1 s; the episode needs > 2 s
            post(url + "/chat/completions", body, timeout=1.0)
        time.sleep(1.5)  # the server notices within 0.25 s; requests in flight finish or are dropped
        asked = backend.requests
        time.sleep(1.0)
        metrics_text = get(url.removesuffix("/v1") + "/metrics")[1]
        assert backend.requests == asked  # nothing more was asked for the abandoned episode
    assert metric(metrics_text, "autotts_generations_cancelled_total", 'reason="cancelled"') == 1
    assert metric(metrics_text, "autotts_requests_total", 'outcome="cancelled"') == 1
    assert metric(metrics_text, "autotts_backend_in_flight") == 0
    assert metric(metrics_text, "autotts_requests_in_flight") == 0


@pytest.mark.slow
def test_a_controller_that_raises_or_cheats_fails_the_request_clearly(script, tmp_path):
    raising = tmp_path / "raising.py"
    raising.write_text(
        "from autotts.controllers import Controller\n\n\nclass Raises(Controller):\n"
        "    def run(self, episode):\n        episode.spawn(1)\n        raise ValueError('no idea')\n"
    )
    cheating = tmp_path / "cheating.py"
    cheating.write_text(
        "from autotts.controllers import Controller\n\n\nclass Cheats(Controller):\n"
        "    def run(self, episode):\n        episode.spawn(1)\n        return 'an answer never revealed'\n"
    )
    with TrackingServer(script) as server:
        (raised,) = play_live(server.url, str(raising), 0.5, [(0, 0)])
        (sandboxed,) = play_live(server.url, str(raising), 0.5, [(0, 0)], trusted=False)
        (cheated,) = play_live(server.url, str(cheating), 0.5, [(0, 0)], trusted=False)
    assert raised.status == 500 and "ValueError: no idea" in raised.error and raised.tokens == DELTA
    assert sandboxed.status == 500 and "no idea" in sandboxed.error
    assert cheated.status == 500 and "never revealed" in cheated.error


@pytest.mark.slow
def test_shutdown_fails_what_outlives_the_drain_with_a_clean_503(script, tmp_path):
    with TrackingServer(script, hold=0.5) as backend, serve(
        "sc", "--allow-unapproved", "--beta", "0.5", "--backend", backend.url, "--model", "scripted",
        "--branches", str(B), "--interval", str(DELTA), "--max-tokens", str(DELTA * 100), "--drain", "1",
        "--decision-log", str(tmp_path / "d.jsonl"), cwd=tmp_path,
    ) as (url, proc):  # fmt: skip
        thread, box = ask_in_background(url)
        time.sleep(0.5)  # in flight: its 7-interval reads take > 3.5 s
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        thread.join(timeout=30)
        proc.wait(timeout=30)
        took = time.monotonic() - started
    status, _, reply = box["reply"]
    assert status == 503 and "shutting down" in reply["error"]["message"]
    assert took < 10 and "serve: stopped (1 requests failed at shutdown)" in serve_log(tmp_path)
