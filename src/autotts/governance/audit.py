"""The registry's audit log: every change appended as an entry whose hash covers the previous one.

An entry is ``{seq, at, action, name, version, payload}``; its hash is
``sha256(prev_hash || canonical_json(entry))`` with ``prev_hash`` of the first entry 64 zeros. The
payload carries the content hashes of what the change wrote (a version's record, a decision's record,
an alias move), so :func:`check` can test both the chain and that the registry's rows still hash to
what the log says they were. Editing any row or entry by hand breaks one of the two, and the check
names the entry; the head hash (:func:`head`) can be copied elsewhere to detect a rewrite of the
whole chain.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .manifest import canonical_json, sha256_bytes

GENESIS = "0" * 64


def entry_hash(prev: str, entry: dict[str, Any]) -> str:
    return sha256_bytes(prev.encode() + canonical_json(entry))


def append(
    conn: sqlite3.Connection, at: str, action: str, name: str, version: int | None, payload: dict[str, Any]
) -> int:
    """Append one entry inside the caller's transaction (so the change and its entry land together)."""
    row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
    entry = {"seq": seq, "at": at, "action": action, "name": name, "version": version, "payload": payload}
    conn.execute(
        "INSERT INTO audit(seq, at, action, name, version, payload, prev, hash) VALUES (?,?,?,?,?,?,?,?)",
        (seq, at, action, name, version, canonical_json(payload).decode(), prev, entry_hash(prev, entry)),
    )
    return seq


def head(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


def entries(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT seq, at, action, name, version, payload, prev, hash FROM audit ORDER BY seq").fetchall()
    out = []
    for seq, at, action, name, version, payload, prev, digest in rows:
        try:
            parsed = json.loads(payload)
        except (TypeError, json.JSONDecodeError):
            parsed = {"unreadable": payload}
        out.append(
            {
                "seq": seq,
                "at": at,
                "action": action,
                "name": name,
                "version": version,
                "payload": parsed,
                "payload_text": payload,
                "prev": prev,
                "hash": digest,
            }
        )
    return out


@dataclass
class Finding:
    """One problem the audit found: the entry it concerns (0: none) and what is wrong."""

    seq: int
    what: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.what}" if self.seq else self.what


def check(conn: sqlite3.Connection) -> list[Finding]:
    """Check the chain, then every row against the hashes the log recorded for it."""
    findings: list[Finding] = []
    log = entries(conn)
    prev = GENESIS
    for i, e in enumerate(log, start=1):
        if e["seq"] != i:
            findings.append(Finding(e["seq"], f"sequence broken: expected entry {i} here (an entry was removed)"))
        body = {k: e[k] for k in ("seq", "at", "action", "name", "version", "payload")}
        if e["prev"] != prev:
            findings.append(Finding(e["seq"], "chain broken: its link to the previous entry does not match"))
        if canonical_json(e["payload"]).decode() != e["payload_text"] or entry_hash(e["prev"], body) != e["hash"]:
            findings.append(Finding(e["seq"], f"{e['action']} entry was altered: its hash does not match its content"))
        prev = e["hash"]
    findings += _check_blobs(conn, log)
    findings += _check_versions(conn, log)
    findings += _check_decisions(conn, log)
    findings += _check_aliases(conn, log)
    return findings


def _check_blobs(conn: sqlite3.Connection, log: list[dict]) -> list[Finding]:
    out = []
    users: dict[str, list[tuple[int, str]]] = {}
    for e in log:
        if e["action"] == "register":
            for role, digest in (e["payload"].get("blobs") or {}).items():
                users.setdefault(digest, []).append((e["seq"], f"{e['name']}@{e['version']} {role}"))
    for digest, data in conn.execute("SELECT sha256, data FROM blobs"):
        if sha256_bytes(bytes(data)) != digest:
            for seq, what in users.get(digest, [(0, f"blob {digest[:12]}…")]):
                out.append(Finding(seq, f"{what} was tampered with: stored content no longer hashes to {digest[:12]}…"))
    present = {row[0] for row in conn.execute("SELECT sha256 FROM blobs")}
    for digest, uses in users.items():
        if digest not in present:
            for seq, what in uses:
                out.append(Finding(seq, f"{what} is missing from the registry (blob {digest[:12]}…)"))
    return out


def _check_versions(conn: sqlite3.Connection, log: list[dict]) -> list[Finding]:
    out = []
    registered = {(e["name"], e["version"]): e for e in log if e["action"] == "register"}
    rows = conn.execute("SELECT name, version, id, record FROM versions").fetchall()
    seen = set()
    for name, version, vid, record in rows:
        seen.add((name, version))
        entry = registered.get((name, version))
        if entry is None:
            out.append(Finding(0, f"version {name}@{version} has no register entry in the audit log"))
            continue
        if sha256_bytes(record.encode()) != entry["payload"].get("record_sha256"):
            out.append(Finding(entry["seq"], f"version {name}@{version} record was altered (hashes, β or source ref)"))
            continue
        data = json.loads(record)
        if data.get("id") != vid or vid != entry["payload"].get("id"):
            out.append(Finding(entry["seq"], f"version {name}@{version} id column was altered"))
    for key, entry in registered.items():
        if key not in seen:
            out.append(Finding(entry["seq"], f"version {key[0]}@{key[1]} was deleted from the registry"))
    return out


def _check_decisions(conn: sqlite3.Connection, log: list[dict]) -> list[Finding]:
    out = []
    logged = {e["payload"].get("decision"): e for e in log if e["action"] in ("approve", "reject", "revoke")}
    rows = conn.execute("SELECT seq, name, version, action, record FROM decisions").fetchall()
    seen = set()
    for seq, name, version, action, record in rows:
        seen.add(seq)
        entry = logged.get(seq)
        if entry is None:
            out.append(Finding(0, f"decision {seq} ({action} {name}@{version}) has no entry in the audit log"))
            continue
        data = json.loads(record) if record else {}
        if sha256_bytes((record or "").encode()) != entry["payload"].get("record_sha256"):
            out.append(Finding(entry["seq"], f"{entry['action']} of {name}@{version} was altered (its record changed)"))
        elif (data.get("action"), data.get("name"), data.get("version")) != (action, name, version) or (
            action != entry["action"]
        ):
            out.append(
                Finding(entry["seq"], f"{entry['action']} of {name}@{version} was altered (its columns changed)")
            )
    for seq, entry in logged.items():
        if seq not in seen:
            out.append(Finding(entry["seq"], f"{entry['action']} of {entry['name']}@{entry['version']} was deleted"))
    return out


def _check_aliases(conn: sqlite3.Connection, log: list[dict]) -> list[Finding]:
    """Replaying the log's alias moves must give the alias table."""
    expected: dict[tuple[str, str], tuple[int, int]] = {}  # (name, alias) -> (version, seq)
    for e in log:
        if e["action"] == "promote":
            expected[(e["name"], e["payload"]["alias"])] = (e["version"], e["seq"])
        elif e["action"] == "unalias":
            expected.pop((e["name"], e["payload"]["alias"]), None)
    actual = {(n, a): v for n, a, v in conn.execute("SELECT name, alias, version FROM aliases")}
    out = []
    for key, (version, seq) in expected.items():
        if actual.get(key) != version:
            now = actual.get(key)
            out.append(
                Finding(seq, f"alias {key[0]}@{key[1]} should point to version {version}, points to {now or 'nothing'}")
            )
    for key, version in actual.items():
        if key not in expected:
            out.append(Finding(0, f"alias {key[0]}@{key[1]} → {version} was set outside the registry (no entry)"))
    return out
