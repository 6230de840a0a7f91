"""``autotts collect``: build replay stores from a live OpenAI-compatible inference server.

See ``docs/collect.md`` for the store format extension, the probe defaults and the resume journal.
"""

from .answers import DYNASOR_SUFFIX, Canonicaliser, clean, close_boxed, last_boxed, probe_answer
from .collector import (
    STORE_FORMAT,
    CollectConfig,
    CollectError,
    Collector,
    CollectResult,
    Estimate,
    estimate,
    journal_path,
    request_seed,
    write_store,
)
from .journal import Journal, JournalError
from .questions import QuestionsError, SourceQuestion, load_questions

__all__ = [
    "DYNASOR_SUFFIX",
    "STORE_FORMAT",
    "Canonicaliser",
    "CollectConfig",
    "CollectError",
    "CollectResult",
    "Collector",
    "Estimate",
    "Journal",
    "JournalError",
    "QuestionsError",
    "SourceQuestion",
    "clean",
    "close_boxed",
    "estimate",
    "journal_path",
    "last_boxed",
    "load_questions",
    "probe_answer",
    "request_seed",
    "write_store",
]
