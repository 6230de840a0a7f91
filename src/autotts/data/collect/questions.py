"""Reading the questions to collect from JSONL, CSV or Parquet files.

A row needs a question; a gold answer is optional (a store without gold answers can still be
collected and inspected, but every grade against it is 0). Field names are configurable; by default
the first present of a few common names is used. Every defect names the file, the row and the field.

Multiple-choice rows (``answer_type="choice"``) come in two common shapes:

* **GPQA's**: the question, a ``Correct Answer`` column and ``Incorrect Answer 1..N`` columns (or, in
  JSON, ``correct_answer`` and an ``incorrect_answers`` list); the options are the correct answer
  followed by the incorrect ones, so every gold is ``A`` unless the order is shuffled;
* **a choices list**: ``choices`` (or ``options``; ARC's ``{"text": [...], "label": [...]}`` too) and
  an answer that is a letter (``"B"``, ``"(b)"``), a 0-based index (``2``, as in MMLU) or the text of
  one option.

With a shuffle seed, each question's options are put in the order of
``numpy.random.default_rng([seed, index]).permutation(n)`` (``index``: the question's position in the
file's selection), recorded per question as ``choice_order``, so that the gold letter is not always in
the same place (position bias is a known confound).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..answertypes import MAX_OPTIONS, check_answer_type, format_options, option_letters

QUESTION_FIELDS = ("question", "problem", "prompt", "Question")
ANSWER_FIELDS = ("answer", "gold_answer", "final_answer")
CHOICE_ANSWER_FIELDS = ("answer", "answerKey", "gold_answer", "label", "correct")
CHOICES_FIELDS = ("choices", "options")
GPQA_CORRECT_FIELDS = ("Correct Answer", "correct_answer")
_GPQA_INCORRECT = re.compile(r"^Incorrect Answer (\d+)$")


class QuestionsError(ValueError):
    """The questions file is unreadable or a row lacks a field; the message says where."""


@dataclass(frozen=True)
class SourceQuestion:
    """One question to collect. ``text`` is what the prompt template's ``{question}`` receives (for a
    multiple-choice question: the stem followed by its ``(A) ...`` option lines). ``choices`` are the
    option texts in the order shown, ``choice_order[i]`` the position in the file of the option shown
    as letter ``i`` (None for non-choice questions)."""

    text: str
    gold: str | None
    choices: tuple[str, ...] | None = None
    choice_order: tuple[int, ...] | None = None


def load_questions(
    path: str | Path,
    question_field: str | None = None,
    answer_field: str | None = None,
    limit: int | None = None,
    *,
    answer_type: str = "math",
    choices_field: str | None = None,
    shuffle_seed: int | None = None,
) -> list[SourceQuestion]:
    """Questions of ``path`` (``.jsonl``/``.json``, ``.csv``, ``.parquet``), in file order.

    ``answer_type="choice"`` reads multiple-choice rows (see the module docstring), shuffling each
    question's options when ``shuffle_seed`` is given; other types read a question and a gold string."""
    path = Path(path)
    check_answer_type(answer_type)
    if shuffle_seed is not None and answer_type != "choice":
        raise QuestionsError(f"{path}: shuffling options needs --answer-type choice")
    if not path.is_file():
        raise QuestionsError(f"{path}: no such file")
    rows = _rows(path)
    if not rows:
        raise QuestionsError(f"{path}: contains no rows")
    out = []
    for number, row in rows:
        where = f"{path}: row {number}"
        if not isinstance(row, dict):
            raise QuestionsError(f"{where}: must be an object, got {type(row).__name__}")
        qkey = _pick(row, question_field, QUESTION_FIELDS, where, required=True)
        text = row[qkey]
        if not isinstance(text, str) or not text.strip():
            raise QuestionsError(f"{where}: field '{qkey}' must be a non-empty string, got {text!r}")
        if answer_type == "choice":
            out.append(_choice_question(row, text, where, answer_field, choices_field, shuffle_seed, len(out)))
            if limit is not None and len(out) >= limit:
                break
            continue
        akey = _pick(row, answer_field, ANSWER_FIELDS, where, required=answer_field is not None)
        gold = None
        if akey is not None and row[akey] is not None:
            value = row[akey]
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise QuestionsError(f"{where}: field '{akey}' must be a string or a number, got {value!r}")
            gold = _number_text(value).strip()
        out.append(SourceQuestion(text, gold))
        if limit is not None and len(out) >= limit:
            break
    return out


def _choice_question(
    row: dict,
    stem: str,
    where: str,
    answer_field: str | None,
    choices_field: str | None,
    shuffle_seed: int | None,
    index: int,
) -> SourceQuestion:
    """A multiple-choice row: its options (GPQA columns or a choices list) and the gold's position."""
    correct_key = next((k for k in GPQA_CORRECT_FIELDS if k in row), None) if choices_field is None else None
    if correct_key is not None:
        options, gold_index = _gpqa_options(row, correct_key, where)
    else:
        options, gold_index = _listed_options(row, where, answer_field, choices_field)
    if len(set(options)) != len(options):
        raise QuestionsError(f"{where}: two options have the same text: {options!r}")
    order = tuple(range(len(options)))
    if shuffle_seed is not None:
        order = tuple(int(i) for i in np.random.default_rng([shuffle_seed, index]).permutation(len(options)))
    shown = tuple(options[i] for i in order)
    letters = option_letters(len(shown))
    gold = None if gold_index is None else letters[order.index(gold_index)]
    return SourceQuestion(format_options(stem, shown), gold, shown, order)


