"""Answer types: what counts as an answer in a store, how it is read out of text, and its canonical form.

A store has one answer type, recorded in its metadata (``metadata.answer_type.name``):

``exact``
    A short free-form answer compared as a normalised string (:func:`normalise_exact`: Unicode NFKC,
    white space collapsed, surrounding ``$``/``**`` and a trailing full stop removed, case folded).
    The published stores are ``exact`` *as published*: an upstream-format file carries no type and
    its strings are taken as they are (they already are what the published harness compares), so
    every published figure is unchanged.
``math``
    math-verify equivalence (:mod:`autotts.data.collect.answers`); the canonical form of an answer is
    the representative of its equivalence class within the question (the gold answer's class is
    represented by the gold string).
``choice``
    A letter from the question's declared option set (``A``–``D`` for four options). Read robustly out
    of text ("(B)", "Answer: b", "the answer is B.", ``\\boxed{C}``); a letter inside a word never
    counts, and a letter outside the set (``E`` for four options) is ``ERR``.

Canonical strings are made once, when a store is built (``autotts collect``) or loaded, so the
replay environment's hot path keeps comparing plain strings: a vote or a grade is string equality
whatever the type. ``ERR`` (no answer) is canonical under every type and only equals itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .store import ERR

ANSWER_TYPES = ("math", "choice", "exact")

# Dynasor's answer-forcing opening, ended for a choice: the probe's reply closes the parenthesis
CHOICE_PROBE_SUFFIX = "\n\n... Oh, I suddenly got the answer to the whole problem, **Final Answer**\n\nThe answer is ("
CHOICE_INSTRUCTION = (
    'Think step by step, then finish with the sentence "The answer is" followed by the letter of the '
    "correct option in parentheses."
)
CHOICE_EXTRACTION = (
    "first \\boxed{X}, else the last 'answer is/answer: X' (X a letter standing alone; a lower-case "
    "letter only when parenthesised or followed by punctuation or the end), else the last '(X)', else a "
    "reply that is one letter; a probe's answer is the letter closing the suffix's '('; a letter outside "
    "the question's option set is ERR"
)
EXACT_RULE = "NFKC, white space collapsed, surrounding $ and ** and a trailing full stop removed, case folded"
MAX_OPTIONS = 26


class AnswerTypeError(ValueError):
    """An unknown answer type, or an answer/option set that the type cannot hold."""


def check_answer_type(name: str) -> str:
    if name not in ANSWER_TYPES:
        raise AnswerTypeError(f"unknown answer type {name!r}; choose {', '.join(ANSWER_TYPES)}")
    return name


def option_letters(count: int) -> tuple[str, ...]:
    """The letters of a question with ``count`` options: ``A``, ``B``, ... ."""
    if not 2 <= count <= MAX_OPTIONS:
        raise AnswerTypeError(f"a multiple-choice question needs 2 to {MAX_OPTIONS} options, got {count}")
    return tuple(chr(ord("A") + i) for i in range(count))


def format_options(stem: str, options: Sequence[str]) -> str:
    """The question text a model sees: the stem, then one ``(A) option`` line per option."""
    letters = option_letters(len(options))
    lines = "\n".join(f"({letter}) {text}" for letter, text in zip(letters, options, strict=True))
    return f"{stem.rstrip()}\n\n{lines}"


# ---------------------------------------------------------------- exact


def normalise_exact(answer: str) -> str:
    """The canonical form of a free-form answer (:data:`EXACT_RULE`); ``ERR`` for an empty one."""
    if answer == ERR:
        return ERR
    text = " ".join(unicodedata.normalize("NFKC", answer).split())
    previous = None
    while text != previous:  # "$**42**$." peels layer by layer
        previous = text
        text = text.rstrip(".").strip()
        for mark in ("$", "**"):
            if len(text) >= 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
                text = text[len(mark) : -len(mark)].strip()
    text = text.casefold()
    return text if text else ERR


# ---------------------------------------------------------------- choice

_LETTER_END = r"(?![A-Za-z0-9])"
_BOXED = re.compile(r"\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{\s*)?\(?\s*([A-Za-z])\s*\)?\s*\}")
# "answer is B", "Answer: (b)", "the final answer is: **C**", "answer would be option D"
_CUE = re.compile(
    r"(?<![A-Za-z])answer\b\s*(?:is|would\s+be|should\s+be|must\s+be|[:=\-])?\s*:?\s*"
    r"(?:(?:option|choice|letter)\s*:?\s*)?(\*\*|__)?\s*(\()?\s*([A-Za-z])" + _LETTER_END + r"\s*(\))?",
    re.IGNORECASE,
)
_PAREN = re.compile(r"(?<![A-Za-z0-9])\(\s*([A-Za-z])\s*\)")
_ALONE = re.compile(r"^[\s\W_]*([A-Za-z])[\s\W_]*$")
_PROBE_CLOSE = re.compile(r"^\s*(?:\*\*|__)?\s*([A-Za-z])\s*(?:\*\*|__)?\s*\)")
_PROBE_ALONE = re.compile(r"^\s*([A-Za-z])\s*$")


def _cue_letter(match: re.Match) -> str | None:
    """The letter of an answer cue, or None where a lower-case letter is really a word ("a bit")."""
    emphasis, paren, letter, close = match.group(1), match.group(2), match.group(3), match.group(4)
    if paren or close or emphasis:
        return letter
    rest = match.string[match.end(3) :]
    if letter.isupper():
        # "the answer is I think B": an unmarked "I" before a lower-case word is the pronoun
        return None if letter == "I" and re.match(r"\s+[a-z]", rest) else letter
    # "the answer is a bit unclear": an unmarked lower-case letter followed by a word is that word
    if re.match(r"\s*[A-Za-z0-9]", rest):
        return None
    return letter


def choice_candidate(text: str, cues_only: bool = False) -> str | None:
    """The letter ``text`` gives as its answer (upper case, not yet checked against an option set),
    or None when it gives none. Strongest evidence first: the last ``\\boxed{X}``, the last answer cue,
    the last parenthesised letter, a text that is a single letter. ``cues_only`` stops after the answer
    cues: a long reasoning text names options in passing ("(A) is too small"), so only a boxed letter
    or an "answer is" counts as its conclusion."""
    boxed = _BOXED.findall(text)
    if boxed:
        return boxed[-1].upper()
    for match in reversed(list(_CUE.finditer(text))):
        letter = _cue_letter(match)
        if letter is not None:
            return letter.upper()
    if cues_only:
        return None
    parens = _PAREN.findall(text)
    if parens:
        return parens[-1].upper()
    alone = _ALONE.match(text)
    return alone.group(1).upper() if alone else None


def extract_choice(text: str | None, letters: Sequence[str]) -> str:
    """The option letter ``text`` answers with, or ``ERR``: when it gives none, or a letter outside
    ``letters`` (a question with four options has no ``E``)."""
    if text is None or text == ERR:
        return ERR
    letter = choice_candidate(text)
    return letter if letter is not None and letter in letters else ERR


def probe_choice(reply: str, letters: Sequence[str], suffix_opens_paren: bool = True) -> str:
    """A probe's answer under a suffix ending in ``(``: the letter the reply closes the parenthesis
    with (``B)``), or a reply that is that letter alone; anything else is ``ERR`` (a half-written
    answer is not an answer). Under another suffix: :func:`extract_choice` of the reply."""
    if not suffix_opens_paren:
        return extract_choice(reply, letters)
    match = _PROBE_CLOSE.match(reply) or _PROBE_ALONE.match(reply)
    if match is None:
        return ERR
    letter = match.group(1).upper()
    return letter if letter in letters else ERR


# ---------------------------------------------------------------- canonical forms


@dataclass(frozen=True)
class AnswerSpec:
    """A question's answer type with what its canonical form needs: the option letters (choice)."""

    name: str
    letters: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_answer_type(self.name)
        if self.name == "choice" and not self.letters:
            raise AnswerTypeError("a choice question needs its option letters")


def canonicaliser(spec: AnswerSpec, gold: str | None) -> Callable[[str], str]:
    """A function mapping one question's answers to their canonical strings (memoised per string).

    ``exact``: :func:`normalise_exact`. ``choice``: :func:`extract_choice` over the option letters
    (a stored ``"(b)"`` is ``"B"``). ``math``: math-verify classes, the gold answer's first (this
    imports math-verify, an optional dependency)."""
    if spec.name == "math":
        from .collect.answers import Canonicaliser

        return Canonicaliser(gold).canonical
    if spec.name == "exact":
        fn: Callable[[str], str] = normalise_exact
    else:
        letters = spec.letters or ()

        def fn(answer: str) -> str:
            return extract_choice(answer, letters)

    seen: dict[str, str] = {ERR: ERR}

    def canonical(answer: str) -> str:
        hit = seen.get(answer)
        if hit is None:
            hit = seen[answer] = fn(answer)
        return hit

    return canonical
