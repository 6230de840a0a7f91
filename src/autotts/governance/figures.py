"""Figures: the named numbers a manifest vouches for, and the derivations that compute them from
evaluation results. The same functions run when a command writes its manifest and when ``autotts
verify`` re-runs it, so a figure is equal exactly when the computation behind it is unchanged.

Derivations (``manifest["derive"]``, each ``{"kind", ...}``; ``"figures"`` lists the names it made):

* ``cells`` — per cell: accuracy, ci_low, ci_high, tokens, latency_tokens, errors (as in the CSVs);
* ``means`` — plain means over stores per (controller, β) (``autotts eval``'s mean rows);
* ``compare`` — a paired comparison (``report.compare``) of cells ``a`` against cells ``b``, pooled
  and per store;
* ``card`` — a policy card's schedule and behaviour by β (``report.card``), from cells with traces;
* ``validation`` — the validation verdict of a controller file (``discovery.validation``), or for a
  built-in the in-process checks that apply to one;
* ``judgement`` — the held-out judgement of ``autotts report`` (``report.judgement``), which runs its
  own evaluation from its parameters.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..evaluation import Cell, CellResult
from .manifest import is_file_ref, plain

CELL_METRICS = ("accuracy", "ci_low", "ci_high", "tokens", "latency_tokens", "errors")


def cell_name(cell: dict[str, Any]) -> str:
    """``[group] label β=b store`` — the group (e.g. the CSV a run folder keeps it in) disambiguates
    the same controller evaluated twice with different seeds."""
    group = f"{cell['group']}: " if cell.get("group") else ""
    return f"{group}{cell['label']} β={float(cell['beta']):g} {cell['store']}"


def cell_values(result: CellResult) -> dict[str, Any]:
    """A cell's numbers, rounded as every results file writes them."""
    low, high = result.accuracy_ci
    return {
        "accuracy": round(result.accuracy, 4),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
        "tokens": round(result.mean_tokens, 3),
        "latency_tokens": round(result.mean_latency, 3),
        "errors": len(result.failures),
    }


def _flat(prefix: str, value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}: {key}"
        if isinstance(item, dict):
            out.update(_flat(name, item))
        else:
            out[name] = plain(item)
    return out


