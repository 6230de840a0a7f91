"""The evidence bundle a policy version is registered with.

One evaluation, recorded as a provenance manifest (so ``autotts verify`` and the approval gate can
re-run it exactly):

* the policy at its β on the held-out stores, beside SC@64 (``sc`` at β = 1) and CMC (β = 1) under
  the same questions and seeds: paired comparisons with 95% bootstrap intervals over questions,
  pooled and per store (``report.compare``);
* the policy card — schedule and behaviour by β from traces (``report.card``) — on one store;
* the validation verdict (``discovery.validation`` for files; built-ins get the checks that apply).

The summary (:func:`summarize`) is what ``policy show`` prints and the criteria read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import split_stores
from ..evaluation import Cell, ControllerSpec
from .execution import run_cells
from .manifest import Clock, sha256_bytes
from .verify import make_manifest

SC64 = ControllerSpec("sc", label="SC@64")
CMC = ControllerSpec("cmc", label="CMC")


@dataclass(frozen=True)
class EvidencePlan:
    """How much evidence to collect. The defaults take well under a minute on 2 cores for built-ins."""

    stores: tuple[str, ...] = field(default_factory=lambda: split_stores("heldout"))
    seeds: int = 20
    card_seeds: int = 2
    card_betas: tuple[float, ...] = (0.0, 0.5, 1.0)
    quick_store: str = "Qwen3-4B/aime24"

    def to_json(self) -> dict[str, Any]:
        return {
            "stores": list(self.stores),
            "seeds": self.seeds,
            "card_seeds": self.card_seeds,
            "card_betas": list(self.card_betas),
            "quick_store": self.quick_store,
        }


def collect_evidence(
    ref: str,
    beta: float,
    label: str,
    plan: EvidencePlan,
    *,
    trusted: bool = False,
    jobs: int | None = None,
    clock: Clock | None = None,
    on_step: Any = None,
) -> dict[str, Any]:
    """Evaluate ``ref`` (a built-in name or a controller file) and return the evidence manifest."""
    clock = clock or Clock()
    stores = list(plan.stores)
    if not stores:
        raise ValueError("the evidence needs at least one held-out store")
    policy = ControllerSpec(ref, label=label)
    n = len(stores)
    cells = [Cell(policy, beta, s, plan.seeds) for s in stores]
    cells += [Cell(SC64, 1.0, s, plan.seeds) for s in stores]
    cells += [Cell(CMC, 1.0, s, plan.seeds) for s in stores]
    card_betas = sorted(set(plan.card_betas) | {beta})
    card_store = stores[0]
    card_cells = [Cell(policy, b, card_store, plan.card_seeds) for b in card_betas]
    if on_step:
        on_step("held-out evaluation beside SC@64 and CMC")
    results = run_cells(cells, trusted=trusted, jobs=jobs)
    if on_step:
        on_step("policy card (traces)")
    results += run_cells(card_cells, trusted=trusted, jobs=jobs, want_traces=True)
    everything = cells + card_cells
    derive = [
        {"kind": "cells"},
        {
            "kind": "compare",
            "a": list(range(n)),
            "b": list(range(n, 2 * n)),
            "label_a": label,
            "label_b": "SC@64",
            "name": "vs SC@64",
        },
        {
            "kind": "compare",
            "a": list(range(n)),
            "b": list(range(2 * n, 3 * n)),
            "label_a": label,
            "label_b": "CMC",
            "name": "vs CMC",
        },
        {
            "kind": "card",
            "cells": list(range(3 * n, len(everything))),
            "stores": [card_store],
            "betas": card_betas,
            "name": "card",
        },
        {"kind": "validation", "controller": ref, "quick_store": plan.quick_store, "name": "validation"},
    ]
    if on_step:
        on_step("card and validation")
    return make_manifest(
        "evidence",
        cells=everything,
        results=results,
        derive=derive,
        base=None,
        trusted=trusted,
        clock=clock,
        stores=[plan.quick_store],
        jobs=jobs,
        extra={"policy": {"label": label, "beta": beta}, "evidence_plan": plan.to_json()},
    )


class RobustnessEvidenceError(ValueError):
    """A robustness file that cannot be used as evidence (the message names the file and field)."""


def robustness_evidence(path: Path) -> dict[str, Any]:
    """The figures of an ``autotts robustness`` result (``robustness.json`` or its folder) that
    approval reads: which conditions flag the policy, at what β, on which stores; with the file's hash."""
    path = Path(path)
    if path.is_dir():
        path = path / "robustness.json"
    try:
        raw = path.read_bytes()
        doc = json.loads(raw)
    except OSError as exc:
        raise RobustnessEvidenceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise RobustnessEvidenceError(f"{path}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith("autotts.robustness/"):
        raise RobustnessEvidenceError(f"{path}: field 'schema' is not an autotts robustness result")
    for key in ("policy", "policy_flagged", "conditions", "stores"):
        if key not in doc:
            raise RobustnessEvidenceError(f"{path}: field '{key}' is missing")
    return {
        "sha256": sha256_bytes(raw),
        "policy": doc["policy"].get("label") if isinstance(doc["policy"], dict) else None,
        "operating_beta": doc.get("operating_beta"),
        "stores": doc["stores"],
        "seeds": doc.get("seeds"),
        "conditions": len(doc["conditions"]),
        "policy_flagged": list(doc["policy_flagged"]),
    }


def summarize(manifest: dict[str, Any], robustness: dict[str, Any] | None = None) -> dict[str, Any]:
    """The evidence in a few numbers: pooled and per-store comparisons, validation, card behaviour,
    and the robustness result when one was attached (:func:`robustness_evidence`)."""
    figures = manifest["figures"]
    stores = list(manifest.get("evidence_plan", {}).get("stores", []))

    def pick(prefix: str) -> dict[str, Any]:
        return {
            "accuracy": figures.get(f"{prefix}: accuracy_a"),
            "reference_accuracy": figures.get(f"{prefix}: accuracy_b"),
            "tokens": figures.get(f"{prefix}: tokens_a"),
            "reference_tokens": figures.get(f"{prefix}: tokens_b"),
            "accuracy_difference": figures.get(f"{prefix}: accuracy_difference"),
            "token_saving_percent": figures.get(f"{prefix}: token_saving_percent"),
            "verdict": figures.get(f"{prefix}: verdict"),
        }

    per_store = {}
    for store in stores:
        key = f"vs SC@64 ({store})" if len(stores) > 1 else "vs SC@64 (pooled)"
        per_store[store] = pick(key)
    card = {k.removeprefix("card behaviour "): v for k, v in figures.items() if k.startswith("card behaviour ")}
    return {
        "stores": stores,
        "seeds": manifest.get("evidence_plan", {}).get("seeds"),
        "vs_sc64": pick("vs SC@64 (pooled)"),
        "vs_cmc": pick("vs CMC (pooled)"),
        "per_store_vs_sc64": per_store,
        "validation": {"ok": figures.get("validation: ok"), "reason": figures.get("validation: reason")},
        "card": card,
        "robustness": robustness,
    }


def controller_source(ref: str) -> tuple[bytes, str, str | None]:
    """(source bytes, kind, class name) of a built-in name or a ``FILE.py[:Class]`` reference."""
    from .manifest import is_file_ref, split_file_ref

    if is_file_ref(ref):
        path_text, cls = split_file_ref(ref)
        path = Path(path_text)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such controller file")
        return path.read_bytes(), "file", cls
    import inspect
    import sys

    from ..controllers.base import get_controller_class

    cls_obj = get_controller_class(ref)
    module = sys.modules[cls_obj.__module__]
    return Path(inspect.getsourcefile(module) or "").read_bytes(), "builtin", cls_obj.__name__
