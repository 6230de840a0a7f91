"""Answers: reading them out of probe replies and finished branches, cleaning, and equivalence.

Probe. After every interval, the branch text so far plus an answer-forcing *suffix* is sent with a
few greedy tokens. The default suffix is the one Dynasor publishes for its live probe; it ends by
opening ``\\boxed{``, so the answer is the probe's text up to the brace that closes it. A probe that
does not close the brace within its tokens, or closes it around nothing, gives ``ERR`` (the
published stores' marker for "no answer"): a half-written answer is not an answer.

Final answer. The content of the last ``\\boxed{...}`` in the finished branch; when the branch has
none (it was cut at the token limit, or the model never boxed), one more probe of the finished text.

Cleaning. ``basic`` (default) strips white space, surrounding ``$`` and a trailing full stop; the
string is otherwise kept as written, and equivalence is left to math-verify. ``published`` adds the
Parallel-Probe rule that turns any answer containing "no" into "No" (18–22% of some published
stores' probes read "No"); it exists only to compare against those stores, since it maps real
answers such as ``\\text{none}`` or ``\\frac{n}{no}`` to a word. ``none`` keeps the text as extracted.

Equivalence. Answers of one question are canonicalised with math-verify: each distinct string is
compared with the gold answer first, then with the representatives of the classes seen so far
(in branch and interval order); an equivalent answer is replaced by that representative, so exact
string equality in the replay environment is math-verify equivalence. The raw strings are kept in the
store beside the canonical ones.
"""

from __future__ import annotations

import logging
import threading
from importlib import metadata

from ..store import ERR

DYNASOR_SUFFIX = "\n\n... Oh, I suddenly got the answer to the whole problem, **Final Answer**\n\n\\[ \\boxed{"
CLEANINGS = ("basic", "none", "published")
EQUIVALENCE_RULE = (
    "math-verify verify(parse('\\boxed{' + representative + '}'), parse('\\boxed{' + answer + '}')): "
    "per question, gold first, then earlier classes in branch/interval order; "
    "an answer math-verify cannot parse is compared as an exact string; ERR only equals ERR"
)


def close_boxed(text: str) -> str | None:
    """Text up to the brace that closes an already opened ``\\boxed{`` (None when it never closes)."""
    depth = 1
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[:i]
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``."""
    best = None
    for marker in ("\\boxed{", "\\fbox{"):
        start = text.rfind(marker)
        while start != -1:
            inner = close_boxed(text[start + len(marker) :])
            if inner is not None:
                if best is None or start > best[0]:
                    best = (start, inner)
                break
            start = text.rfind(marker, 0, start)
    return best[1] if best else None


def boxed_answer(text: str) -> str | None:
    """A finished branch's own answer: its last complete, non-empty ``\\boxed{...}`` (an empty box,
    e.g. the model repeating the instruction "within \\boxed{}", is no answer)."""
    inner = last_boxed(text)
    return inner if inner is not None and inner.strip() else None


def clean(answer: str | None, cleaning: str = "basic") -> str:
    """The answer string stored for ``answer`` under a cleaning rule (``ERR`` for none/empty)."""
    if cleaning not in CLEANINGS:
        raise ValueError(f"unknown cleaning {cleaning!r}; choose {', '.join(CLEANINGS)}")
    if answer is None:
        return ERR
    if cleaning != "none":
        answer = answer.strip().rstrip(".").strip()
        while len(answer) >= 2 and answer.startswith("$") and answer.endswith("$"):
            answer = answer[1:-1].strip().rstrip(".").strip()
    if cleaning == "published" and "no" in answer:
        answer = "No"
    return answer if answer.strip() else ERR


def probe_answer(reply: str, cleaning: str = "basic", suffix_opens_box: bool = True) -> str:
    """The answer a probe reply gives: up to the closing brace when the suffix opened a box, else
    the last boxed answer in the reply."""
    inner = close_boxed(reply) if suffix_opens_box else last_boxed(reply)
    return clean(inner, cleaning)


def math_verify_version() -> str:
    try:
        return metadata.version("math-verify")
    except metadata.PackageNotFoundError:
        return "not installed"


class Canonicaliser:
    """Maps the answers of one question to class representatives under math-verify equivalence."""

    def __init__(self, gold: str | None) -> None:
        try:
            import math_verify
        except ImportError:
            raise RuntimeError("answer equivalence needs math-verify (pip install 'autotts[collect]')") from None
        # math-verify warns on every call made with its time-outs off; the warning is expected here
        logging.getLogger("math_verify").setLevel(logging.ERROR)
        self._mv = math_verify
        # math-verify times out with signal.alarm, which only works in the main thread: elsewhere its
        # time-outs must be off or every call raises
        self._timeout = 5 if threading.current_thread() is threading.main_thread() else None
        self._classes: list[tuple[str, list]] = []  # (representative, parsed)
        self._seen: dict[str, str] = {ERR: ERR}
        if gold is not None and gold != ERR:
            self.canonical(gold)

    def _parse(self, answer: str) -> list:
        try:
            return self._mv.parse("\\boxed{" + answer + "}", parsing_timeout=self._timeout)
        except Exception:  # a pathological expression (or a time-out) is compared as a plain string
            return []

    def _equal(self, rep: list, parsed: list) -> bool:
        try:
            return bool(self._mv.verify(rep, parsed, timeout_seconds=self._timeout))
        except Exception:
            return False

    def canonical(self, answer: str) -> str:
        hit = self._seen.get(answer)
        if hit is not None:
            return hit
        parsed = self._parse(answer)
        result = answer
        if parsed:
            for rep, rep_parsed in self._classes:
                if rep_parsed and self._equal(rep_parsed, parsed):
                    result = rep
                    break
        if result == answer:
            self._classes.append((answer, parsed))
        self._seen[answer] = result
        return result
