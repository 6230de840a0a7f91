"""The run folder of ``autotts discover``: configuration, journal, one folder per round.

The format — every file, its fields, when it is written — is documented once, in
``docs/run-folder.md``; its JSON and CSV records are read and written only through
:mod:`autotts.discovery.records` (round.json, summary.json, results CSVs) and this module (run.json,
the journal). ``autotts report RUN`` and ``--resume`` read exactly that format.

Every file is written atomically (temporary file in the same folder, fsync, ``os.replace``), so a
run killed at any moment (SIGKILL included) leaves only whole files behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = 1
RESULT_COLUMNS = (
    "beta",
    "store",
    "accuracy",
    "ci_low",
    "ci_high",
    "tokens",
    "latency_tokens",
    "seeds",
    "questions",
    "errors",
)


class RunFolderError(RuntimeError):
    """The folder is not a run, or cannot be used as asked."""


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``path`` whole or not at all: temp file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=1, default=str) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def rows_to_csv(rows: Iterable[dict[str, Any]], columns: Iterable[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a results CSV with numbers converted back."""
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows.append({k: _number(v) for k, v in row.items()})
    return rows


def _number(text: str) -> Any:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class JournalState:
    """What the journal says has happened (used to resume)."""

    finished_rounds: dict[int, dict[str, Any]]
    saved_proposals: dict[int, dict[str, Any]]  # round -> its latest proposal_saved event
    baselines_done: bool
    run_finished: bool
    started: float | None  # time.time() of run_started
    budget_exhausted: bool


class RunFolder:
    """One run's folder. Create with :meth:`create`, reopen with :meth:`open`."""

    def __init__(self, root: Path):
        self.root = Path(root)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def create(cls, root: Path, config: dict[str, Any], stores: dict[str, str], version: str) -> RunFolder:
        root = Path(root)
        if (root / "run.json").exists():
            raise RunFolderError(f"{root} already holds a run; continue it with --resume {root}")
        if root.exists() and any(root.iterdir()):
            raise RunFolderError(f"{root} exists and is not empty; choose another --out")
        folder = cls(root)
        root.mkdir(parents=True, exist_ok=True)
        write_json(
            root / "run.json",
            {
                "format": FORMAT,
                "created": now_iso(),
                "autotts_version": version,
                "config": config,
                "stores": stores,
                "proposer": config.get("proposer", ""),
                "model": config.get("model") or "",
            },
        )
        folder.log_event("run_started", wall=time.time())
        return folder

    @classmethod
    def open(cls, root: Path) -> RunFolder:
        root = Path(root)
        if not (root / "run.json").is_file():
            raise RunFolderError(f"{root} is not a run folder (no run.json)")
        return cls(root)

    @property
    def info(self) -> dict[str, Any]:
        return read_json(self.root / "run.json")

    @property
    def config(self) -> dict[str, Any]:
        return self.info["config"]

    def update_config(self, **changes: Any) -> None:
        info = self.info
        info["config"].update(changes)
        write_json(self.root / "run.json", info)

    # ------------------------------------------------------------------ journal

    @property
    def journal_path(self) -> Path:
        return self.root / "journal.jsonl"

    def log_event(self, event: str, **fields: Any) -> None:
        """Append one event and fsync: once this returns, the event survives a SIGKILL."""
        line = json.dumps({"time": now_iso(), "event": event, **fields}, default=str) + "\n"
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def events(self) -> list[dict[str, Any]]:
        """Every whole event; a torn last line (killed mid-write) is ignored."""
        if not self.journal_path.exists():
            return []
        events = []
        for line in self.journal_path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return events

    def state(self) -> JournalState:
        finished: dict[int, dict[str, Any]] = {}
        proposals: dict[int, dict[str, Any]] = {}
        baselines = finished_run = exhausted = False
        started = None
        for event in self.events():
            kind = event.get("event")
            if kind == "run_started":
                started = event.get("wall")
            elif kind == "round_finished":
                finished[int(event["round"])] = event
            elif kind == "proposal_saved":
                proposals[int(event["round"])] = event
            elif kind == "baselines_done":
                baselines = True
            elif kind == "run_finished":
                finished_run = True
            elif kind == "budget_exhausted":
                exhausted = True
        return JournalState(finished, proposals, baselines, finished_run, started, exhausted)

    # ------------------------------------------------------------------ rounds

    def round_dir(self, number: int) -> Path:
        return self.root / "rounds" / f"{number:03d}"

    def reset_round(self, number: int, keep: Iterable[str] = ()) -> Path:
        """Empty a round's folder (a round interrupted before it finished), keeping ``keep`` files."""
        folder = self.round_dir(number)
        keep = set(keep)
        if folder.exists():
            for child in folder.iterdir():
                if child.name in keep:
                    continue
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def finished_round_numbers(self) -> list[int]:
        return sorted(self.state().finished_rounds)

    @property
    def baselines_dir(self) -> Path:
        return self.root / "baselines"

    @property
    def workspace_dir(self) -> Path:
        return self.root / "workspace"
