"""A multiple-choice store collected from a real model, then judged as a user would: Gemma 3 270M
served by llama.cpp's ``llama-server`` on 127.0.0.1 (the server and model of ``test_collect_e2e``),
``autotts collect --answer-type choice`` on a tiny GPQA-shaped CSV with shuffled options,
``autotts data import``, ``autotts eval`` (evo, CMC, SC) and a discovery run judged on that store
(searched on a published math store, held out on the multiple-choice one) rendered by ``autotts report``.

Kept small: two questions and a six-token budget per branch. It needs 64 branches per question,
because discovery and the report judge every policy against SC@64, which reads 64 (a smaller store is
refused with that reason); each branch is one interval plus, when the six tokens conclude nothing, one
final probe, so the real model's probe replies go through the choice extractor. The model is too small
for its answers to mean anything; the plumbing is what is checked.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys

import pytest

from autotts.data import load_store_file
from autotts.data.answertypes import option_letters
from autotts.data.fetch import data_dir
from test_collect_e2e import llama_server  # noqa: F401  (the fixture: a real llama-server on 127.0.0.1)
from test_report_support import CANDIDATE

AUTOTTS = [sys.executable, "-m", "autotts.cli"]
BRANCHES, DELTA, PROBE_TOKENS = 64, 6, 3
ROWS = [
    ("Which planet is known as the Red Planet?", "Mars", ["Venus", "Jupiter", "Saturn"]),
    ("How many legs does a spider have?", "Eight", ["Six", "Ten", "Four"]),
]


def run(*args: str, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    done = subprocess.run([*AUTOTTS, *args], capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, (args[0], done.stderr[-3000:])
    return done


@pytest.mark.slow
def test_choice_store_from_a_real_model_through_eval_and_report(tmp_path, llama_server):  # noqa: F811
    questions = tmp_path / "gpqa_tiny.csv"
    with questions.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Question", "Correct Answer", *(f"Incorrect Answer {i}" for i in (1, 2, 3))])
        writer.writerows([q, right, *wrong] for q, right, wrong in ROWS)
    # the data directory: the published search store (linked) plus the store imported below
    data = tmp_path / "data"
    data.mkdir()
    (data / "Qwen3-4B").symlink_to(data_dir() / "Qwen3-4B")
    env = {**os.environ, "AUTOTTS_DATA_DIR": str(data)}

    out = tmp_path / "gemma-3-270m" / "gpqa-tiny.json.gz"
    collect = run(
        "collect", "--base-url", llama_server, "--model", "gemma-3-270m", "--questions", str(questions),
        "--answer-type", "choice", "--shuffle-options", "7", "--branches", str(BRANCHES),
        "--interval", str(DELTA), "--max-tokens", str(DELTA), "--probe-tokens", str(PROBE_TOKENS),
        "--top-logprobs", "0", "--concurrency", "4", "--out", str(out), "--progress-every", "30", env=env,
    )  # fmt: skip
    assert "tok/s" in collect.stderr

    raw = json.loads(gzip.decompress(out.read_bytes()))
    kind = raw["metadata"]["answer_type"]
    assert kind["name"] == "choice" and kind["options"] == 4 and kind["shuffle_seed"] == 7
    assert raw["metadata"]["probe"]["suffix"].endswith("The answer is (")
    for (stem, right, wrong), obj in zip(ROWS, raw["questions"], strict=True):
        extras = obj["autotts"]
        # the options as shown: a permutation of the file's, gold = the letter the correct one landed on
        assert sorted(extras["choices"]) == sorted([right, *wrong])
        assert [[right, *wrong][i] for i in extras["choice_order"]] == extras["choices"]
        assert obj["gold_answer"] == "ABCD"[extras["choices"].index(right)]
        assert obj["question"].startswith(stem) and f"({obj['gold_answer']}) {right}" in obj["question"]
        for (probes, tokens, final), extra in zip(obj["each_branch"], extras["branches"], strict=True):
            # every stored answer is an option letter or ERR, whatever the model wrote
            assert probes == [] and 0 <= tokens <= DELTA and final in ("A", "B", "C", "D", "ERR")
            head = (extra["final_probe_reply"] or "").lstrip()
            if extra["final_source"] == "probe" and head[:1].isalpha():  # the reply continues "The answer is ("
                closes = len(head) > 1 and head[0].isalpha() and head[1:].lstrip().startswith(")")
                alone = len(head.strip()) == 1 and head[0].isalpha()
                letter = head[0].upper() if closes or alone else "ERR"
                assert final == (letter if letter in "ABCD" else "ERR"), extra["final_probe_reply"]
    store = load_store_file(out)
    assert store.answer_type == "choice" and option_letters(4) == ("A", "B", "C", "D")

    run("data", "import", str(out), "--name", "gemma-3-270m/gpqa-tiny", env=env)
    listed = run("data", "list", env=env).stdout
    assert "gemma-3-270m/gpqa-tiny" in listed and "choice" in listed

    result = run(
        "eval", "-c", "evo", "-c", "cmc", "-c", "sc", "--store", "gemma-3-270m/gpqa-tiny", "--beta", "0,1",
        "--seeds", "5", "--json", "-j", "1", env=env,
    )  # fmt: skip
    rows = [r for r in json.loads(result.stdout) if r["store"] == "gemma-3-270m/gpqa-tiny"]
    assert {r["controller"] for r in rows} == {"evo", "cmc", "sc"} and len(rows) == 6
    assert all(0 <= r["accuracy"] <= 100 and r["tokens"] > 0 for r in rows)

    # the held-out protocol: searched on a published math store, judged on the multiple-choice one
    script = tmp_path / "propose.py"
    script.write_text(f"import sys, pathlib\npathlib.Path(sys.argv[1], 'candidate.py').write_text({CANDIDATE!r})\n")
    folder = tmp_path / "run"
    run(
        "discover", "--proposer", "command", "--command", f"{sys.executable} {script}", "--rounds", "1",
        "--out", str(folder), "--betas", "0,1", "--seeds", "2", "--repairs", "0", "--baselines", "sc",
        "--baseline-seeds", "1", "--jobs", "1", "--search-stores", "Qwen3-4B/aime24",
        "--heldout-stores", "gemma-3-270m/gpqa-tiny", env=env,
    )  # fmt: skip
    report = tmp_path / "report"
    done = run("report", str(folder), "--out", str(report), "--card-seeds", "2", "--jobs", "1", "--trusted", env=env)
    assert "report written to" in done.stdout
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "gemma-3-270m/gpqa-tiny" in page
    with (report / "heldout_table1.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert {r["store"] for r in table} == {"gemma-3-270m/gpqa-tiny"}
    assert all(0 <= float(r["accuracy"]) <= 100 for r in table)
