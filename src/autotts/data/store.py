"""Replay stores: loading the upstream JSON, checking its schema, and the fast internal form.

A store is one (model, benchmark) pair, e.g. ``Qwen3-4B/aime24``: for each question, a pool of
pre-sampled reasoning branches, each with the answers probed after every ``probe_freq`` tokens, its
total token count and its final answer.

The internal form keeps answers as interned ``str`` objects inside tuples (the replay loop compares
and counts them, and interned strings hash once), plus per-question numpy arrays of small integer
answer ids for the vectorised analyses (oracle bounds, majority over the pool).
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ERR = "ERR"  # the upstream marker for "no answer could be extracted"; an ordinary answer in votes


class StoreError(ValueError):
    """A replay file is malformed. The message names the file, the question index and the field."""

    def __init__(self, path: str | Path, message: str, *, question: int | None = None, field: str | None = None):
        self.path = str(path)
        self.question = question
        self.field = field
        where = [self.path]
        if question is not None:
            where.append(f"question {question}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{': '.join(where)}: {message}")


@dataclass(frozen=True, slots=True)
class Branch:
    """One pre-sampled reasoning branch.

    ``steps`` are the answers revealed by successive advances: the probe answers, then the final
    answer. ``probes`` is their count L; the advance with index L reveals the final answer.
    ``confidence`` (collected stores only, else None) has one value per interval, L + 1 in all:
    the value of the interval each advance generated (None where the server sent no log-probabilities).
    """

    probes: int
    tokens: int
    final: str
    steps: tuple[str, ...]
    confidence: tuple[float | None, ...] | None = None


@dataclass(frozen=True, slots=True)
class Question:
    """One question of a store: its branch pool and (unless stripped) its gold answer."""

    index: int
    text: str
    gold: str | None
    probe_freq: int
    branches: tuple[Branch, ...]

    def without_gold(self) -> Question:
        """A copy that carries no gold answer, for processes that must not see it."""
        return Question(self.index, self.text, None, self.probe_freq, self.branches)


@dataclass(slots=True)
class Store:
    """All questions of one (model, benchmark) pair."""

    name: str
    questions: list[Question]
    source: str = ""
    metadata: dict | None = None  # collected stores (format autotts-store/1): how they were collected
    # how answers are compared (autotts.data.answertypes); every answer string is already in the type's
    # canonical form, so votes and grades stay string equality whatever the type
    answer_type: str = "exact"

    @property
    def model(self) -> str:
        return self.name.split("/")[0]

    @property
    def benchmark(self) -> str:
        return self.name.split("/")[-1]

    def without_gold(self) -> Store:
        return Store(
            self.name, [q.without_gold() for q in self.questions], self.source, self.metadata, self.answer_type
        )

    def summary(self) -> StoreSummary:
        return StoreSummary.of(self)


@dataclass(frozen=True, slots=True)
class AnswerMatrix:
    """Integer view of one question: answer ids per branch, for vectorised analyses.

    ``vocab[i]`` is the answer string of id ``i``; ``final[b]`` the final-answer id of branch ``b``;
    ``gold`` the id of the gold answer, or -1 when no branch ever gave it.
    """

    vocab: tuple[str, ...]
    final: np.ndarray
    tokens: np.ndarray
    probes: np.ndarray
    gold: int

    @classmethod
    def of(cls, question: Question) -> AnswerMatrix:
        vocab: dict[str, int] = {}
        for branch in question.branches:
            for answer in branch.steps:
                vocab.setdefault(answer, len(vocab))
        final = np.array([vocab[b.final] for b in question.branches], dtype=np.int32)
        tokens = np.array([b.tokens for b in question.branches], dtype=np.int64)
        probes = np.array([b.probes for b in question.branches], dtype=np.int32)
        gold = vocab.get(question.gold, -1) if question.gold is not None else -1
        return cls(tuple(vocab), final, tokens, probes, gold)


@dataclass(frozen=True, slots=True)
class StoreSummary:
    """What ``autotts data list`` shows of a store."""

    name: str
    questions: int
    branches: int
    probe_freq: int
    mean_branch_tokens: float
    majority_accuracy: float
    answer_type: str = "exact"

    @classmethod
    def of(cls, store: Store) -> StoreSummary:
        correct = 0
        tokens = []
        for question in store.questions:
            m = AnswerMatrix.of(question)
            counts: dict[int, int] = {}  # in pool order, so ties go to the answer seen first
            for answer in m.final.tolist():
                counts[answer] = counts.get(answer, 0) + 1
            leader = max(counts, key=counts.__getitem__)
            correct += int(leader == m.gold)
            tokens.append(m.tokens.mean())
        n = len(store.questions)
        freqs = {q.probe_freq for q in store.questions}
        return cls(
            name=store.name,
            questions=n,
            branches=min(len(q.branches) for q in store.questions) if n else 0,
            probe_freq=freqs.pop() if len(freqs) == 1 else -1,
            mean_branch_tokens=float(np.mean(tokens)) if tokens else 0.0,
            majority_accuracy=100.0 * correct / n if n else 0.0,
            answer_type=store.answer_type,
        )


# ---------------------------------------------------------------- loading and schema check


def read_json(path: Path) -> object:
    """Parse a plain or gzip-compressed JSON file; a syntax error names the file and position."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise StoreError(path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise StoreError(path, f"cannot be read: {exc}") from None


