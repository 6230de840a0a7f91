"""Answer types: adversarial extraction for each type, canonical forms at load time, the
multiple-choice question loaders, and ``autotts collect --answer-type choice`` against the scripted
loopback server (the type's probe suffix and extractor, store metadata)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from autotts.data import StoreError, load_store_file
from autotts.data.answertypes import (
    CHOICE_PROBE_SUFFIX,
    AnswerSpec,
    AnswerTypeError,
    canonicaliser,
    extract_choice,
    format_options,
    normalise_exact,
    option_letters,
    probe_choice,
)
from autotts.data.collect import CollectConfig, Collector, QuestionsError, load_questions
from fake_inference import InferenceServer, Script, ScriptBranch

ABCD = option_letters(4)

# ---------------------------------------------------------------- choice extraction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(B)", "B"),
        ("Answer: b", "B"),
        ("the answer is B.", "B"),
        ("The correct answer is (c)", "C"),
        ("Final answer: **D**", "D"),
        ("The answer is: A", "A"),
        ("\\boxed{C}", "C"),
        ("so \\boxed{\\text{(b)}} it is", "B"),
        ("answer would be option D, since", "D"),
        ("I think the answer is b, not d", "B"),
        ("b", "B"),
        ("  C. ", "C"),
        # an answer later in the text replaces an earlier one; a boxed letter beats both
        ("The answer is (A). Wait, no: the answer is (C).", "C"),
        ("\\boxed{B} ... the answer is (C)", "B"),
        # a cue is stronger than an option named in passing
        ("The answer is (C). Option (A) is too small.", "C"),
        # out of the option set: ERR, and no fall-back to a weaker cue
        ("(E)", "ERR"),
        ("The answer is (A)? No, the answer is E.", "ERR"),
        ("\\boxed{F}", "ERR"),
        ("the answer is X", "ERR"),
        # a letter inside a word never counts
        ("Because", "ERR"),
        ("Both are wrong", "ERR"),
        ("Answer: Because the field is uniform", "ERR"),
        ("the answer is a bit unclear", "ERR"),
        ("the answer is I think not clear", "ERR"),  # the pronoun, not option I
        ("The answer is A because the field is uniform", "A"),
        ("(Because)", "ERR"),
        ("\\boxed{Cat}", "ERR"),
        ("ABC", "ERR"),
        ("the answers differ", "ERR"),
        ("Dad", "ERR"),
        ("", "ERR"),
        ("no idea", "ERR"),
    ],
)
def test_choice_extraction(text: str, expected: str) -> None:
    assert extract_choice(text, ABCD) == expected


def test_choice_extraction_respects_the_option_count() -> None:
    assert extract_choice("(E)", option_letters(5)) == "E"
    assert extract_choice("The answer is I.", option_letters(10)) == "I"
    assert extract_choice("The answer is I think (J)", option_letters(10)) == "J"
    assert extract_choice("(C)", option_letters(2)) == "ERR"
    assert extract_choice(None, ABCD) == "ERR" and extract_choice("ERR", ABCD) == "ERR"
    with pytest.raises(AnswerTypeError, match="2 to 26 options"):
        option_letters(1)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("B)", "B"),
        (" b) because water", "B"),
        ("**C**) Mars", "C"),
        ("D", "D"),
        ("E)", "ERR"),  # outside a four-option set
        ("X) The answer is", "ERR"),  # the model copying the instruction's placeholder
        ("Because) it is", "ERR"),
        ("B or C)", "ERR"),  # the parenthesis is not closed by a letter alone
        ("", "ERR"),
        ("The answer is B", "ERR"),  # the opened parenthesis never closes
    ],
)
def test_probe_answer_is_the_letter_closing_the_suffix(reply: str, expected: str) -> None:
    assert probe_choice(reply, ABCD) == expected


def test_probe_under_another_suffix_reads_the_reply() -> None:
    assert probe_choice("I pick (C).", ABCD, suffix_opens_paren=False) == "C"
    assert probe_choice("I pick (C).", ABCD, suffix_opens_paren=True) == "ERR"


# ---------------------------------------------------------------- exact and math


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Paris", "paris"),
        ("  PARIS. ", "paris"),
        ("$**Paris**$.", "paris"),
        ("New   York\n City", "new york city"),
        ("ｆｕｌｌ width", "full width"),  # NFKC
        ("3.14", "3.14"),  # only a trailing full stop goes
        ("U.S.", "u.s"),
        ("", "ERR"),
        ("$ $", "ERR"),
        ("ERR", "ERR"),
    ],
)
def test_exact_normalisation(raw: str, canonical: str) -> None:
    assert normalise_exact(raw) == canonical


def test_exact_keeps_different_answers_apart() -> None:
    canon = canonicaliser(AnswerSpec("exact"), None)
    assert canon("Paris") == canon("paris.") != canon("Lyon")
    assert canon("1/2") != canon("0.5")  # exact is not math


def test_math_canonical_form_is_the_class_representative() -> None:
    pytest.importorskip("math_verify")
    canon = canonicaliser(AnswerSpec("math"), "\\frac{1}{2}")
    assert canon("0.5") == canon("1/2") == "\\frac{1}{2}"
    assert canon("2") == "2" and canon("2.0") == "2"
    assert canon("ERR") == "ERR"


def test_unknown_type_and_choice_without_letters_are_refused() -> None:
    with pytest.raises(AnswerTypeError, match="unknown answer type 'free'"):
        AnswerSpec("free")
    with pytest.raises(AnswerTypeError, match="option letters"):
        AnswerSpec("choice")


# ---------------------------------------------------------------- stores: type in metadata, canonical at load


def extended(tmp_path: Path, answer_type: object, questions: list[dict], name: str = "s.json") -> Path:
    meta: dict = {"name": "m/s"}
    if answer_type is not None:
        meta["answer_type"] = answer_type
    path = tmp_path / name
    path.write_text(json.dumps({"format": "autotts-store/1", "metadata": meta, "questions": questions}))
    return path


def question(gold: str, branches: list[list], **extras: object) -> dict:
    obj = {"question": "q", "gold_answer": gold, "probe_freq": 10, "each_branch": branches}
    if extras:
        obj["autotts"] = extras
    return obj


def test_choice_store_is_canonical_after_loading(tmp_path: Path) -> None:
    branches = [[["(b)", "Because"], 30, "Answer: b"], [["E"], 20, "(C)"], [[], 5, "ERR"]]
    path = extended(tmp_path, {"name": "choice"}, [question("b", branches, choices=["w", "x", "y", "z"])])
    store = load_store_file(path, "m/s")
    assert store.answer_type == "choice" and store.summary().answer_type == "choice"
    q = store.questions[0]
    assert q.gold == "B"
    assert [b.steps for b in q.branches] == [("B", "ERR", "B"), ("ERR", "C"), ("ERR",)]
    assert [b.final for b in q.branches] == ["B", "C", "ERR"]


def test_choice_store_with_a_store_wide_option_count(tmp_path: Path) -> None:
    path = extended(tmp_path, {"name": "choice", "options": 2}, [question("A", [[["B"], 10, "(C)"]])])
    (branch,) = load_store_file(path, "m/s").questions[0].branches
    assert branch.steps == ("B", "ERR")  # C is not an option of a two-option question


def test_choice_store_defects_name_the_field(tmp_path: Path) -> None:
    path = extended(tmp_path, {"name": "choice"}, [question("E", [[[], 5, "A"]], choices=["w", "x", "y", "z"])])
    with pytest.raises(StoreError, match=r"s.json: question 0: field 'gold_answer': must be one of the option"):
        load_store_file(path, "m/s")
    path = extended(tmp_path, {"name": "choice"}, [question("A", [[[], 5, "A"]])])
    with pytest.raises(StoreError, match=r"question 0: field 'autotts.choices'.*option list"):
        load_store_file(path, "m/s")
    path = extended(tmp_path, {"name": "choice"}, [question("A", [[[], 5, "A"]], choices=["only one"])])
    with pytest.raises(StoreError, match=r"field 'autotts.choices': must be a list of 2 to 26"):
        load_store_file(path, "m/s")
    path = extended(tmp_path, {"name": "free-form"}, [question("A", [[[], 5, "A"]])])
    with pytest.raises(StoreError, match=r"field 'metadata.answer_type.name': unknown answer type 'free-form'"):
        load_store_file(path, "m/s")
    path = extended(tmp_path, {"name": "choice", "options": 40}, [question("A", [[[], 5, "A"]])])
    with pytest.raises(StoreError, match=r"field 'metadata.answer_type.options'"):
        load_store_file(path, "m/s")


def test_exact_store_is_normalised_and_math_store_is_kept(tmp_path: Path) -> None:
    branches = [[[" Paris "], 10, "paris."], [["Lyon"], 10, "PARIS"]]
    store = load_store_file(extended(tmp_path, "exact", [question("Paris", branches)]), "m/s")
    assert store.answer_type == "exact" and store.questions[0].gold == "paris"
    assert [b.steps for b in store.questions[0].branches] == [("paris", "paris"), ("lyon", "paris")]
    # math classes are made when a store is built; loading keeps its strings
    store = load_store_file(extended(tmp_path, {"name": "math"}, [question("1/2", [[["0.5"], 10, "1/2"]])]), "m/s")
    assert store.answer_type == "math" and store.questions[0].branches[0].steps == ("0.5", "1/2")


def test_type_of_stores_that_record_none(tmp_path: Path) -> None:
    # collected before answer types were recorded: math-verify classes
    path = tmp_path / "old.json"
    meta = {"equivalence": {"library": "math-verify"}}
    old = {"format": "autotts-store/1", "metadata": meta, "questions": [question("1", [[[], 5, "1"]])]}
    path.write_text(json.dumps(old))
    assert load_store_file(path, "m/old").answer_type == "math"
    # the upstream format (the published stores): exact, strings as published
    path = tmp_path / "up.json"
    path.write_text(json.dumps([question(" No ", [[[" No "], 5, "No."]])]))
    store = load_store_file(path, "m/up")
    assert store.answer_type == "exact" and store.questions[0].branches[0].steps == (" No ", "No.")


def test_published_store_loads_as_exact_and_unchanged() -> None:
    from autotts.data import load_store
    from autotts.data.store import read_json

    try:
        store = load_store("Qwen3-4B/aime24")
    except Exception as exc:  # the stores are installed by scripts/setup.sh
        pytest.skip(f"published store not installed: {exc}")
    assert store.answer_type == "exact"
    raw = read_json(Path(store.source))
    for obj, q in zip(raw, store.questions, strict=True):
        assert q.gold == obj["gold_answer"]
        assert [list(b.steps) for b in q.branches] == [[*p, f] for p, _t, f in obj["each_branch"]]


# ---------------------------------------------------------------- question loaders


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


GPQA_HEADER = ["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"]


def test_gpqa_csv_without_shuffle_keeps_the_file_order(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "g.csv", [GPQA_HEADER, ["Q1?", "right", "w1", "w2", "w3"]])
    (q,) = load_questions(path, answer_type="choice")
    assert q.gold == "A" and q.choices == ("right", "w1", "w2", "w3") and q.choice_order == (0, 1, 2, 3)
    assert q.text == format_options("Q1?", q.choices) == "Q1?\n\n(A) right\n(B) w1\n(C) w2\n(D) w3"


def test_shuffle_is_per_question_recorded_and_reproducible(tmp_path: Path) -> None:
    rows = [GPQA_HEADER] + [[f"Q{i}?", f"right{i}", f"a{i}", f"b{i}", f"c{i}"] for i in range(40)]
    path = write_csv(tmp_path / "g.csv", rows)
    first = load_questions(path, answer_type="choice", shuffle_seed=3)
    assert first == load_questions(path, answer_type="choice", shuffle_seed=3)
    assert first != load_questions(path, answer_type="choice", shuffle_seed=4)
    for i, q in enumerate(first):
        source = [f"right{i}", f"a{i}", f"b{i}", f"c{i}"]
        assert q.choice_order == tuple(int(k) for k in np.random.default_rng([3, i]).permutation(4))
        assert q.choices == tuple(source[k] for k in q.choice_order)
        assert q.choices["ABCD".index(q.gold)] == f"right{i}"
        assert f"({q.gold}) right{i}" in q.text
    # the gold letter moves: over 40 questions every position is used
    assert {q.gold for q in first} == set("ABCD")


def test_jsonl_choices_with_letter_index_text_and_arc_labels(tmp_path: Path) -> None:
    rows = [
        {"question": "a", "choices": ["x", "y", "z"], "answer": "(b)"},
        {"question": "b", "choices": ["x", "y", "z"], "answer": 2},  # 0-based, as in MMLU
        {"question": "c", "options": ["x", "y", "z"], "answer": "x"},  # an option's text
        {"question": "d", "choices": {"text": ["x", "y"], "label": ["1", "2"]}, "answerKey": "2"},  # ARC
        {"question": "e", "choices": ["x", "y"]},  # no gold
        {"question": "f", "correct_answer": "y", "incorrect_answers": ["x", "z"]},  # GPQA-shaped JSON
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    golds = [q.gold for q in load_questions(path, answer_type="choice")]
    assert golds == ["B", "C", "A", "B", None, "A"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"question": "a", "choices": ["x", "y"], "answer": "C"}, r"row 1: field 'answer' must be an option letter"),
        ({"question": "a", "choices": ["x", "y"], "answer": 5}, r"row 1: field 'answer' is index 5, but there are 2"),
        ({"question": "a", "choices": ["x"], "answer": 0}, r"row 1: field 'choices' must be a list of 2 to 26"),
        ({"question": "a", "choices": ["x", "x"], "answer": 0}, r"row 1: two options have the same text"),
        ({"question": "a", "choices": ["x", ""], "answer": 0}, r"row 1: field 'choices\[1\]' must be a non-empty"),
        ({"question": "a", "answer": "A"}, r"row 1: no options \(looked for GPQA's"),
        ({"question": "a", "correct_answer": "x"}, r"row 1: field 'correct_answer' found but no 'Incorrect Answer"),
    ],
)
def test_choice_row_defects_name_the_file_row_and_field(tmp_path: Path, row: dict, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(QuestionsError, match=r"bad.jsonl: " + message):
        load_questions(path, answer_type="choice")


def test_shuffling_needs_the_choice_type(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": "a", "answer": "1"}) + "\n")
    with pytest.raises(QuestionsError, match="shuffling options needs --answer-type choice"):
        load_questions(path, shuffle_seed=1)


# ---------------------------------------------------------------- collect with the choice type


def choice_script(seed: int) -> Script:
    """Two questions × three branches of two intervals: what each branch says and each probe replies."""
    def branch(texts: list[str], probe: str, final_probe: str = "A)") -> ScriptBranch:
        return ScriptBranch(texts=texts, tokens=[8, 5], probes=[probe], final_probe=final_probe)

    return Script(
        seed=seed,
        probe_suffix=CHOICE_PROBE_SUFFIX,
        interval=8,
        questions=[
            [
                branch(["Mars is red. ", "So the answer is (C)."], "C) Mars"),
                branch(["Hmm (A) Jupiter? ", "Not sure."], "E)", final_probe="b) Venus"),
                branch(["Because ", "the answer is a bit hard"], "Because)", final_probe="X)"),
            ],
            [
                branch(["Eight legs. ", "Answer: b"], "B)"),
                branch(["Spiders ", "\\boxed{D}"], " d)"),
                branch(["Count: ", "the answer is (F)."], "A)"),
            ],
        ],
    )


@pytest.mark.slow
def test_collect_choice_uses_the_type_suffix_and_extractor(tmp_path: Path) -> None:
    rows = [
        {"question": "Which planet is red?", "choices": ["Jupiter", "Venus", "Mars", "Saturn"], "answer": "C"},
        {"question": "Legs of a spider?", "choices": ["Six", "Eight", "Ten", "Four"], "answer": 1},
    ]
    questions = tmp_path / "mc.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "scripted" / "mc.json.gz"
    script = choice_script(seed=5)
    cfg = CollectConfig(
        base_url="", model="scripted", questions=str(questions), out=str(out), branches=3, interval=8,
        max_tokens=16, top_logprobs=0, timeout=5, concurrency=3, seed=5, answer_type="choice",
    )  # fmt: skip
    with InferenceServer(script) as server:
        cfg.base_url = server.url
        Collector(cfg).run()
    assert not server.errors  # every probe ended with the choice suffix, every interval continued its text
    raw = json.loads(gzip.decompress(out.read_bytes()))
    meta = raw["metadata"]
    assert meta["answer_type"]["name"] == "choice" and meta["answer_type"]["options"] == 4
    assert meta["probe"]["suffix"] == CHOICE_PROBE_SUFFIX and meta["equivalence"] is None
    assert "The answer is" in meta["prompt_template"]
    got = [[(probes, final) for probes, _t, final in obj["each_branch"]] for obj in raw["questions"]]
    assert got == [
        [(["C"], "C"), (["ERR"], "B"), (["ERR"], "ERR")],  # "a bit" is no letter; the final probe's X is none
        [(["B"], "B"), (["D"], "D"), (["A"], "ERR")],  # (F) is outside A-D: ERR, not a probe
    ]
    sources = [[e["final_source"] for e in obj["autotts"]["branches"]] for obj in raw["questions"]]
    assert sources == [["boxed", "probe", "probe"], ["boxed", "boxed", "boxed"]]
    assert [obj["gold_answer"] for obj in raw["questions"]] == ["C", "B"]
    assert raw["questions"][0]["autotts"]["choices"] == ["Jupiter", "Venus", "Mars", "Saturn"]
    store = load_store_file(out)
    assert store.answer_type == "choice" and [q.gold for q in store.questions] == ["C", "B"]


# ---------------------------------------------------------------- import with a type


def test_import_types_an_upstream_file(tmp_path: Path) -> None:
    from autotts.data.fetch import FetchError
    from autotts.data.importing import import_store

    upstream = [question("(B)", [[["b", "Because"], 30, "The answer is C."], [["E"], 20, "answer: b"]])]
    path = tmp_path / "gpqa.json"
    path.write_text(json.dumps(upstream))
    root = tmp_path / "data"
    item = import_store(path, "m/gpqa", root, answer_type="choice", options=4)
    assert item.store.answer_type == "choice"
    installed = json.loads(gzip.decompress(item.path.read_bytes()))
    (obj,) = installed["questions"]
    assert obj["gold_answer"] == "B" and obj["autotts"]["gold_raw"] == "(B)"
    assert obj["each_branch"] == [[["B", "ERR"], 30, "C"], [["ERR"], 20, "B"]]
    assert obj["autotts"]["branches"][0] == {"probe_raw": ["b", "Because"], "final_raw": "The answer is C."}
    assert installed["metadata"]["answer_type"] == {"name": "choice", "options": 4}
    # the installed copy loads to the same canonical store
    assert load_store_file(item.path, "m/gpqa").questions == item.store.questions
    with pytest.raises(FetchError, match="needs --options N"):
        import_store(path, "m/gpqa2", root, answer_type="choice")
    with pytest.raises(FetchError, match="published stores are exact as published"):
        import_store(path, "Qwen3-4B/aime24", root, answer_type="exact")
    math_path = tmp_path / "math.json"
    math_path.write_text(json.dumps([question("1/2", [[["0.5"], 10, "\\frac{1}{2}"]])]))
    pytest.importorskip("math_verify")
    typed = import_store(math_path, "m/math", root, answer_type="math").store
    assert typed.answer_type == "math" and typed.questions[0].branches[0].steps == ("1/2", "1/2")


@pytest.mark.slow
def test_cli_refuses_bad_types_and_warns_about_position_bias(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write_csv(tmp_path / "g.csv", [GPQA_HEADER, ["Q1?", "r", "a", "b", "c"], ["Q2?", "r2", "a", "b", "c"]])
    base = [sys.executable, "-m", "autotts.cli", "collect", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
            "--questions", str(path), "--out", str(tmp_path / "m" / "g.json.gz"), "--dry-run"]  # fmt: skip
    bad = subprocess.run([*base, "--answer-type", "letters"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--answer-type must be one of math, choice, exact, got 'letters'" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad = subprocess.run([*base, "--shuffle-options", "1"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "need --answer-type choice" in bad.stderr
    warned = subprocess.run([*base, "--answer-type", "choice"], capture_output=True, text=True, timeout=120)
    assert warned.returncode == 0 and "every gold answer is (A)" in warned.stderr
    quiet = subprocess.run([*base, "--answer-type", "choice", "--shuffle-options", "2"], capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert quiet.returncode == 0 and "every gold answer" not in quiet.stderr and "dry run" in quiet.stdout


def test_discover_refuses_a_store_too_small_for_the_sc64_reference(tmp_path: Path) -> None:
    import subprocess
    import sys

    small = tmp_path / "m" / "tiny.json"
    small.parent.mkdir()
    small.write_text(json.dumps([question("A", [[[], 5, "A"]] * 3)]))
    done = subprocess.run(
        [sys.executable, "-m", "autotts.cli", "discover", "--proposer", "command", "--command", "true", "--rounds", "1",
         "--out", str(tmp_path / "run"), "--search-stores", str(small)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "has 3 branches per question" in done.stderr and "--branches 64" in done.stderr
    assert not (tmp_path / "run").exists()


def test_collect_exact_normalises_with_the_boxed_probe(tmp_path: Path) -> None:
    from autotts.data.collect import DYNASOR_SUFFIX

    questions = tmp_path / "capitals.jsonl"
    questions.write_text(json.dumps({"question": "Capital of France?", "answer": "Paris"}) + "\n")
    out = tmp_path / "scripted" / "capitals.json.gz"

    def branch(texts: list[str], probe: str, final_probe: str = "lyon}") -> ScriptBranch:
        return ScriptBranch(texts=texts, tokens=[8, 5], probes=[probe], final_probe=final_probe)

    script = Script(
        seed=2, probe_suffix=DYNASOR_SUFFIX, interval=8,
        questions=[[branch(["It is ", "\\boxed{PARIS.}"], " paris}"), branch(["Hmm ", "not sure"], "Lyon}"),
                    branch(["So ", "\\boxed{$Paris$}"], "Par")]],
    )  # fmt: skip
    cfg = CollectConfig(
        base_url="", model="scripted", questions=str(questions), out=str(out), branches=3, interval=8,
        max_tokens=16, top_logprobs=0, timeout=5, concurrency=3, seed=2, answer_type="exact",
    )  # fmt: skip
    with InferenceServer(script) as server:
        cfg.base_url = server.url
        Collector(cfg).run()
    assert not server.errors
    raw = json.loads(gzip.decompress(out.read_bytes()))
    assert raw["metadata"]["answer_type"]["name"] == "exact" and raw["metadata"]["equivalence"] is None
    (obj,) = raw["questions"]
    assert obj["gold_answer"] == "paris" and obj["autotts"]["gold_raw"] == "Paris"
    # "Par" never closes the box: ERR; the second branch boxed nothing, so its final probe decides
    assert [(p, f) for p, _t, f in obj["each_branch"]] == [(["paris"], "paris"), (["lyon"], "lyon"), (["ERR"], "paris")]
    assert load_store_file(out).answer_type == "exact"
