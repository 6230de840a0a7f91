"""The policy registry: immutable, content-addressed versions of scaling policies, decisions about
them (approve, reject, revoke), aliases, and a hash-chained audit log — one SQLite file.

Storage (stdlib ``sqlite3``; WAL journal; every change is one ``BEGIN IMMEDIATE`` transaction that
also appends its audit entry, so concurrent writers queue instead of losing work, and a process
killed mid-change leaves the file as it was before the change):

* ``blobs(sha256, data)`` — content-addressed bytes: controller sources, evidence manifests,
  evidence summaries;
* ``versions(name, version, id, record)`` — ``record`` is canonical JSON naming the blobs by hash;
  ``id`` is the SHA-256 of the content (source, class, β, manifest, evidence), so the same content
  registered twice is one version;
* ``decisions(seq, name, version, action, record)`` — approvals (with the criteria, each value and
  the evidence hashes), rejections, revocations;
* ``aliases(name, alias, version)`` — ``production``, ``staging`` or any name;
* ``audit(seq, …, prev, hash)`` — see :mod:`.audit`.

Triggers refuse UPDATE and DELETE on versions, blobs, decisions and audit, so the library itself
cannot rewrite history; a hand edit with another tool is caught by ``policy audit``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..data import data_dir
from . import audit
from .approval import Criteria, CriterionResult, evaluate_criteria
from .evidence import EvidencePlan, collect_evidence, controller_source, robustness_evidence, summarize
from .manifest import canonical_json, check_manifest, sha256_bytes, sha256_json, split_file_ref

REGISTRY_ENV = "AUTOTTS_REGISTRY"
FAULT_PAUSE_ENV = "AUTOTTS_REGISTRY_FAULT_PAUSE"  # fault injection for crash tests: sleep inside a write
PRODUCTION = "production"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs(sha256 TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS versions(
  name TEXT NOT NULL, version INTEGER NOT NULL, id TEXT NOT NULL, record TEXT NOT NULL,
  PRIMARY KEY(name, version), UNIQUE(name, id));
CREATE TABLE IF NOT EXISTS decisions(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, version INTEGER NOT NULL,
  action TEXT NOT NULL CHECK(action IN ('approve', 'reject', 'revoke')), record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS aliases(
  name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY(name, alias));
CREATE TABLE IF NOT EXISTS audit(
  seq INTEGER PRIMARY KEY, at TEXT NOT NULL, action TEXT NOT NULL, name TEXT NOT NULL, version INTEGER,
  payload TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
"""
IMMUTABLE = ("blobs", "versions", "decisions", "audit")


class RegistryError(RuntimeError):
    """A registry operation that cannot be done (shown to the user without traceback)."""


class UnapprovedPolicy(RegistryError):
    """A version without a standing approval was asked for where only approved ones may run."""


def default_registry_path() -> Path:
    env = os.environ.get(REGISTRY_ENV)
    return Path(env).expanduser() if env else data_dir() / "registry.sqlite"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ref(ref: str) -> tuple[str, str]:
    """``NAME@VERSION`` or ``NAME@ALIAS`` → (name, selector)."""
    name, sep, selector = ref.rpartition("@")
    if not sep or not name or not selector:
        raise RegistryError(f"{ref!r}: give NAME@VERSION or NAME@ALIAS (e.g. evo@1, evo@production)")
    return name, selector


@dataclass
class Version:
    name: str
    version: int
    id: str
    record: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class ResolvedPolicy:
    """What a live command needs to run a registered policy."""

    source: str  # the controller file's text (for a built-in: its module's source)
    class_ref: str  # a registry name ("evo") or the class name inside ``source``
    kind: str  # "builtin" or "file"
    beta: float
    version: Version
    status: str