def _require(obj: dict, key: str, kind: type | tuple[type, ...], path: Path, q: int) -> object:
    if key not in obj:
        raise StoreError(path, "missing", question=q, field=key)
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise StoreError(path, f"must be {names}, got {type(value).__name__}", question=q, field=key)
    return value


def _parse_branch(raw: object, path: Path, q: int, b: int, intern: dict[str, str]) -> Branch:
    where = f"each_branch[{b}]"
    if not isinstance(raw, list) or len(raw) != 3:
        raise StoreError(path, "must be [probe_answers, branch_tokens, final_answer]", question=q, field=where)
    probes, tokens, final = raw
    if not isinstance(probes, list) or not all(isinstance(a, str) for a in probes):
        raise StoreError(path, "must be a list of strings", question=q, field=f"{where}.probe_answers")
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        raise StoreError(path, f"must be an integer, got {tokens!r}", question=q, field=f"{where}.branch_tokens")
    if tokens < 0:
        raise StoreError(path, f"must not be negative, got {tokens}", question=q, field=f"{where}.branch_tokens")
    if not isinstance(final, str):
        raise StoreError(path, f"must be a string, got {final!r}", question=q, field=f"{where}.final_answer")
    steps = tuple(intern.setdefault(a, sys.intern(a)) for a in (*probes, final))
    return Branch(probes=len(probes), tokens=tokens, final=steps[-1], steps=steps)


def parse_store(raw: object, path: Path, name: str) -> Store:
    """Check the schema and build the internal form: an upstream list of questions, or the extended
    format of collected stores (see :func:`parse_extended`)."""
    if isinstance(raw, dict) and "format" in raw:
        return parse_extended(raw, path, name)
    if not isinstance(raw, list):
        raise StoreError(path, f"top level must be a list of questions, got {type(raw).__name__}")
    if not raw:
        raise StoreError(path, "contains no questions")
    questions: list[Question] = []
    # the pool size most questions have: a question with a shorter (or longer) list is the one to blame
    lists = [o.get("each_branch") for o in raw if isinstance(o, dict)]
    counts = Counter(len(b) for b in lists if isinstance(b, list))
    pool_size: int | None = counts.most_common(1)[0][0] if counts else None
    for q, obj in enumerate(raw):
        if not isinstance(obj, dict):
            raise StoreError(path, f"must be an object, got {type(obj).__name__}", question=q)
        text = _require(obj, "question", str, path, q)
        gold = _require(obj, "gold_answer", str, path, q)
        freq = _require(obj, "probe_freq", int, path, q)
        if freq <= 0:
            raise StoreError(path, f"must be positive, got {freq}", question=q, field="probe_freq")
        branches_raw = _require(obj, "each_branch", list, path, q)
        if not branches_raw:
            raise StoreError(path, "has no branches", question=q, field="each_branch")
        if pool_size is None:
            pool_size = len(branches_raw)
        elif len(branches_raw) != pool_size:
            raise StoreError(
                path,
                f"has {len(branches_raw)} branches where the other questions have {pool_size}: "
                "branches of unequal count",
                question=q,
                field="each_branch",
            )
        intern: dict[str, str] = {}
        branches = tuple(_parse_branch(b_raw, path, q, b, intern) for b, b_raw in enumerate(branches_raw))
        trace = obj.get("final_answers_trace")
        if trace is not None and (
            not isinstance(trace, list) or len(trace) != len(branches) or not all(isinstance(a, str) for a in trace)
        ):
            raise StoreError(
                path, "must list one string final answer per branch", question=q, field="final_answers_trace"
            )
        questions.append(Question(q, text, sys.intern(gold), freq, branches))
    return Store(name=name, questions=questions, source=str(path))


