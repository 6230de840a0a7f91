"""Store loading, schema errors that name file / question / field, and fetch with checksums."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from autotts.data import FetchError, StoreError, fetch_store, load_store, load_store_file
from autotts.data.catalog import CONTENT_SHA256
from conftest import MIRROR

AUTOTTS = [sys.executable, "-m", "autotts.cli"]


def good_question() -> dict:
    return {
        "question": "q",
        "gold_answer": "7",
        "probe_freq": 500,
        "final_answers_trace": ["7", "8"],
        "each_branch": [[["7", "ERR"], 1200, "7"], [["8"], 700, "8"]],
    }


def write(tmp_path: Path, data: object, name: str = "bad.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_real_store_loads_with_its_published_shape():
    store = load_store("Qwen3-4B/aime24")
    assert len(store.questions) == 30
    assert all(len(q.branches) == 128 and q.probe_freq == 500 for q in store.questions)
    assert store.questions[0].gold == "204"
    summary = store.summary()
    assert summary.majority_accuracy == pytest.approx(80.0)


def test_plain_json_and_gzip_load_alike(tmp_path):
    data = [good_question()]
    plain = write(tmp_path, data, "s.json")
    packed = tmp_path / "s.json.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = load_store_file(plain), load_store_file(packed)
    assert a.questions == b.questions
    assert a.questions[0].branches[0].steps == ("7", "ERR", "7")


def mutate(change) -> list:
    questions = [good_question(), good_question()]
    change(questions[1])
    return questions


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda q: q.pop("gold_answer"), "gold_answer", "missing"),
        (lambda q: q["each_branch"][1].__setitem__(0, ["8", 3]), "each_branch[1].probe_answers", "list of strings"),
        (lambda q: q["each_branch"][0].__setitem__(0, "7"), "each_branch[0].probe_answers", "list of strings"),
        (lambda q: q["each_branch"][1].__setitem__(1, -5), "each_branch[1].branch_tokens", "negative"),
        (lambda q: q["each_branch"].pop(), "each_branch", "unequal count"),
        (lambda q: q.__setitem__("probe_freq", "500"), "probe_freq", "must be int"),
        (lambda q: q["each_branch"].__setitem__(0, [["7"], 10]), "each_branch[0]", "must be [probe_answers"),
    ],
)
def test_defects_name_file_question_and_field(tmp_path, change, field, words):
    path = write(tmp_path, mutate(change))
    with pytest.raises(StoreError) as info:
        load_store_file(path)
    message = str(info.value)
    assert str(path) in message and "question 1" in message and f"field '{field}'" in message and words in message


def test_bad_json_names_the_position(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"question": "q",')
    with pytest.raises(StoreError, match=r"broken.json: not valid JSON: .* line 1"):
        load_store_file(path)


@pytest.mark.slow
def test_data_check_cli_reports_defect_with_exit_2_and_no_traceback(tmp_path):
    path = write(tmp_path, mutate(lambda q: q["each_branch"][0].__setitem__(1, -1)))
    run = subprocess.run([*AUTOTTS, "data", "check", str(path)], capture_output=True, text=True)
    assert run.returncode == 2
    assert "question 1" in run.stderr and "branch_tokens" in run.stderr and "Traceback" not in run.stderr
    ok = subprocess.run([*AUTOTTS, "data", "check", str(MIRROR / "Qwen3-0.6B" / "aime24.json.gz")], capture_output=True)
    assert ok.returncode == 0


def test_fetch_from_folder_verifies_and_skips_when_present(tmp_path):
    item = fetch_store("Qwen3-0.6B/hmmt25", tmp_path, str(MIRROR))
    assert not item.skipped and item.sha256 == CONTENT_SHA256["Qwen3-0.6B/hmmt25"]
    assert hashlib.sha256(gzip.decompress(item.path.read_bytes())).hexdigest() == item.sha256
    assert fetch_store("Qwen3-0.6B/hmmt25", tmp_path, str(MIRROR)).skipped


def test_fetch_rejects_a_tampered_mirror_and_installs_nothing(tmp_path):
    mirror = tmp_path / "mirror" / "Qwen3-0.6B"
    mirror.mkdir(parents=True)
    data = json.loads(gzip.decompress((MIRROR / "Qwen3-0.6B" / "aime24.json.gz").read_bytes()))
    data[0]["gold_answer"] = "999"
    (mirror / "aime24.json").write_text(json.dumps(data))
    target = tmp_path / "data"
    with pytest.raises(FetchError, match="SHA-256"):
        fetch_store("Qwen3-0.6B/aime24", target, str(tmp_path / "mirror"))
    assert not list(target.rglob("*.json*"))


@pytest.fixture()
def http_mirror(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a copy of the mirror folder."""
    root = tmp_path / "www"
    shutil.copytree(MIRROR, root)
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.slow
def test_fetch_cli_from_a_loopback_url(tmp_path, http_mirror):
    target = tmp_path / "from-url"
    run = subprocess.run(
        [*AUTOTTS, "data", "fetch", "--from", http_mirror, "--data-dir", str(target), "--store", "Qwen3-8B/aime24"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "1 installed" in run.stdout
    assert load_store_file(target / "Qwen3-8B" / "aime24.json.gz").questions[0].gold
    missing = subprocess.run(
        [
            *AUTOTTS,
            "data",
            "fetch",
            "--from",
            http_mirror + "/nowhere",
            "--data-dir",
            str(target),
            "--store",
            "Qwen3-8B/aime25",
        ],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "not found" in missing.stderr and "Traceback" not in missing.stderr