def _option_text(value: object, where: str, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not str(value).strip():
        raise QuestionsError(f"{where}: field '{field}' must be a non-empty option text, got {value!r}")
    return _number_text(value).strip()


def _gpqa_options(row: dict, correct_key: str, where: str) -> tuple[list[str], int]:
    correct = _option_text(row[correct_key], where, correct_key)
    if "incorrect_answers" in row:
        wrong = row["incorrect_answers"]
        if not isinstance(wrong, list) or not wrong:
            raise QuestionsError(f"{where}: field 'incorrect_answers' must be a non-empty list, got {wrong!r}")
        incorrect = [_option_text(w, where, f"incorrect_answers[{i}]") for i, w in enumerate(wrong)]
    else:
        numbered = sorted((int(m.group(1)), key) for key in row if (m := _GPQA_INCORRECT.match(str(key))))
        if not numbered:
            raise QuestionsError(
                f"{where}: field '{correct_key}' found but no 'Incorrect Answer 1..N' columns or 'incorrect_answers'"
            )
        incorrect = [_option_text(row[key], where, key) for _, key in numbered]
    options = [correct, *incorrect]
    if len(options) > MAX_OPTIONS:
        raise QuestionsError(f"{where}: {len(options)} options; at most {MAX_OPTIONS} are supported")
    return options, 0


def _listed_options(
    row: dict, where: str, answer_field: str | None, choices_field: str | None
) -> tuple[list[str], int | None]:
    ckey = _pick(row, choices_field, CHOICES_FIELDS, where, required=False)
    if ckey is None:
        raise QuestionsError(
            f"{where}: no options (looked for GPQA's 'Correct Answer' + 'Incorrect Answer N' columns and "
            f"for {', '.join(CHOICES_FIELDS)}; name the list with --choices-field)"
        )
    raw = row[ckey]
    labels = None
    if isinstance(raw, dict) and isinstance(raw.get("text"), list):  # ARC: {"text": [...], "label": [...]}
        labels = raw.get("label")
        raw = raw["text"]
    if isinstance(raw, str):  # a CSV cell holding a JSON list
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise QuestionsError(f"{where}: field '{ckey}' must be a list of options, got {raw!r}") from None
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_OPTIONS:
        raise QuestionsError(f"{where}: field '{ckey}' must be a list of 2 to {MAX_OPTIONS} options, got {raw!r}")
    options = [_option_text(v, where, f"{ckey}[{i}]") for i, v in enumerate(raw)]
    akey = _pick(row, answer_field, CHOICE_ANSWER_FIELDS, where, required=answer_field is not None)
    if akey is None or row[akey] is None:
        return options, None
    return options, _gold_index(row[akey], options, labels, where, akey)


def _gold_index(value: object, options: list[str], labels: object, where: str, key: str) -> int:
    """Position of the gold option: a letter, a 0-based index, an ARC label or an option's text."""
    letters = option_letters(len(options))
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(options):
            return value
        raise QuestionsError(f"{where}: field '{key}' is index {value}, but there are {len(options)} options (0-based)")
    if isinstance(value, str):
        text = value.strip()
        if isinstance(labels, list) and text in labels:
            return labels.index(text)
        if text in options:
            return options.index(text)
        letter = text.strip("()").strip().upper()
        if len(letter) == 1 and letter in letters:
            return letters.index(letter)
        if text.isdigit() and int(text) < len(options):
            return int(text)
    raise QuestionsError(
        f"{where}: field '{key}' must be an option letter ({letters[0]}-{letters[-1]}), a 0-based index or "
        f"an option's text, got {value!r}"
    )


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _number_text(value: str | int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 42.0 from a CSV/Parquet column of numbers is the answer 42
    return str(value)


def _pick(row: dict, explicit: str | None, defaults: tuple[str, ...], where: str, required: bool) -> str | None:
    if explicit is not None:
        if explicit not in row:
            raise QuestionsError(f"{where}: field '{explicit}' missing (fields: {', '.join(map(str, row))})")
        return explicit
    for name in defaults:
        if name in row:
            return name
    if required:
        raise QuestionsError(
            f"{where}: no question field (looked for {', '.join(defaults)}; name it with --question-field)"
        )
    return None


def _rows(path: Path) -> list[tuple[int, object]]:
    """(1-based row number, row) pairs."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise QuestionsError(f"{path}: line {number}: not valid JSON: {exc.msg}") from None
        return rows
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise QuestionsError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(data, list):
            raise QuestionsError(f"{path}: a .json questions file must hold a list of objects")
        return list(enumerate(data, 1))
    if suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
            return [(number, dict(row)) for number, row in enumerate(reader, 1)]
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise QuestionsError(f"{path}: reading Parquet needs pyarrow (pip install 'autotts[collect]')") from None
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several kinds for a damaged file
            raise QuestionsError(f"{path}: not a readable Parquet file: {exc}") from None
        return list(enumerate(table.to_pylist(), 1))
    raise QuestionsError(f"{path}: unknown questions format {suffix!r} (use .jsonl, .json, .csv, .tsv or .parquet)")