EXTENDED_FORMAT = "autotts-store/1"


def parse_extended(raw: dict, path: Path, name: str) -> Store:
    """The extended format written by ``autotts collect``::

        {"format": "autotts-store/1", "metadata": {...}, "questions": [UPSTREAM QUESTION, ...]}

    ``questions`` is an upstream store (so ``json.load(f)["questions"]`` feeds the published
    harness); each question may carry an ``autotts`` object of extra signals, of which the per-interval
    ``confidence`` reaches the replay environment. See docs/collect.md.
    """
    if raw.get("format") != EXTENDED_FORMAT:
        raise StoreError(
            path, f"unknown store format {raw.get('format')!r} (this autotts reads {EXTENDED_FORMAT})", field="format"
        )
    metadata = raw.get("metadata")
    if not isinstance(metadata, dict):
        raise StoreError(path, f"must be an object, got {type(metadata).__name__}", field="metadata")
    store = parse_store(raw.get("questions"), path, name)
    answer_type, options = _answer_type(metadata, path)
    questions = []
    for q, (obj, question) in enumerate(zip(raw["questions"], store.questions, strict=True)):
        extras = obj.get("autotts")
        if extras is not None and not isinstance(extras, dict):
            raise StoreError(path, "must be an object", question=q, field="autotts")
        if answer_type != "math":  # math classes were made when the store was built (math-verify is slow)
            question = _canonical_question(question, answer_type, _letters(extras, options, path, q), path, q)
        if extras is None:
            questions.append(question)
            continue
        rows = extras.get("branches")
        if rows is None:  # per-question extras only (e.g. a choice question's options)
            questions.append(question)
            continue
        if not isinstance(rows, list) or len(rows) != len(question.branches):
            raise StoreError(
                path,
                f"must list one object per branch ({len(question.branches)})",
                question=q,
                field="autotts.branches",
            )
        branches = []
        for b, (row, branch) in enumerate(zip(rows, question.branches, strict=True)):
            branches.append(_extend_branch(row, branch, path, q, f"autotts.branches[{b}]"))
        questions.append(Question(question.index, question.text, question.gold, question.probe_freq, tuple(branches)))
    return Store(name=name, questions=questions, source=str(path), metadata=metadata, answer_type=answer_type)


def _answer_type(metadata: dict, path: Path) -> tuple[str, int | None]:
    """The store's answer type and its store-wide option count (choice stores without per-question
    option lists). Stores collected before answer types were recorded used math-verify classes."""
    from .answertypes import ANSWER_TYPES

    declared = metadata.get("answer_type")
    if declared is None:
        equivalence = metadata.get("equivalence")
        library = equivalence.get("library") if isinstance(equivalence, dict) else None
        return ("math" if library == "math-verify" else "exact"), None
    if isinstance(declared, str):
        declared = {"name": declared}
    if not isinstance(declared, dict):
        raise StoreError(path, "must be an object with a name", field="metadata.answer_type")
    kind = declared.get("name")
    if kind not in ANSWER_TYPES:
        raise StoreError(
            path, f"unknown answer type {kind!r} (known: {', '.join(ANSWER_TYPES)})", field="metadata.answer_type.name"
        )
    options = declared.get("options")
    if options is not None and (not isinstance(options, int) or isinstance(options, bool) or not 2 <= options <= 26):
        raise StoreError(
            path, f"must be an integer from 2 to 26, got {options!r}", field="metadata.answer_type.options"
        )
    return kind, options


