"""Validation of a candidate controller file before any evaluation (the rules a proposal must pass).

Checks, in order; each is recorded as ``{"name", "ok", "detail"}`` and the first failure becomes the
``reason``, written so a model can act on it:

1. ``file``: a readable UTF-8 Python file of sensible size.
2. ``parses``: valid Python syntax.
3. Static screen (nothing executed): ``imports`` (allowlist: standard-library maths and collections,
   numpy, scipy, the autotts controller API), ``builtins`` (no getattr/eval/open/...), ``dunders``,
   ``private`` (no ``_x`` of objects it did not create, e.g. the episode's), ``monkeypatch``
   (no changes to imported objects or the episode), ``format`` (no attribute access in format strings).
4. In a sandboxed worker: ``loads`` (importing the file raises nothing and does nothing forbidden),
   ``controller class`` (exactly one subclass of ``autotts.controllers.Controller`` that implements
   ``run``), ``constructor`` (takes β and nothing else; with ``beta_rule=False``, the paper's
   "no β rule" ablation, extra parameters with defaults are allowed), ``schedule`` (``schedule(β)``
   returns the same JSON-serialisable dict when called twice per β), ``ceiling`` (no more than 64
   branches).
5. ``quick run``: a sandboxed evaluation over the β grid on one search store with a few seeds;
   no episode may raise or be stopped. ``independent episodes``: the same episodes played in
   reverse order give the same answers and costs (``random``/``numpy.random`` are reseeded per
   episode there), so a controller cannot carry answers from one seed of a question to the next.
   ``run_batch agrees`` (for a class that implements the optional ``run_batch``): the lockstep run
   gives every episode the same answer, tokens and latency as ``run``.
   ``monotone tokens``: mean tokens must not fall as β grows (2% tolerance).

Upstream-style files (a class with ``solve(question)``) run with ``autotts eval`` but are **not**
accepted as discovery candidates: the upstream adapter's ceiling is the whole 128-branch pool, which
would let a candidate out-read SC@64, and it has no β schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..env.core import DEFAULT_MAX_BRANCHES
from ..evaluation.runner import describe_difference, episode_differences
from ..evaluation.spec import Cell, ControllerSpec
from ..sandbox import SandboxLimits, SandboxPool, stopped
from .screen import RULES, describe_findings, screen_source

MAX_FILE_BYTES = 200_000
TOKEN_TOLERANCE = 0.02  # relative drop in mean tokens between neighbouring β values that is still accepted
QUICK_LIMITS = SandboxLimits(cpu_seconds=300.0, wall_seconds=20.0, memory_mb=2048)  # a block is 3 seeds


@dataclass
class ValidationResult:
    """The verdict on one candidate file."""

    ok: bool
    reason: str  # the first failure, in words a model can act on ("" when ok)
    class_name: str | None
    checks: list[dict] = field(default_factory=list)  # every check: {"name", "ok", "detail"}
    tokens_by_beta: dict[float, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["tokens_by_beta"] = {f"{b:g}": t for b, t in self.tokens_by_beta.items()}
        return data


class _Checks:
    """Accumulates checks; the first failure is the reason."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, name: str, ok: bool | None, detail: str) -> bool:
        self.items.append({"name": name, "ok": ok, "detail": detail})
        return bool(ok)

    def skip(self, *names: str, why: str = "not run: an earlier check failed") -> None:
        for name in names:
            self.add(name, None, why)

    @property
    def failed(self) -> bool:
        return any(c["ok"] is False for c in self.items)

    def result(self, class_name: str | None, tokens: dict[float, float] | None = None) -> ValidationResult:
        first = next((c for c in self.items if c["ok"] is False), None)
        reason = f"{first['name']}: {first['detail']}" if first else ""
        return ValidationResult(first is None, reason, class_name, self.items, dict(tokens or {}))


DYNAMIC_CHECKS = (
    "loads",
    "controller class",
    "constructor",
    "schedule",
    "ceiling",
    "quick run",
    "independent episodes",
    "run_batch agrees",
    "monotone tokens",
)


