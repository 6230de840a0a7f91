"""The robustness report's figures: every condition and stratum judged against SC@64, the transfer
matrix of discovery runs, and ``robustness.json`` (schema in ``docs/robustness.md``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..controllers.loading import ControllerLoadError
from ..discovery.runfolder import RunFolder, RunFolderError
from ..evaluation import ControllerSpec
from ..report.runs import ReportInputError, chosen_candidate, is_file_ref
from .conditions import BASE, Condition
from .run import REFERENCE_BETA, REFERENCE_LABEL, ConditionResult, Entry, Progress, run_conditions
from .verdict import SAVING_LOSS, Verdict, curve_rows, frontier_saving, judge, operating_beta, strata

SCHEMA = "autotts.robustness/1"
DEFAULT_BETAS = (0.0, 0.25, 0.5, 0.75, 1.0)
DEFAULT_SEEDS = 50
DEFAULT_AGAINST = ("sc", "cmc")


class RegistryUnavailable(ReportInputError):
    """POLICY names a registry entry, which needs the governance issue's ``autotts policy``."""


def registry_entry(text: str) -> Entry:
    """``NAME@VERSION``: a policy from the registry. The registry (``autotts policy``) is not part of
    this tree yet; this is the one function to change when it lands."""
    raise RegistryUnavailable(f"{text}: registry references need `autotts policy` (not available)")


def resolve_entry(text: str, *, trusted: bool = False) -> Entry:
    """POLICY or an ``--against`` item: a built-in name, a controller file (``FILE.py[:Class]``), a
    discovery run folder (its chosen round's candidate) or a registry reference ``NAME@VERSION``."""
    text = text.strip()
    if not text:
        raise ReportInputError("empty controller reference")
    path = Path(text)
    if path.is_dir():
        try:
            file, label = chosen_candidate(path)
        except RunFolderError as exc:
            raise ReportInputError(str(exc)) from None
        return Entry(label, ControllerSpec(str(file), label=label), "run", str(path))
    if is_file_ref(text):
        file = Path(text.rpartition(":")[0] if ".py:" in text else text)
        if not file.is_file():
            raise ReportInputError(f"{file}: no such controller file")
        label = file.stem if ".py:" not in text else f"{file.stem}:{text.rpartition(':')[2]}"
        spec = ControllerSpec(text, label=label)
        if trusted:  # it will run in this process anyway: fail now, with the reason, not mid-evaluation
            _check_builds(spec)
        return Entry(label, spec, "file", text)
    if "@" in text:
        return registry_entry(text)
    spec = ControllerSpec(text, label=_builtin_label(text))
    _check_builds(spec)
    return Entry(spec.label, spec, "builtin", text)


def _check_builds(spec: ControllerSpec) -> None:
    try:
        spec.build(1.0)
    except (ControllerLoadError, LookupError, ValueError, TypeError, SyntaxError, ImportError) as exc:
        # a KeyError's str() is the repr of its message: show the message itself
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        raise ReportInputError(message) from None


def _builtin_label(name: str) -> str:
    return {"sc": "SC", "cmc": "CMC", "asc": "ASC", "esc": "ESC", "parallel-probe": "Parallel-Probe"}.get(name, name)


def transfer_entry(run: Path) -> tuple[Entry, list[str]]:
    """A discovery run folder for the transfer matrix: its chosen candidate and its search stores."""
    entry = resolve_entry(str(run))
    if entry.kind != "run":
        raise ReportInputError(f"--transfer {run}: not a discovery run folder")
    try:
        config = RunFolder.open(run).config
    except RunFolderError as exc:
        raise ReportInputError(str(exc)) from None
    stores = [str(s) for s in config.get("search_stores") or []]
    return Entry(f"{Path(run).name} ({_describe(stores)})", entry.spec, "run", str(run)), stores


def _describe(stores: Sequence[str]) -> str:
    """``Qwen3-4B/aime24`` or ``aime24 × 4 models`` or ``Qwen3-4B × 2 benchmarks``."""
    models = list(dict.fromkeys(s.split("/")[0] for s in stores))
    benches = list(dict.fromkeys(s.split("/")[-1] for s in stores))
    if len(stores) == 1:
        return stores[0]
    if len(benches) == 1:
        return f"{benches[0]} × {len(models)} models"
    if len(models) == 1:
        return f"{models[0]} × {len(benches)} benchmarks"
    return f"{len(stores)} stores"


