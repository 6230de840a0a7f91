"""The collection journal: an append-only JSONL file, fsynced after every record, so a collection
killed at any moment (kill -9 included) resumes without losing or regenerating a finished request.

Records:

* ``{"kind": "header", "version": 1, "fingerprint": ..., "config": {...}}`` — first line; a resume
  with a different fingerprint is refused (it would mix two collections in one store).
* ``{"kind": "interval", "q", "b", "k", "text", "tokens", "prompt_tokens", "finish", "asked", "confidence"}``
  — interval ``k`` of branch ``b`` of question ``q`` as the server returned it (``asked``: the
  request's ``max_tokens``).
* ``{"kind": "probe", "q", "b", "k", "reply", "tokens"}`` — the probe after interval ``k``.
* ``{"kind": "final_probe", "q", "b", "reply", "tokens"}`` — the probe of a finished branch that
  boxed no answer.

Only the last line may be incomplete (the process died while writing it); it is dropped on resume.
An incomplete line anywhere else means the file was damaged, and is an error naming the line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

JOURNAL_VERSION = 1


class JournalError(ValueError):
    """The journal cannot be used for this collection; the message says why and where."""


class Journal:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle = None

    def start(self, header: dict[str, Any], *, fresh: bool) -> list[dict[str, Any]]:
        """Open for appending; return the records of an earlier run of the same collection (empty
        when starting afresh). ``header`` must carry ``fingerprint``."""
        records: list[dict[str, Any]] = []
        has_header = False
        if self.path.exists() and not fresh:
            records = self.read()
            if records:
                has_header = True
                head = records[0]
                if head.get("kind") != "header" or head.get("version") != JOURNAL_VERSION:
                    raise JournalError(
                        f"{self.path}: line 1: not an autotts collection journal (version {JOURNAL_VERSION})"
                    )
                if head.get("fingerprint") != header["fingerprint"]:
                    changed = _changed(head.get("config") or {}, header.get("config") or {})
                    raise JournalError(
                        f"{self.path}: was written for a different collection (changed: {', '.join(changed) or '?'}); "
                        "use the same options to resume, --fresh to start over, or another --out"
                    )
                records = records[1:]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not has_header:  # new, --fresh, or killed before its header was complete
            with self.path.open("w", encoding="utf-8") as handle:
                handle.write(json.dumps({"kind": "header", "version": JOURNAL_VERSION, **header}) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            records = []
        else:
            self._truncate_partial_tail()
        self._handle = self.path.open("a", encoding="utf-8")
        return records

    def append(self, record: dict[str, Any]) -> None:
        if self._handle is None:
            raise RuntimeError("journal not started")
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def read(self) -> list[dict[str, Any]]:
        lines = self.path.read_text(encoding="utf-8").split("\n")
        records = []
        last = len(lines) - 1
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if number - 1 == last:  # the tail a killed process was writing: dropped
                    break
                raise JournalError(f"{self.path}: line {number}: damaged record (not valid JSON)") from None
            if not isinstance(record, dict) or "kind" not in record:
                raise JournalError(f"{self.path}: line {number}: not a journal record")
            records.append(record)
        return records

    def _truncate_partial_tail(self) -> None:
        """Cut an incomplete last line so new records start on a line of their own."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            with self.path.open("r+b") as handle:
                handle.truncate(cut)
                handle.flush()
                os.fsync(handle.fileno())


def _changed(old: dict, new: dict) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
