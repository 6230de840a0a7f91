"""Installing a store of one's own (e.g. from ``autotts collect``) into the data directory.

An imported store sits beside the published ones as ``ROOT/MODEL/BENCH.json.gz`` with a checksum
file ``ROOT/MODEL/BENCH.json.gz.sha256`` (SHA-256 of the JSON content, as for the published stores),
so ``--store MODEL/BENCH`` finds it in every command.

With an answer type (``autotts data import FILE --answer-type choice --options 4``), a store in the
upstream format (e.g. one written by the published harness for GPQA) is installed in the extended
format with that type in its metadata, every answer already in the type's canonical form and the raw
strings kept beside them (``autotts.branches[b].probe_raw``/``final_raw``, ``autotts.gold_raw``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .answertypes import ANSWER_TYPES, AnswerSpec, AnswerTypeError, canonicaliser, option_letters
from .catalog import ALL_STORES, CONTENT_SHA256
from .fetch import FetchError, installed_path
from .store import EXTENDED_FORMAT, Store, StoreError, load_store_file, parse_store


@dataclass(frozen=True)
class Imported:
    name: str
    path: Path
    sha256: str
    store: Store


def content_sha256(path: Path) -> tuple[str, bytes]:
    """SHA-256 of a store file's JSON content; a truncated or corrupt gzip file is a
    :class:`FetchError` naming it."""
    raw = path.read_bytes()
    try:
        content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (EOFError, OSError) as exc:
        raise FetchError(f"{path}: not a complete gzip file ({exc})") from None
    return hashlib.sha256(content).hexdigest(), content


def _check_name(name: str) -> None:
    parts = name.split("/")
    if len(parts) != 2 or not all(parts) or any(p in (".", "..") or p.startswith(".") for p in parts):
        raise FetchError(f"--name must be MODEL/BENCH (two plain names), got {name!r}")


def import_store(
    path: str | Path,
    name: str,
    root: Path,
    *,
    force: bool = False,
    answer_type: str | None = None,
    options: int | None = None,
) -> Imported:
    """Check ``path`` (schema, and its ``.sha256`` sidecar when there is one), then install it as
    store ``name``. A published store's name only takes that store's exact content; another store
    already installed under ``name`` is replaced only with ``force``. ``answer_type`` (with
    ``options`` for a choice store without per-question option lists) types an upstream-format file
    (see the module docstring); a file that records its own type must agree with it."""
    path = Path(path)
    _check_name(name)
    if not path.is_file():
        raise FetchError(f"{path}: no such file")
    digest, content = content_sha256(path)
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.is_file():
        expected = sidecar.read_text(encoding="utf-8").split()[0] if sidecar.read_text().strip() else ""
        if expected != digest:
            raise FetchError(f"{path}: SHA-256 of the JSON content is {digest}, but {sidecar} says {expected!r}")
    if name in ALL_STORES and answer_type is not None:
        raise FetchError(f"{name} is a published store's name: published stores are exact as published")
    if name in ALL_STORES and CONTENT_SHA256[name] != digest:
        raise FetchError(f"{name} is a published store's name; choose another --name for {path}")
    try:
        store = load_store_file(path, name)
        if answer_type is not None and (answer_type != store.answer_type or store.metadata is None):
            content = typed_content(path, json.loads(content), name, digest, answer_type, options)
            digest = hashlib.sha256(content).hexdigest()
            store = parse_store(json.loads(content), path, name)
    except StoreError as exc:
        raise FetchError(str(exc)) from None
    target = installed_path(name, root)
    if target.is_file() and not force:
        present, _ = content_sha256(target)
        if present != digest:
            raise FetchError(f"{target} already holds a different store {name!r}; use --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        with gzip.GzipFile(fileobj=tmp, mode="wb", mtime=0) as gz:
            gz.write(content)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, target)
    side = target.with_name(target.name + ".sha256")
    side.write_text(f"{digest}  {target.name}\n", encoding="utf-8")
    return Imported(name, target, digest, store)


def typed_content(
    path: Path, raw: object, name: str, source_sha256: str, answer_type: str, options: int | None
) -> bytes:
    """The extended-format JSON of an upstream-format store ``raw`` typed as ``answer_type``: answers
    in the type's canonical form (math: math-verify classes, gold first), raw strings kept."""
    if answer_type not in ANSWER_TYPES:
        raise StoreError(path, f"unknown answer type {answer_type!r}; choose {', '.join(ANSWER_TYPES)}")
    if isinstance(raw, dict):
        recorded = raw.get("metadata", {}).get("answer_type")
        recorded = recorded.get("name") if isinstance(recorded, dict) else recorded
        raise StoreError(
            path,
            f"records its answer type ({recorded or 'math, from its equivalence'}); only an upstream-format "
            f"file takes --answer-type {answer_type}",
            field="metadata.answer_type",
        )
    if answer_type == "choice" and options is None:
        raise StoreError(path, "a choice store needs --options N (the option count of every question)")
    try:
        letters = option_letters(options) if answer_type == "choice" else None
        spec = AnswerSpec(answer_type, letters)
    except AnswerTypeError as exc:
        raise StoreError(path, str(exc)) from None
    questions = []
    for q, obj in enumerate(raw):  # the schema was checked by the caller's load
        canonical = canonicaliser(spec, obj["gold_answer"])
        gold = canonical(obj["gold_answer"])
        if answer_type == "choice" and gold == "ERR":
            raise StoreError(
                path,
                f"must be one of the option letters {', '.join(letters or ())}, got {obj['gold_answer']!r}",
                question=q,
                field="gold_answer",
            )
        branches, extras = [], []
        for probes, tokens, final in obj["each_branch"]:
            branches.append([[canonical(a) for a in probes], tokens, canonical(final)])
            extras.append({"probe_raw": probes, "final_raw": final})
        typed = {**obj, "gold_answer": gold, "each_branch": branches}
        if "final_answers_trace" in obj:
            typed["final_answers_trace"] = [b[2] for b in branches]
        typed["autotts"] = {"gold_raw": obj["gold_answer"], "branches": extras}
        questions.append(typed)
    kind: dict[str, Any] = {"name": answer_type}
    if options is not None:
        kind["options"] = options
    metadata = {"name": name, "imported_from": str(path), "source_sha256": source_sha256, "answer_type": kind}
    document = {"format": EXTENDED_FORMAT, "metadata": metadata, "questions": questions}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def verify_installed(name: str, root: Path) -> str:
    """Check an installed store against its checksum (the catalog's, or its ``.sha256`` file)."""
    target = installed_path(name, root)
    digest, _ = content_sha256(target)
    expected = CONTENT_SHA256.get(name)
    if expected is None:
        side = target.with_name(target.name + ".sha256")
        expected = side.read_text(encoding="utf-8").split()[0] if side.is_file() else None
    if expected is None:
        raise FetchError(f"{target}: no checksum recorded (import it with `autotts data import`)")
    if digest != expected:
        raise FetchError(f"{target}: SHA-256 of the JSON content is {digest}, expected {expected}")
    return digest


def installed_stores(root: Path) -> list[str]:
    """Names of the stores installed under ``root``: published ones first, then imported ones."""
    names = [n for n in ALL_STORES if installed_path(n, root).is_file()]
    if root.is_dir():
        for path in sorted(root.glob("*/*.json.gz")):
            name = f"{path.parent.name}/{path.name.removesuffix('.json.gz')}"
            if name not in names:
                names.append(name)
    return names