def _letters(extras: dict | None, options: int | None, path: Path, q: int) -> tuple[str, ...] | None:
    """A choice question's option letters: from its own option list, else the store-wide count."""
    from .answertypes import option_letters

    choices = extras.get("choices") if extras else None
    if choices is not None:
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices) or not 2 <= len(choices) <= 26:
            raise StoreError(path, "must be a list of 2 to 26 option texts", question=q, field="autotts.choices")
        return option_letters(len(choices))
    return option_letters(options) if options is not None else None


def _canonical_question(
    question: Question, answer_type: str, letters: tuple[str, ...] | None, path: Path, q: int
) -> Question:
    """``question`` with every answer in the type's canonical form (the same object when it already is,
    as in every store ``autotts collect`` writes)."""
    from .answertypes import AnswerSpec, canonicaliser

    if answer_type == "choice" and letters is None:
        raise StoreError(
            path,
            "a choice store needs each question's option list or a store-wide metadata.answer_type.options",
            question=q,
            field="autotts.choices",
        )
    canonical = canonicaliser(AnswerSpec(answer_type, letters), None)
    gold = question.gold
    if gold:  # "" is "no gold answer": nothing grades right
        gold = canonical(gold)
        if gold == ERR:
            allowed = f"one of the option letters {', '.join(letters)}" if letters else "a non-empty answer"
            raise StoreError(path, f"must be {allowed}, got {question.gold!r}", question=q, field="gold_answer")
    # canonicalise each distinct string once; a store already canonical (any store autotts collect
    # writes) is returned as it is, so loading it costs one set union per question
    distinct = set().union(*(branch.steps for branch in question.branches))
    changed = {a: sys.intern(c) for a in distinct if (c := canonical(a)) != a}
    if not changed and gold == question.gold:
        return question
    branches = []
    for branch in question.branches:
        if not changed.keys().isdisjoint(branch.steps):
            steps = tuple(changed.get(a, a) for a in branch.steps)
            branch = Branch(branch.probes, branch.tokens, steps[-1], steps, branch.confidence)
        branches.append(branch)
    gold = sys.intern(gold) if gold else gold
    return Question(question.index, question.text, gold, question.probe_freq, tuple(branches))


def _extend_branch(row: object, branch: Branch, path: Path, q: int, where: str) -> Branch:
    if not isinstance(row, dict):
        raise StoreError(path, "must be an object", question=q, field=where)
    intervals = branch.probes + 1
    tokens = row.get("interval_tokens")
    if tokens is not None:
        if not isinstance(tokens, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
            raise StoreError(path, "must be a list of integers", question=q, field=f"{where}.interval_tokens")
        if len(tokens) != intervals or sum(tokens) != branch.tokens:
            raise StoreError(
                path,
                f"must have {intervals} entries (probes + 1) summing to branch_tokens {branch.tokens}; "
                f"has {len(tokens)} summing to {sum(tokens)}",
                question=q,
                field=f"{where}.interval_tokens",
            )
    probe_tokens = row.get("probe_tokens")
    if probe_tokens is not None and (not isinstance(probe_tokens, list) or len(probe_tokens) != branch.probes):
        raise StoreError(
            path, f"must list {branch.probes} probe token counts", question=q, field=f"{where}.probe_tokens"
        )
    confidence = row.get("confidence")
    if confidence is None:
        return branch
    if (
        not isinstance(confidence, list)
        or len(confidence) != intervals
        or not all(c is None or (isinstance(c, (int, float)) and not isinstance(c, bool)) for c in confidence)
    ):
        raise StoreError(
            path,
            f"must be a list of {intervals} numbers or nulls (one per interval)",
            question=q,
            field=f"{where}.confidence",
        )
    values = tuple(None if c is None else float(c) for c in confidence)
    return Branch(branch.probes, branch.tokens, branch.final, branch.steps, values)


def store_name_for(path: Path) -> str:
    """``.../Qwen3-4B/aime24.json.gz`` -> ``Qwen3-4B/aime24``."""
    bench = path.name.removesuffix(".gz").removesuffix(".json")
    return f"{path.parent.name}/{bench}"


def load_store_file(path: str | Path, name: str | None = None) -> Store:
    """Load and check one replay file (plain or ``.json.gz``)."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(path, "no such file")
    return parse_store(read_json(path), path, name or store_name_for(path))