def csv_normal(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as they read back from the CSV the report writes (so figures equal the files' values)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    buffer.seek(0)
    return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(buffer)]


# ------------------------------------------------------------------------------------- derivations

Results = Sequence[CellResult | None]


def derive_cells(spec: dict, cells: list[dict], results: Results, ctx: dict) -> dict[str, Any]:
    indices = spec.get("cells") or range(len(cells))
    out = {}
    for i in indices:
        for metric, value in cell_values(results[i]).items():
            out[f"{cell_name(cells[i])}: {metric}"] = value
    return out


def derive_means(spec: dict, cells: list[dict], results: Results, ctx: dict) -> dict[str, Any]:
    from ..evaluation.summary import mean_rows

    indices = spec.get("cells") or range(len(cells))
    out = {}
    for row in mean_rows([results[i] for i in indices]):
        name = f"{row['controller']} β={row['beta']:g} {row['store']}"
        for metric in ("accuracy", "tokens", "latency_tokens", "errors"):
            out[f"{name}: {metric}"] = row[metric]
    return out


def derive_compare(spec: dict, cells: list[dict], results: Results, ctx: dict) -> dict[str, Any]:
    from ..report.compare import Comparison, per_store_comparisons

    a = [results[i] for i in spec["a"]]
    b = [results[i] for i in spec["b"]]
    label_a, label_b = spec["label_a"], spec["label_b"]
    prefix = spec.get("name") or f"{label_a} vs {label_b}"
    out = _flat(f"{prefix} (pooled)", Comparison.of(label_a, a, label_b, b).to_json())
    if spec.get("per_store", True) and len(a) > 1:
        for c in per_store_comparisons(label_a, a, label_b, b):
            out.update(_flat(f"{prefix} ({c.stores[0]})", c.to_json()))
    return out


def derive_card(spec: dict, cells: list[dict], results: Results, ctx: dict) -> dict[str, Any]:
    from ..report.card import build_card

    members = [results[i] for i in spec["cells"]]
    ref = ctx["refs"][cells[spec["cells"][0]]["controller"]]
    from .manifest import spec_of

    card = build_card(
        spec_of(cells[spec["cells"][0]], ref),
        spec["stores"],
        betas=spec["betas"],
        results=members,
        trusted=ctx.get("trusted", False),
    )
    prefix = spec.get("name") or "card"
    out: dict[str, Any] = {}
    for row in card.schedule:
        out.update(_flat(f"{prefix} schedule β={float(row['beta']):g}", {k: v for k, v in row.items() if k != "beta"}))
    for row in card.behaviour:
        out.update(_flat(f"{prefix} behaviour β={float(row['beta']):g}", {k: v for k, v in row.items() if k != "beta"}))
    return out


def derive_validation(spec: dict, cells: list[dict], results: Results, ctx: dict) -> dict[str, Any]:
    ref = ctx["refs"][spec["controller"]]
    verdict = validation_verdict(ref, quick_store=spec["quick_store"], betas=spec.get("betas", (0.0, 0.5, 1.0)))
    prefix = spec.get("name") or "validation"
    out = {f"{prefix}: ok": verdict["ok"], f"{prefix}: reason": verdict["reason"]}
    for check in verdict["checks"]:
        out[f"{prefix}: {check['name']}"] = check["ok"]
    return out


def validation_verdict(ref: str, *, quick_store: str, betas: Sequence[float] = (0.0, 0.5, 1.0)) -> dict[str, Any]:
    """The validation verdict of a controller. A file goes through ``discovery.validation`` (static
    screen, sandboxed class checks, quick run, independence, run_batch agreement, monotone tokens).
    A built-in cannot (it uses relative imports the screen rightly refuses): it gets the checks that
    apply to trusted code — a quick run without errors, and tokens non-decreasing over β."""
    if is_file_ref(ref):
        from ..discovery.validation import validate_candidate

        path = Path(ref.rpartition(":")[0] if ".py:" in ref else ref)
        result = validate_candidate(path, betas=tuple(betas), quick_store=quick_store).to_json()
        return {"ok": bool(result["ok"]), "reason": result["reason"], "checks": result["checks"]}
    from ..evaluation import ControllerSpec, evaluate

    cells = [Cell(ControllerSpec(ref), float(b), quick_store, 3) for b in sorted(set(betas))]
    done = evaluate(cells, jobs=1)
    failures = [f for r in done for f in r.failures]
    checks = [
        {
            "name": "built-in",
            "ok": True,
            "detail": f"{ref} ships with autotts (trusted; the file screens do not apply)",
        },
        {"name": "quick run", "ok": not failures, "detail": str(failures[0]) if failures else ""},
    ]
    tokens = [r.mean_tokens for r in done]
    drops = [(done[i].beta, done[i + 1].beta) for i in range(len(done) - 1) if tokens[i + 1] < tokens[i] * 0.98]
    checks.append(
        {"name": "monotone tokens", "ok": not drops, "detail": f"tokens fall between β {drops}" if drops else ""}
    )
    failed = next((c for c in checks if not c["ok"]), None)
    return {
        "ok": failed is None,
        "reason": "" if failed is None else f"{failed['name']}: {failed['detail']}",
        "checks": checks,
    }


def derive_judgement(spec: dict, cells: list[dict], results: Results, ctx: dict) -> dict[str, Any]:
    from ..evaluation import ControllerSpec
    from ..report.judgement import frontier_rows, judge, table1_rows

    ref = ctx["refs"][spec["controller"]]
    j = judge(
        ControllerSpec(ref, label=spec["label"]),
        spec["stores"],
        seeds=spec["seeds"],
        curve_seeds=spec.get("curve_seeds"),
        chosen_betas=spec["chosen_betas"],
        baseline_betas=spec["baseline_betas"],
        jobs=ctx.get("jobs"),
        trusted=ctx.get("trusted", False),
    )
    return judgement_figures(table1_rows(j), frontier_rows(j), spec.get("name") or "held-out")


def judgement_figures(table: list[dict], frontier: list[dict], prefix: str) -> dict[str, Any]:
    """Figures of a judgement from its table rows, as its CSVs hold them."""
    out: dict[str, Any] = {}
    for row in csv_normal(table):
        name = f"{prefix} table: {row['method']} β={float(row['beta']):g} {row['store']}"
        out.update(_flat(name, {k: _nan_none(v) for k, v in row.items() if k not in ("method", "beta", "store")}))
    for row in csv_normal(frontier):
        name = f"{prefix} frontier: {row['method']} {row['store']}"
        out.update(_flat(name, {k: _nan_none(v) for k, v in row.items() if k not in ("method", "store")}))
    return out


def _number(text: str) -> Any:
    """A CSV cell as the number it holds (int before float), else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _nan_none(value: Any) -> Any:
    return None if value == "" or (isinstance(value, float) and math.isnan(value)) else value


DERIVATIONS: dict[str, Callable[[dict, list[dict], Results, dict], dict[str, Any]]] = {
    "cells": derive_cells,
    "means": derive_means,
    "compare": derive_compare,
    "card": derive_card,
    "validation": derive_validation,
    "judgement": derive_judgement,
}


def inputs_of(spec: dict, n_cells: int) -> list[int]:
    """Cell indices a derivation reads (its figures cannot be re-run when one of them cannot)."""
    kind = spec["kind"]
    if kind in ("cells", "means"):
        return list(spec.get("cells") or range(n_cells))
    if kind == "compare":
        return [*spec["a"], *spec["b"]]
    if kind == "card":
        return list(spec["cells"])
    return []


def compute(derive: list[dict], cells: list[dict], results: Results, ctx: dict) -> list[dict[str, Any]]:
    """Each derivation's figures (in order); ``ctx["refs"]`` maps controller keys to runnable refs."""
    return [DERIVATIONS[spec["kind"]](spec, cells, results, ctx) for spec in derive]


def stamp(derive: list[dict], computed: list[dict[str, Any]]) -> tuple[list[dict], dict[str, Any]]:
    """Record in each derivation the names of the figures it produced; all figures merged."""
    figures: dict[str, Any] = {}
    stamped = []
    for spec, made in zip(derive, computed, strict=True):
        stamped.append({**spec, "figures": list(made)})
        figures.update(made)
    return stamped, figures
