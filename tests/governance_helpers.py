"""Helpers for the governance tests: a private copy of the stores (so a test can change one byte of
one without touching anyone else's), and the CLI run as a user runs it."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from autotts.data import ALL_STORES, data_dir
from autotts.data.fetch import installed_path

AUTOTTS = [sys.executable, "-m", "autotts.cli"]


def private_stores(root: Path) -> Path:
    """Copy the twelve installed stores into ``root`` (a data directory of its own)."""
    source = data_dir()
    for name in ALL_STORES:
        target = installed_path(name, root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(installed_path(name, source), target)
    return root


def cli(*args: str, data: Path | None = None, cwd: Path | None = None, timeout: float = 600, **env: str):
    full_env = {**os.environ, **env}
    if data is not None:
        full_env["AUTOTTS_DATA_DIR"] = str(data)
    return subprocess.run([*AUTOTTS, *args], capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd)


def change_gold(data: Path, store: str) -> tuple[str, str]:
    """Change exactly one byte of a store's JSON content: the first character of the first gold
    answer in the file. Returns (old, new) character."""
    path = installed_path(store, data)
    content = bytearray(gzip.decompress(path.read_bytes()))
    at = content.index(b'"gold_answer"') + len(b'"gold_answer"')
    while content[at] in b' :"':
        at += 1
    old = chr(content[at])
    new = "7" if old != "7" else "8"
    content[at] = ord(new)
    path.write_bytes(gzip.compress(bytes(content)))
    return old, new


def verdicts(stdout: str) -> dict[str, list[dict]]:
    """``autotts verify --json`` output grouped by status."""
    report = json.loads(stdout)
    out: dict[str, list[dict]] = {"equal": [], "differs": [], "cannot re-run": []}
    for figure in report["figures"]:
        out[figure["status"]].append(figure)
    out["notes"] = report["notes"]  # type: ignore[assignment]
    return out
