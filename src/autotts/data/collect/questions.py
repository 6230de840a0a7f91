"""Reading the questions to collect from JSONL, CSV or Parquet files.

A row needs a question; a gold answer is optional (a store without gold answers can still be
collected and inspected, but every grade against it is 0). Field names are configurable; by default
the first present of a few common names is used. Every defect names the file, the row and the field.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

QUESTION_FIELDS = ("question", "problem", "prompt")
ANSWER_FIELDS = ("answer", "gold_answer", "final_answer")


class QuestionsError(ValueError):
    """The questions file is unreadable or a row lacks a field; the message says where."""


@dataclass(frozen=True)
class SourceQuestion:
    text: str
    gold: str | None


def load_questions(
    path: str | Path,
    question_field: str | None = None,
    answer_field: str | None = None,
    limit: int | None = None,
) -> list[SourceQuestion]:
    """Questions of ``path`` (``.jsonl``/``.json``, ``.csv``, ``.parquet``), in file order."""
    path = Path(path)
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
