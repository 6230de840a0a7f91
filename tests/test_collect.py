"""``autotts collect`` against a scripted loopback server: the store holds exactly what was served,
faults are retried without changing it, and a killed collection resumes without regenerating work."""

from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autotts.backends import BackendError
from autotts.data import StoreError, load_store_file
from autotts.data.collect import (
    DYNASOR_SUFFIX,
    Canonicaliser,
    CollectConfig,
    Collector,
    Journal,
    JournalError,
    QuestionsError,
    clean,
    close_boxed,
    estimate,
    journal_path,
    last_boxed,
    load_questions,
    probe_answer,
)
from autotts.env import Episode, EpisodeError
from fake_inference import InferenceServer, Script, make_script

AUTOTTS = [sys.executable, "-m", "autotts.cli"]
Q, B, DELTA, N = 2, 4, 32, 3


def write_questions(folder: Path, n: int = Q) -> Path:
    path = folder / "questions.jsonl"
    rows = [{"question": f"What is {i} times one?", "answer": str(i % 3)} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def config(url: str, questions: Path, out: Path, **overrides) -> CollectConfig:
    settings = dict(
        base_url=url,
        model="scripted",
        questions=str(questions),
        out=str(out),
        branches=B,
        interval=DELTA,
        max_tokens=N * DELTA,
        top_logprobs=3,
        timeout=0.5,
        concurrency=3,
    )
    settings.update(overrides)
    return CollectConfig(**settings)


def read(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


def content(store: dict) -> dict:
    """The store less what legitimately differs between two runs (dates, timings, retry counts)."""
    meta = dict(store["metadata"])
    for key in ("collected_at", "run", "server", "questions_file"):
        meta.pop(key)
    return {**store, "metadata": meta}


class Expected:
    """What the store must hold for the script's raw answers of one question: cleaned, and the two
    math-verify-equal spellings of one half (0.5 and \\frac{1}{2}) mapped to whichever came first
    in branch and interval order (the script uses no other equal pairs)."""

    def __init__(self) -> None:
        self.half: str | None = None

    def __call__(self, raw: str | None) -> str:
        answer = clean(raw)
        if answer in ("0.5", "\\frac{1}{2}"):
            self.half = self.half or answer
            return self.half
        return answer


@pytest.fixture
def script() -> Script:
    return make_script(0, Q, B, DELTA, DYNASOR_SUFFIX, max_intervals=N)


# ---------------------------------------------------------------------- answers and questions


def test_probe_answers_close_the_box_or_are_err():
    assert close_boxed("12} \\]") == "12"
    assert close_boxed("\\frac{1}{2}} more") == "\\frac{1}{2}"
    assert close_boxed("still thinking") is None
    assert probe_answer("still thinking") == "ERR"
    assert probe_answer("} empty") == "ERR"
    assert probe_answer(" $42$. } ") == "42"
    assert last_boxed("a \\boxed{1} then \\boxed{\\frac{3}{4}} end") == "\\frac{3}{4}"
    assert last_boxed("no box here") is None
    assert clean("none of them", "published") == "No"
    assert clean("none of them", "basic") == "none of them"
    with pytest.raises(ValueError, match="unknown cleaning"):
        clean("1", "fancy")


def test_math_verify_classes_keep_gold_spelling_and_work_in_threads():
    canon = Canonicaliser("1/2")
    assert canon.canonical("0.5") == "1/2"
    assert canon.canonical("\\frac{1}{2}") == "1/2"
    assert canon.canonical("3") == "3"
    assert canon.canonical("3.0") == "3"
    assert canon.canonical("ERR") == "ERR"
    assert canon.canonical("x^2") == "x^2"
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:  # signal.alarm is unavailable here: time-outs must be off in threads
        try:
            results.append(Canonicaliser("2").canonical("4/2"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert not errors and results == ["2"]


def test_questions_from_jsonl_csv_and_parquet(tmp_path):
    rows = [{"problem": "P1", "answer": 7}, {"problem": "P2", "answer": "x"}]
    jl = tmp_path / "q.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cs = tmp_path / "q.csv"
    with cs.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["problem", "answer"])
        writer.writeheader()
        writer.writerows(rows)
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    pf = tmp_path / "q.parquet"
    pq.write_table(pa.table({"problem": ["P1", "P2"], "answer": ["7", "x"]}), pf)
    for path in (jl, cs, pf):
        got = load_questions(path)
        assert [(q.text, q.gold) for q in got] == [("P1", "7"), ("P2", "x")], path
    assert [q.text for q in load_questions(jl, limit=1)] == ["P1"]


def test_question_defects_name_file_row_and_field(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "ok", "answer": "1"}\n{"text": "no question field"}\n')
    with pytest.raises(QuestionsError, match=r"q.jsonl: row 2: no question field"):
        load_questions(path)
    with pytest.raises(QuestionsError, match=r"row 1: field 'gold' missing"):
        load_questions(path, answer_field="gold")
    path.write_text('{"question": "ok"}\n{bad json\n')
    with pytest.raises(QuestionsError, match=r"line 2: not valid JSON"):
        load_questions(path)
    (tmp_path / "q.txt").write_text("x")
    with pytest.raises(QuestionsError, match="unknown questions format"):
        load_questions(tmp_path / "q.txt")


# ---------------------------------------------------------------------- the store holds what was served


@pytest.mark.slow
@pytest.mark.parametrize("api", ["completions", "chat"])
def test_store_matches_the_script_field_by_field(tmp_path, script, api):
    questions = write_questions(tmp_path)
    out = tmp_path / "scripted" / "bench.json.gz"
    with InferenceServer(script, echo_prefill=api == "chat") as server:
        result = Collector(config(server.url, questions, out, api=api)).run()
    assert not server.errors
    store = read(out)
    assert store["format"] == "autotts-store/1"
    meta = store["metadata"]
    assert meta["interval"] == DELTA and meta["model"] == "scripted" and meta["api"] == api
    assert meta["server_models"] == ["scripted"] and meta["server"] == server.url
    assert meta["probe"]["suffix"] == DYNASOR_SUFFIX and meta["probe"]["tokens"] == 20
    assert meta["equivalence"]["library"] == "math-verify" and meta["sampling"]["temperature"] == 0.7
    assert out.with_name(out.name + ".sha256").read_text().split()[0] == result.sha256
    gen_total = probe_total = 0
    for q, (obj, branches) in enumerate(zip(store["questions"], script.questions, strict=True)):
        gold = str(q % 3)
        expected = Expected()
        assert obj["gold_answer"] == gold and obj["probe_freq"] == DELTA
        assert obj["question"] == f"What is {q} times one?"
        for b, (row, extra, sb) in enumerate(
            zip(obj["each_branch"], obj["autotts"]["branches"], branches, strict=True)
        ):
            probes, tokens, final = row
            where = f"q{q}/b{b}"
            assert tokens == sum(sb.tokens), where
            assert probes == [expected(close_boxed(p)) for p in sb.probes], where
            text = "".join(sb.texts)
            boxed = last_boxed(text) or None  # an empty box is no answer: the final probe decides
            want_final = expected(boxed if boxed is not None else close_boxed(sb.final_probe))
            assert final == want_final, where
            assert obj["final_answers_trace"][b] == final
            assert extra["finish_reason"] == sb.finish
            assert extra["interval_tokens"] == sb.tokens
            assert extra["confidence"] == pytest.approx(sb.confidence, abs=1e-5)
            assert extra["probe_replies"] == sb.probes
            assert extra["final_source"] == ("boxed" if boxed is not None else "probe")
            # probe tokens are the server's usage figures, counted apart from the branch
            assert extra["probe_tokens"] == [max(1, len(p) // 2) for p in sb.probes]
            gen_total += tokens
            probe_total += sum(extra["probe_tokens"]) + extra["final_probe_tokens"]
    assert meta["tokens"] == {"generated": gen_total, "probes": probe_total}
    # each interval and probe was requested exactly once
    served = [s for s in server.served]
    assert len(served) == len(set(served))


@pytest.mark.slow
def test_a_reply_cut_short_by_the_context_window_ends_the_branch(tmp_path, script):
    # llama.cpp answers "length" with fewer tokens than asked when its context is full: asking again
    # would fail the same way, so the branch ends there
    branch = script.questions[0][0]
    assert len(branch.texts) < N and branch.tokens[-1] < DELTA
    branch.finish = "length"
    questions = write_questions(tmp_path)
    out = tmp_path / "m" / "b.json.gz"
    with InferenceServer(script) as server:
        Collector(config(server.url, questions, out)).run()
    assert not server.errors
    extra = read(out)["questions"][0]["autotts"]["branches"][0]
    assert extra["finish_reason"] == "length" and extra["interval_tokens"] == branch.tokens


@pytest.mark.slow
def test_collected_store_loads_and_confidence_is_revealed_only_by_advances(tmp_path, script):
    questions = write_questions(tmp_path)
    out = tmp_path / "scripted" / "bench.json.gz"
    with InferenceServer(script) as server:
        Collector(config(server.url, questions, out)).run()
    store = load_store_file(out)
    assert store.name == "scripted/bench" and store.metadata["branches"] == B
    question = store.questions[0]
    episode = Episode(question, seed=0, max_branches=B)
    assert episode.has_confidence
    (bid,) = episode.spawn(1)
    branch = episode._src[bid]
    assert len(branch.confidence) == branch.probes + 1
    assert episode.confidence(bid) == list(branch.confidence[:1])
    while episode.is_live(bid):
        episode.advance([bid])
    assert episode.confidence(bid) == list(branch.confidence)
    (other,) = episode.read_full(1)  # read whole: all its intervals were generated
    assert episode.confidence(episode.opened - 1) == list(episode._src[episode.opened - 1].confidence)
    assert other == episode.answer(episode.opened - 1)


def test_upstream_store_has_no_confidence(replay_data):
    from autotts.data import load_store

    episode = Episode(load_store("Qwen3-4B/aime24").questions[0], seed=0)
    (bid,) = episode.spawn(1)
    assert not episode.has_confidence
    with pytest.raises(EpisodeError, match="carries none"):
        episode.confidence(bid)


@pytest.mark.slow
def test_extended_store_defects_name_the_field(tmp_path, script):
    questions = write_questions(tmp_path)
    out = tmp_path / "scripted" / "bench.json.gz"
    with InferenceServer(script) as server:
        Collector(config(server.url, questions, out)).run()
    store = read(out)
    bad = tmp_path / "bad.json"
    store["questions"][1]["autotts"]["branches"][2]["confidence"].append(0.3)
    bad.write_text(json.dumps(store))
    with pytest.raises(StoreError, match=r"bad.json: question 1: field 'autotts.branches\[2\].confidence'"):
        load_store_file(bad)
    store = read(out)
    store["questions"][0]["autotts"]["branches"][0]["interval_tokens"][0] += 1
    bad.write_text(json.dumps(store))
    with pytest.raises(StoreError, match=r"question 0: field 'autotts.branches\[0\].interval_tokens'.*summing"):
        load_store_file(bad)
    store["format"] = "autotts-store/9"
    bad.write_text(json.dumps(store))
    with pytest.raises(StoreError, match="unknown store format"):
        load_store_file(bad)
    # the questions list alone is an upstream store
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps([{k: v for k, v in q.items() if k != "autotts"} for q in read(out)["questions"]]))
    assert len(load_store_file(plain).questions) == Q


# ---------------------------------------------------------------------- faults


@pytest.mark.slow
def test_faults_are_retried_and_change_nothing(tmp_path, script):
    questions = write_questions(tmp_path)
    clean_out = tmp_path / "a" / "m" / "bench.json.gz"
    with InferenceServer(script) as server:
        Collector(config(server.url, questions, clean_out)).run()
    faulty_out = tmp_path / "b" / "m" / "bench.json.gz"
    faults = ["429", "500", "503", "timeout", "drop", "drop_mid", "429"]
    with InferenceServer(script, faults=faults, slow=1.5) as server:
        result = Collector(config(server.url, questions, faulty_out)).run()
    assert server.faulted == faults and not server.errors
    assert result.retries >= len(faults)
    assert content(read(faulty_out)) == content(read(clean_out))


def test_a_non_retryable_error_stops_with_the_server_message(tmp_path, script):
    questions = write_questions(tmp_path)
    bad_script = make_script(0, Q, B, DELTA, DYNASOR_SUFFIX, max_intervals=N)
    with InferenceServer(bad_script) as server:
        cfg = config(server.url, questions, tmp_path / "m" / "b.json.gz", seed=99)  # seeds the script lacks
        with pytest.raises(BackendError, match="HTTP 400: unknown seed"):
            Collector(cfg).run()


@pytest.mark.slow
def test_retries_give_up_after_the_attempts(tmp_path, script):
    questions = write_questions(tmp_path)
    with InferenceServer(script, faults=["503"] * 50) as server:
        cfg = config(server.url, questions, tmp_path / "m" / "b.json.gz", retries=2, concurrency=1)
        with pytest.raises(BackendError, match="gave up after 2 attempts"):
            Collector(cfg).run()


# ---------------------------------------------------------------------- journal and resume


@pytest.mark.slow
def test_resume_reuses_the_journal_and_refuses_other_settings(tmp_path, script):
    questions = write_questions(tmp_path)
    out = tmp_path / "m" / "b.json.gz"
    with InferenceServer(script) as server:
        Collector(config(server.url, questions, out)).run()
        first = len(server.served)
        again = Collector(config(server.url, questions, out)).run()
        assert len(server.served) == first  # everything came from the journal
        assert again.resumed_records == first
        with pytest.raises(JournalError, match=r"different collection \(changed: temperature\)"):
            Collector(config(server.url, questions, out, temperature=0.9)).run()
        Collector(config(server.url, questions, out, temperature=0.9), fresh=True)
    jpath = journal_path(out)
    lines = jpath.read_text().splitlines()
    jpath.write_text("\n".join(lines[:3] + ["{broken"] + lines[3:]) + "\n")
    with pytest.raises(JournalError, match="line 4: damaged record"):
        Collector(config("http://127.0.0.1:9/v1", questions, out)).run()


def test_journal_drops_a_torn_tail_and_a_torn_header(tmp_path):
    path = tmp_path / "j.jsonl"
    header = {"fingerprint": "f", "config": {"a": 1}}
    journal = Journal(path)
    assert journal.start(header, fresh=False) == []
    journal.append({"kind": "interval", "q": 0, "b": 0, "k": 0})
    journal.close()
    with path.open("a") as handle:
        handle.write('{"kind": "probe", "q"')  # killed mid-write
    journal = Journal(path)
    assert journal.start(header, fresh=False) == [{"kind": "interval", "q": 0, "b": 0, "k": 0}]
    journal.append({"kind": "probe", "q": 0, "b": 0, "k": 0})
    journal.close()
    assert [r["kind"] for r in Journal(path).read()] == ["header", "interval", "probe"]
    path.write_text('{"kind": "hea')  # killed while writing the header
    journal = Journal(path)
    assert journal.start(header, fresh=False) == []
    journal.close()
    assert Journal(path).read()[0]["fingerprint"] == "f"


@pytest.mark.slow
def test_kill_9_then_resume_loses_nothing_and_repeats_nothing(tmp_path):
    questions = write_questions(tmp_path, n=3)
    script = make_script(0, 3, 6, DELTA, DYNASOR_SUFFIX, max_intervals=N)
    reference = tmp_path / "ref" / "m" / "bench.json.gz"
    out = tmp_path / "run" / "m" / "bench.json.gz"
    args = [
        "--model",
        "scripted",
        "--questions",
        str(questions),
        "--branches",
        "6",
        "--interval",
        str(DELTA),
        "--max-tokens",
        str(N * DELTA),
        "--top-logprobs",
        "3",
        "--concurrency",
        "2",
        "--progress-every",
        "0.2",
    ]
    with InferenceServer(script) as server:
        Collector(config(server.url, questions, reference, branches=6, concurrency=2)).run()
    with InferenceServer(script, delay=0.02) as server:
        proc = subprocess.Popen(
            [*AUTOTTS, "collect", "--base-url", server.url, *args, "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        jpath = journal_path(out)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill once some, not all, work is journaled
            if jpath.exists() and len(jpath.read_text().splitlines()) > 15:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert not out.exists()
        done_before = {
            (r["kind"], r["q"], r["b"], r.get("k", -1))
            for r in map(json.loads, [ln for ln in jpath.read_text().splitlines()[1:] if ln.endswith("}")])
        }
        assert 15 <= len(done_before) < len(server.served) + 5
        served_before = len(server.served)
        resumed = subprocess.run(
            [*AUTOTTS, "collect", "--base-url", server.url, *args, "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert "resuming from" in resumed.stderr and "tok/s" in resumed.stderr
        after = server.served[served_before:]
    assert not server.errors
    assert not done_before & set(after), "a journaled request was generated again"
    assert content(read(out)) == content(read(reference))


# ---------------------------------------------------------------------- command line


@pytest.mark.slow
def test_dry_run_estimates_before_sending_anything(tmp_path):
    questions = write_questions(tmp_path)
    cfg = config("http://127.0.0.1:9/v1", questions, tmp_path / "m" / "b.json.gz", probe_tokens=10)
    est = estimate(cfg, (1.0, 2.0))
    assert est.output_tokens == Q * B * (N * DELTA + N * 10)
    assert est.requests == Q * B * 2 * N
    assert est.usd == pytest.approx((est.input_tokens * 1.0 + est.output_tokens * 2.0) / 1e6, abs=1e-4)
    result = subprocess.run(
        [*AUTOTTS, "collect", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--questions", str(questions),
         "--out", str(tmp_path / "m" / "b.json.gz"), "--branches", str(B), "--interval", str(DELTA),
         "--max-tokens", str(N * DELTA), "--probe-tokens", "10", "--dry-run", "--prices", "1,2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"{est.output_tokens:,}" in result.stdout and "cost" in result.stdout
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_cli_collect_import_list_and_eval(tmp_path, script):
    questions = write_questions(tmp_path)
    out = tmp_path / "stores" / "scripted" / "bench.json.gz"
    data = tmp_path / "data"
    env = {**os.environ, "AUTOTTS_DATA_DIR": str(data)}
    with InferenceServer(script) as server:
        result = subprocess.run(
            [*AUTOTTS, "collect", "--base-url", server.url, "--model", "scripted", "--questions", str(questions),
             "--out", str(out), "--branches", str(B), "--interval", str(DELTA), "--max-tokens", str(N * DELTA),
             "--top-logprobs", "3"],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "collect: branches 8/8" in result.stderr
    imported = subprocess.run(
        [*AUTOTTS, "data", "import", str(out), "--name", "my-model/bench"], capture_output=True, text=True, env=env
    )
    assert imported.returncode == 0, imported.stderr
    assert (data / "my-model" / "bench.json.gz.sha256").is_file()
    listed = subprocess.run([*AUTOTTS, "data", "list"], capture_output=True, text=True, env=env)
    assert "my-model/bench" in listed.stdout
    for store in ("my-model/bench", "my-model/*", str(out)):
        ev = subprocess.run(
            [*AUTOTTS, "eval", "-c", "sc", "-c", "cmc", "--store", store, "--beta", "0", "--seeds", "3", "--json",
             "-j", "1"],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert ev.returncode == 0, ev.stderr
        rows = [r for r in json.loads(ev.stdout) if not r["store"].startswith("mean")]
        assert {r["controller"] for r in rows} == {"sc", "cmc"}
        assert all(0 <= r["accuracy"] <= 100 and r["tokens"] > 0 for r in rows)
    # a tampered file is refused against its checksum
    raw = json.loads(gzip.decompress(out.read_bytes()))
    raw["questions"][0]["gold_answer"] = "999"
    out.write_bytes(gzip.compress(json.dumps(raw).encode()))
    refused = subprocess.run(
        [*AUTOTTS, "data", "import", str(out), "--name", "my-model/other"], capture_output=True, text=True, env=env
    )
    assert refused.returncode == 2 and "SHA-256" in refused.stderr
    out.with_name(out.name + ".sha256").unlink()
    taken = subprocess.run(
        [*AUTOTTS, "data", "import", str(out), "--name", "Qwen3-4B/aime24"], capture_output=True, text=True, env=env
    )
    assert taken.returncode == 2 and "published store" in taken.stderr


@pytest.mark.slow
def test_imported_collected_stores_feed_discover(tmp_path):
    # discovery's β grid reaches 64 branches: collect full-size pools from the scripted server
    data = tmp_path / "data"
    env = {**os.environ, "AUTOTTS_DATA_DIR": str(data)}
    for bench, n in (("search", 2), ("held", 2)):
        questions = tmp_path / f"{bench}.jsonl"
        rows = [{"question": f"{bench} question {i}?", "answer": str(i % 3)} for i in range(n)]
        questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
        out = tmp_path / "stores" / "scripted" / f"{bench}.json.gz"
        script = make_script(0, n, 64, DELTA, DYNASOR_SUFFIX, max_intervals=4)
        with InferenceServer(script) as server:
            Collector(config(server.url, questions, out, branches=64, max_tokens=4 * DELTA, concurrency=16)).run()
        imported = subprocess.run(
            [*AUTOTTS, "data", "import", str(out), "--name", f"scripted/{bench}"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert imported.returncode == 0, imported.stderr
    run = subprocess.run(
        [*AUTOTTS, "discover", "--rounds", "1", "--search-stores", "scripted/search", "--heldout-stores",
         "scripted/held", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "run" / "rounds" / "001" / "candidate.py").is_file()