class Registry:
    """Open with :meth:`open` (a context manager); every method is one transaction."""

    def __init__(self, path: Path, conn: sqlite3.Connection, mirror: Any = None):
        self.path = path
        self.conn = conn
        self.mirror = mirror

    @classmethod
    def open(cls, path: Path | str | None = None, *, mirror: Any = None) -> Registry:
        path = Path(path).expanduser() if path else default_registry_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")  # a committed version survives a power cut
            with _tx(conn):
                for statement in SCHEMA.strip().split(";"):
                    if statement.strip():
                        conn.execute(statement)
                for table in IMMUTABLE:
                    for op in ("UPDATE", "DELETE"):
                        conn.execute(
                            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                            f"BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END"
                        )
                conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('format', '1')")
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"{path}: not a usable registry: {exc}") from None
        return cls(path, conn, mirror)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ reading

    def blob(self, digest: str) -> bytes:
        row = self.conn.execute("SELECT data FROM blobs WHERE sha256 = ?", (digest,)).fetchone()
        if row is None:
            raise RegistryError(f"{self.path}: blob {digest[:12]}… is missing (run `autotts policy audit`)")
        return bytes(row[0])

    def get(self, ref: str) -> Version:
        name, selector = parse_ref(ref)
        if selector.isdigit():
            number = int(selector)
        else:
            row = self.conn.execute(
                "SELECT version FROM aliases WHERE name = ? AND alias = ?", (name, selector)
            ).fetchone()
            if row is None:
                raise RegistryError(f"{ref}: {name} has no alias {selector!r}")
            number = row[0]
        row = self.conn.execute(
            "SELECT name, version, id, record FROM versions WHERE name = ? AND version = ?", (name, number)
        ).fetchone()
        if row is None:
            known = [r[0] for r in self.conn.execute("SELECT version FROM versions WHERE name = ?", (name,))]
            raise RegistryError(f"{ref}: no such version (versions of {name}: {known or 'none'})")
        return Version(row[0], row[1], row[2], json.loads(row[3]))

    def status(self, name: str, version: int) -> str:
        """approved, rejected, revoked or pending: the latest decision about the version."""
        row = self.conn.execute(
            "SELECT action FROM decisions WHERE name = ? AND version = ? ORDER BY seq DESC LIMIT 1", (name, version)
        ).fetchone()
        return {"approve": "approved", "reject": "rejected", "revoke": "revoked"}[row[0]] if row else "pending"

    def aliases(self, name: str, version: int | None = None) -> dict[str, int]:
        rows = self.conn.execute("SELECT alias, version FROM aliases WHERE name = ? ORDER BY alias", (name,))
        return {a: v for a, v in rows if version is None or v == version}

    def list(self) -> list[dict[str, Any]]:
        out = []
        for name, version, vid, record in self.conn.execute(
            "SELECT name, version, id, record FROM versions ORDER BY name, version"
        ):
            data = json.loads(record)
            out.append(
                {
                    "name": name,
                    "version": version,
                    "id": vid,
                    "beta": data["beta"],
                    "controller": data["controller"]["ref"],
                    "created": data["created"],
                    "by": data["by"],
                    "status": self.status(name, version),
                    "aliases": sorted(self.aliases(name, version)),
                }
            )
        return out

    def decisions(self, name: str, version: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT seq, record FROM decisions WHERE name = ? AND version = ? ORDER BY seq", (name, version)
        )
        return [{"seq": seq, **json.loads(record)} for seq, record in rows]

    def manifest(self, v: Version) -> dict[str, Any]:
        data = json.loads(self.blob(v.record["manifest_sha256"]))
        return check_manifest(data, f"{self.path}:{v.ref} manifest")

    def evidence(self, v: Version) -> dict[str, Any]:
        return json.loads(self.blob(v.record["evidence_sha256"]))

    def source(self, v: Version) -> str:
        return self.blob(v.record["source_sha256"]).decode("utf-8")

    def show(self, ref: str) -> dict[str, Any]:
        v = self.get(ref)
        return {
            "ref": v.ref,
            "id": v.id,
            "record": v.record,
            "status": self.status(v.name, v.version),
            "aliases": sorted(self.aliases(v.name, v.version)),
            "evidence": self.evidence(v),
            "decisions": self.decisions(v.name, v.version),
        }

    def diff(self, ref_a: str, ref_b: str) -> dict[str, Any]:
        """Source diff, β and the evidence figures that differ between two versions."""
        a, b = self.get(ref_a), self.get(ref_b)
        src = difflib.unified_diff(
            self.source(a).splitlines(keepends=True),
            self.source(b).splitlines(keepends=True),
            fromfile=a.ref,
            tofile=b.ref,
        )
        fa, fb = self.manifest(a)["figures"], self.manifest(b)["figures"]
        changed = {k: [fa.get(k), fb.get(k)] for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)}
        return {
            "a": a.ref,
            "b": b.ref,
            "same_source": a.record["source_sha256"] == b.record["source_sha256"],
            "beta": [a.record["beta"], b.record["beta"]],
            "source_diff": "".join(src),
            "status": [self.status(a.name, a.version), self.status(b.name, b.version)],
            "figures": changed,
        }

    # ------------------------------------------------------------------------------ writing

    def register(
        self,
        name: str,
        controller: str,
        beta: float,
        *,
        by: str,
        plan: EvidencePlan | None = None,
        trusted: bool = False,
        jobs: int | None = None,
        on_step: Callable[[str], None] | None = None,
        robustness: Path | None = None,
    ) -> tuple[Version, bool]:
        """Collect the evidence for ``controller`` at ``beta`` and add a version of ``name``; returns the
        version and whether it is new (the same content registered again is the existing version).
        ``robustness``: an ``autotts robustness`` result for this policy, kept with the evidence."""
        if not name or "@" in name or "/" in name:
            raise RegistryError(f"{name!r}: a policy name is non-empty and has no '@' or '/'")
        if not 0.0 <= beta <= 1.0:
            raise RegistryError(f"β must lie in [0, 1], got {beta}")
        try:
            source, kind, class_name = controller_source(controller)
            robust = robustness_evidence(robustness) if robustness is not None else None
        except (FileNotFoundError, LookupError, ValueError) as exc:
            raise RegistryError(str(exc).strip("'\"")) from None
        manifest = collect_evidence(
            controller, beta, name, plan or EvidencePlan(), trusted=trusted, jobs=jobs, on_step=on_step
        )
        return self.add_version(name, source, kind, controller, class_name, beta, manifest, by=by, robustness=robust)

    def add_version(
        self,
        name: str,
        source: bytes,
        kind: str,
        controller: str,
        class_name: str | None,
        beta: float,
        manifest: dict[str, Any],
        *,
        by: str,
        robustness: dict[str, Any] | None = None,
    ) -> tuple[Version, bool]:
        """Store a version whose evidence manifest is already computed (one transaction)."""
        evidence = summarize(manifest, robustness)
        blobs = {
            "source": source,
            "manifest": canonical_json(manifest),
            "evidence": canonical_json(evidence),
        }
        hashes = {role: sha256_bytes(data) for role, data in blobs.items()}
        content = {
            "source_sha256": hashes["source"],
            "class": class_name,
            "beta": beta,
            "manifest_sha256": hashes["manifest"],
            "evidence_sha256": hashes["evidence"],
        }
        vid = sha256_json(content)
        with _tx(self.conn):
            row = self.conn.execute("SELECT version FROM versions WHERE name = ? AND id = ?", (name, vid)).fetchone()
            if row is not None:
                return self._version(name, row[0]), False
            number = self.conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM versions WHERE name = ?", (name,))
            number = number.fetchone()[0]
            for role, data in blobs.items():
                self.conn.execute("INSERT OR IGNORE INTO blobs(sha256, data) VALUES (?, ?)", (hashes[role], data))
            _fault_point("register")
            record = {
                "id": vid,
                "name": name,
                "version": number,
                "created": now_iso(),
                "by": by,
                "controller": {"kind": kind, "ref": _display_ref(controller, kind), "class": class_name},
                **content,
                "autotts_version": manifest["autotts"]["version"],
            }
            text = canonical_json(record).decode()
            self.conn.execute(
                "INSERT INTO versions(name, version, id, record) VALUES (?, ?, ?, ?)", (name, number, vid, text)
            )
            audit.append(
                self.conn,
                record["created"],
                "register",
                name,
                number,
                {"id": vid, "record_sha256": sha256_bytes(text.encode()), "blobs": hashes, "by": by},
            )
        self._mirror(name)
        return self._version(name, number), True

    def approve(
        self,
        ref: str,
        *,
        by: str,
        note: str,
        criteria: Criteria | None = None,
        override: str | None = None,
        jobs: int | None = None,
    ) -> tuple[bool, list[CriterionResult]]:
        """Check the version against ``criteria``; record an approval when every criterion passes or
        ``override`` gives the reason for an exception. Returns (approved, results). A refusal is
        logged in the audit log too."""
        criteria = criteria or Criteria()
        v = self.get(ref)
        if self.status(v.name, v.version) == "approved":
            raise RegistryError(f"{v.ref} is already approved")
        manifest = self.manifest(v)
        stores = list(manifest.get("evidence_plan", {}).get("stores", []))

        def reverify() -> tuple[bool, str]:
            report = self.verify(v.ref, jobs=jobs)
            bad = [c for c in report.checks if c.status != "equal"]
            if not bad:
                return True, f"all {len(report.checks)} evidence figures re-ran equal"
            first = bad[0]
            return (
                False,
                f"{len(bad)} of {len(report.checks)} figures not equal; first: {first.name} ({first.status}"
                + (f": {first.why})" if first.why else ")"),
            )

        problems = self._problems(v)
        results = evaluate_criteria(
            criteria,
            manifest["figures"],
            stores,
            reverify,
            always_reverify=bool(override),
            robustness=self.evidence(v).get("robustness"),
        )
        if problems:
            results.append(CriterionResult("registry intact", False, problems, [], "; ".join(problems)))
        failures = [r for r in results if r.ok is False]
        if failures and not override:
            with _tx(self.conn):
                audit.append(
                    self.conn,
                    now_iso(),
                    "approval_refused",
                    v.name,
                    v.version,
                    {"by": by, "failures": [str(f) for f in failures]},
                )
            return False, results
        self._decide(
            v,
            "approve",
            by=by,
            note=note,
            override=override,
            extra={"criteria": criteria.to_json(), "results": [r.__dict__ for r in results]},
        )
        return True, results

    def reject(self, ref: str, *, by: str, note: str) -> None:
        v = self.get(ref)
        if self.status(v.name, v.version) == "approved":
            raise RegistryError(f"{v.ref} is approved: revoke it instead")
        self._decide(v, "reject", by=by, note=note)

    def revoke(self, ref: str, *, by: str, note: str) -> list[str]:
        """Withdraw an approval; the version loses the production alias. Returns aliases removed."""
        v = self.get(ref)
        if self.status(v.name, v.version) != "approved":
            raise RegistryError(f"{v.ref} is not approved (status: {self.status(v.name, v.version)})")
        return self._decide(v, "revoke", by=by, note=note)

    def promote(self, ref: str, alias: str = PRODUCTION, *, by: str) -> int | None:
        """Point ``alias`` at the version; ``production`` only at an approved one. Returns the version
        the alias pointed to before (None if new)."""
        v = self.get(ref)
        if not alias or "@" in alias or alias.isdigit():
            raise RegistryError(f"{alias!r}: an alias is a name (not a number, no '@')")
        with _tx(self.conn):
            status = self.status(v.name, v.version)
            if alias == PRODUCTION and status != "approved":
                raise RegistryError(f"{v.ref} is {status}: only an approved version can carry the production alias")
            problems = self._problems(v) if alias == PRODUCTION else []
            if problems:
                raise RegistryError(f"{v.ref} fails the audit: {'; '.join(problems)}")
            row = self.conn.execute("SELECT version FROM aliases WHERE name = ? AND alias = ?", (v.name, alias))
            previous = (row.fetchone() or [None])[0]
            self.conn.execute(
                "INSERT INTO aliases(name, alias, version) VALUES (?, ?, ?) "
                "ON CONFLICT(name, alias) DO UPDATE SET version = excluded.version",
                (v.name, alias, v.version),
            )
            audit.append(
                self.conn,
                now_iso(),
                "promote",
                v.name,
                v.version,
                {"alias": alias, "from": previous, "by": by, "id": v.id},
            )
        self._mirror(v.name)
        return previous

    def resolve(self, ref: str, *, allow_unapproved: bool = False, by: str = "") -> ResolvedPolicy:
        """The controller and β behind ``NAME@production`` / ``NAME@VERSION``; refuses a version without
        a standing approval unless ``allow_unapproved`` (which is recorded in the audit log)."""
        v = self.get(ref)
        status = self.status(v.name, v.version)
        problems = self._problems(v)
        if problems:  # e.g. an approval edited by hand: the status cannot be trusted
            raise RegistryError(f"{v.ref} fails the audit: {'; '.join(problems)}")
        if status != "approved":
            if not allow_unapproved:
                raise UnapprovedPolicy(
                    f"{v.ref} is {status}: only approved versions run live (approve it, or pass --allow-unapproved, "
                    "which is recorded)"
                )
            with _tx(self.conn):
                audit.append(
                    self.conn,
                    now_iso(),
                    "unapproved_use",
                    v.name,
                    v.version,
                    {"by": by or _user(), "status": status, "id": v.id, "ref": ref},
                )
        source = self.source(v)
        if sha256_bytes(source.encode()) != v.record["source_sha256"]:
            raise RegistryError(f"{v.ref}: stored source does not match its hash (run `autotts policy audit`)")
        ctl = v.record["controller"]
        class_ref = ctl["ref"] if ctl["kind"] == "builtin" else (ctl.get("class") or "")
        return ResolvedPolicy(source, class_ref, ctl["kind"], float(v.record["beta"]), v, status)

    def audit(self) -> list[audit.Finding]:
        return audit.check(self.conn)

    def head(self) -> tuple[int, str]:
        return audit.head(self.conn)

    def audit_entries(self) -> list[dict[str, Any]]:
        return audit.entries(self.conn)

    # ------------------------------------------------------------------------------ verify

    def verify(self, ref: str, *, jobs: int | None = None, on_note: Callable[[str], None] | None = None):
        """Re-run the version's evidence from its stored manifest and source."""
        from .verify import verify_manifest

        v = self.get(ref)
        manifest = self.manifest(v)
        if sha256_bytes(canonical_json(manifest)) != v.record["manifest_sha256"]:
            raise RegistryError(f"{v.ref}: stored manifest does not match its hash (run `autotts policy audit`)")
        ctl = v.record["controller"]
        with tempfile.TemporaryDirectory(prefix="autotts-verify-") as tmp:
            refs = {}
            if ctl["kind"] == "file":
                # the registered file's own name, so messages that name the file read as they did
                path = Path(tmp) / (split_file_ref(ctl["ref"])[0] or "policy.py")
                path.write_bytes(self.blob(v.record["source_sha256"]))
                key = next(
                    k for k, r in manifest["controllers"].items() if r.get("sha256") == v.record["source_sha256"]
                )
                refs[key] = str(path) + (f":{ctl['class']}" if ctl.get("class") else "")
            else:
                from .manifest import controller_record

                if controller_record(ctl["ref"])["sha256"] != v.record["source_sha256"] and on_note:
                    on_note(f"built-in {ctl['ref']} in this autotts differs from the registered source")
            return verify_manifest(manifest, None, source=v.ref, refs=refs, jobs=jobs, on_note=on_note)

    # ------------------------------------------------------------------------------ internals

    def _problems(self, v: Version) -> list[str]:
        """What ``policy audit`` finds wrong with this version (its record, source, decisions)."""
        mine = re.compile(rf"(^|\W){re.escape(v.name)}@{v.version}(\W|$)")
        return [str(f) for f in audit.check(self.conn) if mine.search(f.what)]

    def _version(self, name: str, number: int) -> Version:
        return self.get(f"{name}@{number}")

    def _decide(
        self,
        v: Version,
        action: str,
        *,
        by: str,
        note: str,
        override: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> list[str]:
        at = now_iso()
        record = {
            "action": action,
            "name": v.name,
            "version": v.version,
            "version_id": v.id,
            "by": by,
            "at": at,
            "note": note,
            "override": override,
            "evidence": {
                "record_sha256": sha256_bytes(canonical_json(v.record)),
                "source_sha256": v.record["source_sha256"],
                "manifest_sha256": v.record["manifest_sha256"],
                "evidence_sha256": v.record["evidence_sha256"],
            },
            **(extra or {}),
        }
        text = canonical_json(record).decode()
        removed: list[str] = []
        with _tx(self.conn):
            cur = self.conn.execute(
                "INSERT INTO decisions(name, version, action, record) VALUES (?, ?, ?, ?)",
                (v.name, v.version, action, text),
            )
            audit.append(
                self.conn,
                at,
                action,
                v.name,
                v.version,
                {
                    "decision": cur.lastrowid,
                    "record_sha256": sha256_bytes(text.encode()),
                    "by": by,
                    "override": override,
                },
            )
            if action == "revoke":
                for alias in (PRODUCTION,):
                    row = self.conn.execute(
                        "SELECT version FROM aliases WHERE name = ? AND alias = ?", (v.name, alias)
                    ).fetchone()
                    if row and row[0] == v.version:
                        self.conn.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", (v.name, alias))
                        audit.append(self.conn, at, "unalias", v.name, v.version, {"alias": alias, "by": by})
                        removed.append(alias)
        self._mirror(v.name)
        return removed

    def _mirror(self, name: str) -> None:
        if self.mirror is not None:
            self.mirror.sync(self, name)


@contextmanager
def _tx(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: BEGIN IMMEDIATE takes the write lock up front (so two writers queue on
    the busy timeout rather than failing at commit), and anything raised rolls everything back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _fault_point(where: str) -> None:
    """Crash tests set AUTOTTS_REGISTRY_FAULT_PAUSE to hold a write open here and kill the process."""
    pause = os.environ.get(FAULT_PAUSE_ENV)
    if pause:
        print(f"registry: paused inside {where} transaction", file=sys.stderr, flush=True)
        time.sleep(float(pause))


def _display_ref(controller: str, kind: str) -> str:
    """A built-in's name, or a file's name (the path is where it happened to live, not what it is)."""
    if kind == "builtin":
        return controller
    path, cls = split_file_ref(controller)
    return Path(path).name + (f":{cls}" if cls else "")


def _user() -> str:
    return os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"