@dataclass
class Robustness:
    """Everything the report shows; :meth:`to_json` is ``robustness.json``."""

    policy: Entry
    against: list[Entry]
    stores: list[str]
    betas: list[float]
    seeds: int
    results: list[ConditionResult]
    operating: dict[str, float]
    verdicts: list[Verdict]
    curves: list[dict]
    frontier: list[dict]
    transfer: list[dict] = field(default_factory=list)
    transfer_sources: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def labels(self) -> list[str]:
        return [self.policy.label] + [e.label for e in self.against]

    def flagged(self) -> list[Verdict]:
        """Flagged verdicts, the policy's first, then by controller and condition order."""
        order = {label: i for i, label in enumerate(self.labels)}
        return sorted((v for v in self.verdicts if v.flagged), key=lambda v: order.get(v.controller, len(order)))

    def conditions_json(self) -> list[dict]:
        rows = []
        for r in self.results:
            c = r.condition
            rows.append(
                {
                    "name": c.name,
                    "kind": "reference" if c is BASE or c.transform is None else "shift",
                    "group": c.group,
                    "description": c.description,
                    "replicates": c.replicates,
                    "stores": r.stores,
                    "questions": len(r.units),
                    "skipped": r.skipped,
                    "seconds": round(r.seconds, 2),
                    "failures": r.failure_lines,
                }
            )
        return rows

    def to_json(self) -> dict:
        flagged = self.flagged()
        return {
            "schema": SCHEMA,
            "policy": {
                "label": self.policy.label,
                "ref": self.policy.spec.ref,
                "kind": self.policy.kind,
                "source": self.policy.source,
            },
            "against": [{"label": e.label, "ref": e.spec.ref, "kind": e.kind} for e in self.against],
            "reference": {"label": REFERENCE_LABEL, "controller": "sc", "beta": REFERENCE_BETA},
            "stores": self.stores,
            "seeds": self.seeds,
            "betas": self.betas,
            "operating_beta": self.operating,
            "rules": {
                "level": 0.95,
                "worse_than_sc64": "the 95% interval of Δaccuracy vs SC@64 lies below zero",
                "lost_half_saving": f"saving vs SC@64 < {SAVING_LOSS:g} × the unshifted saving (when that is > 0)",
                "intervals": "paired percentile bootstrap over questions (2000 resamples)",
            },
            "conditions": self.conditions_json(),
            "cells": [v.to_json() for v in self.verdicts],
            "flagged": [{"condition": v.condition, "controller": v.controller, "reason": v.reason} for v in flagged],
            "policy_flagged": [v.condition for v in flagged if v.controller == self.policy.label],
            "curves": self.curves,
            "frontier": self.frontier,
            "transfer": self.transfer,
            "transfer_sources": self.transfer_sources,
            "seconds": round(self.seconds, 1),
        }

    def write_json(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def analyse(
    policy: Entry,
    against: Sequence[Entry],
    stores: Sequence[str],
    conditions: Sequence[Condition],
    *,
    betas: Sequence[float] = DEFAULT_BETAS,
    seeds: int = DEFAULT_SEEDS,
    operating_betas: dict[str, float] | None = None,
    transfer_runs: Sequence[Path] = (),
    jobs: int | None = None,
    trusted: bool = False,
    on_progress: Progress | None = None,
) -> Robustness:
    """Evaluate and judge: ``conditions`` must start with the base condition."""
    import time

    started = time.monotonic()
    if not conditions or conditions[0].transform is not None:
        raise ValueError("the first condition must be the unshifted base condition")
    betas = sorted(set(betas))
    if not betas or any(not 0.0 <= b <= 1.0 for b in betas):
        raise ValueError("β values must lie in [0, 1]")
    entries = [policy, *[e for e in against if e.label != policy.label]]
    if len({e.label for e in entries}) != len(entries) or REFERENCE_LABEL in {e.label for e in entries}:
        raise ValueError(f"controller labels must be distinct and differ from {REFERENCE_LABEL}")
    transfers = [transfer_entry(Path(run)) for run in transfer_runs]
    results = run_conditions(
        entries, stores, conditions, betas=betas, seeds=seeds, jobs=jobs, trusted=trusted, on_progress=on_progress
    )
    base = results[0]
    if not base.units:
        raise ValueError("no evaluation store could be used")
    operating = {e.label: operating_beta(base, e.label) for e in entries}
    operating.update({k: v for k, v in (operating_betas or {}).items() if k in operating})
    for label, beta in operating.items():
        if beta not in base.families[label].accuracy:
            raise ValueError(f"operating β {beta:g} of {label} is not in the β grid {betas}")
    base_saving = {
        e.label: judge(
            e.label, operating[e.label], base, None, 0.0, name="base", kind="reference", group=""
        ).saving.estimate
        for e in entries
    }
    verdicts: list[Verdict] = []
    for e in entries:
        beta = operating[e.label]
        verdicts.append(
            judge(e.label, beta, base, None, base_saving[e.label], name="base", kind="reference", group="reference")
        )
        for name, group, mask in strata(base):
            verdicts.append(
                judge(e.label, beta, base, mask, base_saving[e.label], name=name, kind="stratum", group=group)
            )
        for r in results[1:]:
            if r.units:
                verdicts.append(
                    judge(
                        e.label,
                        beta,
                        r,
                        None,
                        base_saving[e.label],
                        name=r.condition.name,
                        kind="shift",
                        group=r.condition.group,
                    )
                )
    labels = [e.label for e in entries]
    curves = [row for r in results if r.units for row in curve_rows(r, labels)]
    frontier = [
        {
            "condition": r.condition.name,
            "controller": label,
            "saving_at_sc64_accuracy": _round(frontier_saving(r, label)),
        }
        for r in results
        if r.units
        for label in labels
    ]
    report = Robustness(
        policy, list(entries[1:]), list(stores), betas, seeds, results, operating, verdicts, curves, frontier
    )
    if transfers:
        report.transfer, report.transfer_sources = transfer_matrix(
            transfers, stores, betas=betas, seeds=seeds, jobs=jobs, trusted=trusted, on_progress=on_progress
        )
    report.seconds = time.monotonic() - started
    return report


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def transfer_matrix(
    sources: Sequence[tuple[Entry, list[str]]],
    stores: Sequence[str],
    *,
    betas: Sequence[float],
    seeds: int,
    jobs: int | None,
    trusted: bool,
    on_progress: Progress | None,
) -> tuple[list[dict], list[dict]]:
    """Each discovery run's chosen controller on the unshifted stores, judged per target group (each
    model and each benchmark of ``stores``) against SC@64 at its operating β. A cell whose target
    stores were among the run's search stores is marked ``in_sample``."""
    entries = [e for e, _ in sources]

    def relabel(done: int, total: int, _condition: str) -> None:
        if on_progress:
            on_progress(done, total, "transfer matrix")

    (base,) = run_conditions(
        entries, stores, [BASE], betas=betas, seeds=seeds, jobs=jobs, trusted=trusted, on_progress=relabel
    )
    targets = [(name, group, mask) for name, group, mask in strata(base) if group in ("model", "benchmark")]
    rows, described = [], []
    for entry, searched in sources:
        beta = operating_beta(base, entry.label)
        whole = judge(entry.label, beta, base, None, 0.0, name="all stores", kind="reference", group="")
        described.append(
            {
                "source": entry.source,
                "label": entry.label,
                "discovered_on": searched,
                "candidate": entry.spec.ref,
                "beta": beta,
            }
        )
        for name, group, mask in targets:
            v = judge(entry.label, beta, base, mask, whole.saving.estimate, name=name, kind="stratum", group=group)
            target_stores = sorted({base.units[i][0] for i in range(len(mask)) if mask[i]})
            rows.append(
                {
                    "source": entry.label,
                    "discovered_on": searched,
                    "target": name,
                    "target_stores": target_stores,
                    "in_sample": bool(set(target_stores) & set(searched)),
                    "beta": beta,
                    "accuracy": round(v.accuracy, 4),
                    "tokens": round(v.tokens, 1),
                    "delta_accuracy": v.delta_accuracy.to_json(),
                    "saving": v.saving.to_json(),
                    "worse_than_sc64": v.worse,
                    "reason": v.reason,
                }
            )
    return rows, described