def validate_candidate(
    path: Path,
    *,
    beta_rule: bool = True,
    betas: Sequence[float] = (0.0, 0.5, 1.0),
    quick_store: str = "Qwen3-4B/aime24",
    quick_seeds: int = 3,
    limits: SandboxLimits | None = None,
) -> ValidationResult:
    """Validate a candidate file (see the module docstring). Never raises for a bad candidate;
    raises :class:`~autotts.sandbox.SandboxError` if the sandbox cannot run (e.g. the
    quick store is not installed)."""
    path = Path(path)
    checks = _Checks()
    source = _static_checks(path, checks)
    if source is None or checks.failed:
        checks.skip(*DYNAMIC_CHECKS)
        return checks.result(None)
    betas = sorted(set(float(b) for b in betas))
    ref = str(path)
    with SandboxPool([ref], [quick_store], jobs=1, limits=limits or QUICK_LIMITS) as pool:
        info = pool.inspect(ref, betas)
        class_name = info.get("class")
        if not _class_checks(info, betas, beta_rule, checks):
            done = {c["name"] for c in checks.items}
            checks.skip(*(name for name in DYNAMIC_CHECKS if name not in done))
            return checks.result(class_name)
        cells = [Cell(ControllerSpec(ref, label=path.name), b, quick_store, quick_seeds) for b in betas]
        results = pool.evaluate(cells, seed_each_episode=True)
        failure = stopped(results) or next((f for r in results for f in r.failures), None)
        backwards = pool.evaluate(cells, reverse=True, seed_each_episode=True) if failure is None else []
        batched = pool.evaluate(cells) if failure is None and info.get("has_run_batch") else None
    if failure is not None:
        checks.add("quick run", False, f"{failure}")
        checks.skip("independent episodes", "run_batch agrees", "monotone tokens")
        return checks.result(class_name)
    tokens = {r.beta: r.mean_tokens for r in results}
    accuracy = ", ".join(f"β={r.beta:g}: {r.accuracy:.1f}%" for r in results)
    checks.add(
        "quick run", True, f"{len(results)} β values × {quick_seeds} seeds on {quick_store}; accuracy {accuracy}"
    )
    if not _independence_check(results, backwards, checks):
        checks.skip("run_batch agrees", "monotone tokens")
        return checks.result(class_name, tokens)
    if batched is None:
        checks.skip("run_batch agrees", why="not applicable: the class has no run_batch (lockstep form)")
    elif not _batch_check(results, batched, checks):
        checks.skip("monotone tokens")
        return checks.result(class_name, tokens)
    _monotone_check(tokens, checks)
    return checks.result(class_name, tokens)


def _static_checks(path: Path, checks: _Checks) -> str | None:
    """File, syntax and the static screen; returns the source when it could be read and parsed."""
    if path.suffix != ".py" or not path.is_file():
        checks.add("file", False, f"{path} is not a Python file (.py)")
        checks.skip("parses", *(name for name, _ in RULES))
        return None
    try:
        raw = path.read_bytes()
        source = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        checks.add("file", False, f"cannot be read as UTF-8 text: {exc}")
        checks.skip("parses", *(name for name, _ in RULES))
        return None
    if len(raw) > MAX_FILE_BYTES:
        checks.add("file", False, f"is {len(raw):,} bytes; keep a controller under {MAX_FILE_BYTES:,} bytes")
        checks.skip("parses", *(name for name, _ in RULES))
        return None
    checks.add("file", True, f"{path.name}, {len(raw):,} bytes")
    try:
        findings = screen_source(source, str(path))
    except SyntaxError as exc:
        checks.add("parses", False, f"line {exc.lineno}: {exc.msg}")
        checks.skip(*(name for name, _ in RULES))
        return None
    checks.add("parses", True, "valid Python")
    for rule, description in RULES:
        found = [f for f in findings if f.rule == rule]
        checks.add(rule, not found, describe_findings(found) if found else description)
    return source


def _class_checks(info: dict, betas: list[float], beta_rule: bool, checks: _Checks) -> bool:
    problem = info.get("rejected") or info.get("stopped") or "; ".join(info.get("errors") or [])
    if problem:
        return checks.add("loads", False, problem)
    checks.add("loads", True, "imported in the sandbox without errors")
    natives, upstream = info.get("controllers", []), info.get("upstream", [])
    if len(natives) != 1:
        if not natives and upstream:
            detail = (
                f"{', '.join(upstream)} has solve(question) (the upstream interface); discovery candidates must "
                "subclass autotts.controllers.Controller and implement run(episode)"
            )
        elif not natives:
            detail = "defines no subclass of autotts.controllers.Controller; define exactly one, with run(episode)"
        else:
            detail = f"defines {len(natives)} Controller subclasses ({', '.join(natives)}); keep exactly one"
        return checks.add("controller class", False, detail)
    if not info.get("has_run"):
        return checks.add("controller class", False, f"{info['class']} does not implement run(episode)")
    checks.add("controller class", True, info["class"])
    return (
        _constructor_check(info, betas, beta_rule, checks)
        and _schedule_check(info, betas, checks)
        and _ceiling_check(info, checks)
    )


