"""Approval criteria: what a version's evidence must show before a person may approve it.

Criteria are a TOML file (``--criteria FILE``); every key is optional and falls back to the default
below. Values are checked against the version's held-out evidence, which compares the policy with
SC@64 on the same questions and seeds (paired, 95% bootstrap intervals over questions)::

    max_accuracy_drop_points = 1.0        # pooled (policy − SC@64) accuracy: 95% lower bound ≥ −1 point
    min_token_saving_percent = 20.0       # pooled token saving vs SC@64 (estimate) ≥ 20%
    forbid_store_worse_than_sc64 = true   # no store whose accuracy interval vs SC@64 lies wholly below 0
    require_validation = true             # the validation verdict passed
    require_reverify = true               # re-running the evidence gives every figure exactly
    max_robustness_flags = 0              # conditions of the attached robustness result that flag the policy
    require_robustness = false            # refuse a version registered without a robustness result
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .manifest import sha256_json


class CriteriaError(ValueError):
    """A criteria file that cannot be used (the message names the file and key)."""


@dataclass(frozen=True)
class Criteria:
    max_accuracy_drop_points: float = 1.0
    min_token_saving_percent: float = 20.0
    forbid_store_worse_than_sc64: bool = True
    require_validation: bool = True
    require_reverify: bool = True
    max_robustness_flags: float = 0.0
    require_robustness: bool = False
    source: str = "defaults"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["sha256"] = sha256_json({k: v for k, v in data.items() if k != "source"})
        return data


def load_criteria(path: Path | None) -> Criteria:
    """The defaults, overridden by the keys of ``path`` (a TOML file) when given."""
    if path is None:
        return Criteria()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CriteriaError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CriteriaError(f"{path}: not valid TOML: {exc}") from None
    data = data.get("criteria", data)  # a [criteria] table or top-level keys
    known = {f.name: f for f in fields(Criteria) if f.name != "source"}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise CriteriaError(f"{path}: unknown criterion {key!r}; known: {', '.join(known)}")
        default = getattr(Criteria, key)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise CriteriaError(f"{path}: {key} must be true or false, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise CriteriaError(f"{path}: {key} must be a number, got {value!r}")
        values[key] = float(value) if isinstance(default, float) else value
    return Criteria(**values, source=str(path))


@dataclass
class CriterionResult:
    name: str
    ok: bool | None  # None: not evaluated (see evaluate_criteria)
    value: Any
    threshold: Any
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"


def evaluate_criteria(
    criteria: Criteria,
    figures: dict[str, Any],
    stores: list[str],
    reverify: Callable[[], tuple[bool, str]],
    *,
    always_reverify: bool = False,
    robustness: dict[str, Any] | None = None,
) -> list[CriterionResult]:
    """Each criterion's value and verdict, from the evidence manifest's figures. ``reverify`` re-runs
    the evidence and says whether every figure was equal; it is the expensive one, so it is skipped
    (``ok`` None) when another criterion already refuses, unless ``always_reverify`` (an override
    records every value)."""
    out: list[CriterionResult] = []
    diff = figures.get("vs SC@64 (pooled): accuracy_difference")
    saving = figures.get("vs SC@64 (pooled): token_saving_percent")
    if diff is None or saving is None:
        return [CriterionResult("evidence", False, None, None, "the evidence has no comparison with SC@64")]
    floor = -criteria.max_accuracy_drop_points
    out.append(
        CriterionResult(
            "accuracy vs SC@64",
            diff[1] >= floor,
            diff,
            floor,
            f"policy − SC@64 = {diff[0]:+.2f} points, 95% CI [{diff[1]:+.2f}, {diff[2]:+.2f}]; lower bound must be "
            f"≥ {floor:+.2f}",
        )
    )
    out.append(
        CriterionResult(
            "token saving vs SC@64",
            saving[0] >= criteria.min_token_saving_percent,
            saving,
            criteria.min_token_saving_percent,
            f"saves {saving[0]:.1f}% [{saving[1]:.1f}, {saving[2]:.1f}] of SC@64's tokens; needs "
            f"≥ {criteria.min_token_saving_percent:g}%",
        )
    )
    if criteria.forbid_store_worse_than_sc64:
        worse = []
        for store in stores:
            d = figures.get(f"vs SC@64 ({store}): accuracy_difference", diff if len(stores) == 1 else None)
            if d is not None and d[2] < 0:
                worse.append(f"{store} ({d[0]:+.2f} [{d[1]:+.2f}, {d[2]:+.2f}])")
        out.append(
            CriterionResult(
                "no store worse than SC@64",
                not worse,
                worse,
                "no interval wholly below 0",
                "worse than SC@64 on " + ", ".join(worse) if worse else f"none of {len(stores)} stores",
            )
        )
    if criteria.require_validation:
        ok = figures.get("validation: ok") is True
        reason = figures.get("validation: reason") or ""
        out.append(CriterionResult("validation passed", ok, ok, True, "passed" if ok else f"failed: {reason}"))
    if robustness is not None:
        flagged = list(robustness.get("policy_flagged") or [])
        limit = criteria.max_robustness_flags
        out.append(
            CriterionResult(
                "robustness",
                len(flagged) <= limit,
                flagged,
                limit,
                f"flagged under {len(flagged)} of {robustness.get('conditions')} conditions"
                + (f" ({', '.join(flagged)})" if flagged else "")
                + f"; at most {limit:g} allowed",
            )
        )
    elif criteria.require_robustness:
        out.append(CriterionResult("robustness", False, None, None, "no robustness result was registered with it"))
    if criteria.require_reverify:
        if any(not r.ok for r in out) and not always_reverify:
            out.append(CriterionResult("evidence re-verifiable", None, None, True, "not re-run: already refused"))
        else:
            ok, detail = reverify()
            out.append(CriterionResult("evidence re-verifiable", ok, ok, True, detail))
    return out