def _constructor_check(info: dict, betas: list[float], beta_rule: bool, checks: _Checks) -> bool:
    name = info["class"]
    for beta, error in zip(betas, info.get("construct", []), strict=False):
        if error:
            return checks.add("constructor", False, f"{name}({beta:g}) raised {error}")
    if info.get("inherits_init"):
        return checks.add("constructor", True, "inherits Controller.__init__(beta)")
    params = info.get("init")
    if params is None:
        return checks.add("constructor", False, "its __init__ signature cannot be read")
    if not params or params[0]["kind"] not in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD"):
        return checks.add("constructor", False, "__init__ must take β as its first argument: def __init__(self, beta)")
    extra = [p for p in params[1:] if p["kind"] != "VAR_KEYWORD"]
    if extra and beta_rule:
        names = ", ".join(p["name"] for p in extra)
        return checks.add(
            "constructor",
            False,
            f"__init__ takes {names} besides β; the single-knob rule allows β only: derive every "
            "hyperparameter from β in schedule(beta)",
        )
    required = [p["name"] for p in extra if not p["default"] and p["kind"] != "VAR_POSITIONAL"]
    if required:
        return checks.add("constructor", False, f"__init__ requires {', '.join(required)}; it is built with β only")
    return checks.add("constructor", True, "takes β" + (" (and defaulted extras: no β rule)" if extra else ""))


def _schedule_check(info: dict, betas: list[float], checks: _Checks) -> bool:
    first, second = info.get("schedules") or ([], [])
    for beta, a, b in zip(betas, first, second, strict=False):
        if "error" in a or "error" in b:
            error = a.get("error") or b.get("error")
            hint = " (convert numpy numbers with float() or int())" if "not JSON serializable" in error else ""
            return checks.add("schedule", False, f"schedule({beta:g}) failed: {error}{hint}")
        if not a["json"].startswith("{"):
            return checks.add("schedule", False, f"schedule({beta:g}) must return a dict of hyperparameters")
        if a["json"] != b["json"]:
            return checks.add(
                "schedule",
                False,
                f"schedule({beta:g}) returned different values on a second call ({a['json'][:80]} vs "
                f"{b['json'][:80]}); it must be a pure function of β",
            )
    shown = "; ".join(f"β={beta:g}: {a['json'][:60]}" for beta, a in zip(betas, first, strict=False))
    return checks.add("schedule", True, f"pure and JSON-serialisable ({shown})")


def _ceiling_check(info: dict, checks: _Checks) -> bool:
    ceiling = info.get("max_branches")
    if not isinstance(ceiling, int) or ceiling > DEFAULT_MAX_BRANCHES:
        return checks.add(
            "ceiling",
            False,
            f"max_branches = {ceiling!r}; at most {DEFAULT_MAX_BRANCHES} branches may be opened per question "
            "(a ceiling, not a target): remove the override",
        )
    return checks.add("ceiling", True, f"at most {ceiling} branches")


def _independence_check(forward: list, backward: list, checks: _Checks) -> bool:
    """The same episodes played in reverse order must give the same answers and costs."""
    for a, b in zip(forward, backward, strict=True):
        failure = stopped([b]) or next(iter(b.failures), None)
        if failure is not None or a.answers != b.answers or not (a.tokens == b.tokens).all():
            return checks.add(
                "independent episodes",
                False,
                f"at β={a.beta:g}, playing the same episodes in reverse order changed the results"
                + (f" ({failure})" if failure else "")
                + ": run() carries information from one episode to the next (e.g. remembered answers or a "
                "cache keyed by question); keep per-episode state inside run()",
            )
    return checks.add("independent episodes", True, "the same results when episodes are played in reverse order")


def _batch_check(scalar: list, batched: list, checks: _Checks) -> bool:
    """``run_batch`` must decide exactly as ``run``: the same answer, tokens and latency in every episode."""
    for a, b in zip(scalar, batched, strict=True):
        failure = stopped([b]) or next(iter(b.failures), None)
        if failure is not None:
            return checks.add("run_batch agrees", False, f"at β={a.beta:g}, run_batch failed: {failure}")
        differs = episode_differences(a, b)
        if differs:
            return checks.add(
                "run_batch agrees",
                False,
                f"run_batch and run disagree in {len(differs)} of {a.seeds * a.questions} episodes at β={a.beta:g}; "
                f"first: {describe_difference(a, b, differs[0])}; run_batch must decide exactly as run, or be removed",
            )
    return checks.add("run_batch agrees", True, "run_batch gives the same answers and costs as run in every episode")


def _monotone_check(tokens: dict[float, float], checks: _Checks) -> bool:
    pairs = sorted(tokens.items())
    shown = ", ".join(f"β={b:g}: {t:,.0f}" for b, t in pairs)
    for (b0, t0), (b1, t1) in zip(pairs, pairs[1:], strict=False):
        if t1 < t0 * (1 - TOKEN_TOLERANCE):
            return checks.add(
                "monotone tokens",
                False,
                f"mean tokens fall from {t0:,.0f} at β={b0:g} to {t1:,.0f} at β={b1:g}; a larger β must not "
                f"spend less (tolerance {TOKEN_TOLERANCE:.0%}). Mean tokens: {shown}",
            )
    return checks.add("monotone tokens", True, f"mean tokens {shown}")


def summary_rows(result: ValidationResult) -> list[tuple[str, str, str]]:
    """``(check, status, detail)`` rows for tables."""
    status = {True: "ok", False: "FAIL", None: "-"}
    return [(c["name"], status[c["ok"]], c["detail"]) for c in result.checks]
