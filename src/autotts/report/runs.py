"""What the report commands evaluate: controller references (names, files, discovery runs) and a
single place that runs cells, sandboxed when the code is an untrusted file."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..controllers.loading import ControllerLoadError
from ..discovery.records import RunSummary, choose_round, mean_curve, read_results, read_rounds
from ..discovery.runfolder import RunFolder, RunFolderError
from ..evaluation import Cell, CellResult, ControllerSpec
from ..sandbox import SandboxPool, evaluate_cells, is_file_ref, needs_sandbox


class ReportInputError(ValueError):
    """A bad controller reference, run folder or option value (shown to the user without traceback)."""


@dataclass(frozen=True)
class ControllerRef:
    """A controller to evaluate: its spec, an optional fixed β (``NAME@β``) and a display label."""

    spec: ControllerSpec
    beta: float | None
    label: str
    is_file: bool


def at_max_beta(path: Path) -> tuple[float, float] | None:
    """Mean accuracy and tokens over stores at the largest β of a round's results CSV (None if the
    file is absent, unreadable or holds no rows)."""
    try:
        curve = mean_curve(read_results(path))
    except (OSError, RunFolderError):
        return None
    return (curve[-1][1], curve[-1][2]) if curve else None


def chosen_round(run: Path) -> int | None:
    """The round a discovery run chose: the journal's ``run_finished`` event, else ``summary.json``,
    else (a run still going) :func:`~autotts.discovery.records.choose_round` over its finished rounds
    with the run's own selection rule: the same choice ``discover`` makes when it finishes."""
    folder = RunFolder.open(run)
    for event in reversed(folder.events()):
        if event.get("event") == "run_finished" and event.get("chosen_round") is not None:
            return int(event["chosen_round"])
    summary = RunSummary.read(folder.root)
    if summary is not None and summary.chosen_round is not None:
        return summary.chosen_round
    rounds = read_rounds(folder.root, folder.finished_round_numbers())
    return choose_round(rounds, str(folder.config.get("selection") or "accuracy"))


def chosen_candidate(run: Path) -> tuple[Path, str]:
    """The chosen round's controller file of a discovery run folder and a label for it."""
    try:
        number = chosen_round(run)
    except RunFolderError as exc:
        raise ReportInputError(str(exc)) from None
    if number is None:
        raise ReportInputError(f"{run}: the run has no valid round to choose yet")
    path = RunFolder(run).round_dir(number) / "candidate.py"
    if not path.is_file():
        raise ReportInputError(f"{run}: chosen round {number} has no candidate.py")
    return path, f"{Path(run).name}:round {number}"


def parse_problem(path: Path) -> str | None:
    """Why a controller file cannot even be compiled (compiling runs none of its code), or None: such
    a file is a load error, never an evaluation of zeros."""
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read it: {exc}"
    try:
        compile(source, str(path), "exec")
    except (SyntaxError, ValueError) as exc:
        return f"it does not parse: line {getattr(exc, 'lineno', '?')}: {getattr(exc, 'msg', exc)}"
    return None


def failure_lines(results: Sequence[CellResult], limit: int = 5) -> list[str]:
    """The first episode failures of ``results`` (exceptions, sandbox stops), one line each."""
    failures = [f for r in results for f in r.failures]
    lines = [str(f).splitlines()[0] for f in failures[:limit]]
    if len(failures) > limit:
        lines.append(f"... and {len(failures) - limit} more")
    return lines


def parse_ref(text: str, *, trusted: bool = False) -> ControllerRef:
    """``NAME``, ``FILE.py[:Class]`` or a discovery run folder, each optionally suffixed ``@β``.

    Registry names and trusted files are built once here to catch errors early; an untrusted file is
    never imported in this process (it holds gold answers): only its existence is checked, and the
    sandbox reports its problems when it runs."""
    base, beta = text, None
    head, sep, tail = text.rpartition("@")
    if sep:
        try:
            beta = float(tail)
            base = head
        except ValueError:
            pass
    if beta is not None and not 0.0 <= beta <= 1.0:
        raise ReportInputError(f"{text}: β takes numbers in [0, 1] (SC@64 is sc@1)")
    if Path(base).is_dir():
        file, label = chosen_candidate(Path(base))
        spec = ControllerSpec(str(file), label=label)
    else:
        spec, label = ControllerSpec(base), base
    is_file = is_file_ref(spec.ref)
    if is_file and not trusted:
        path = Path(spec.ref.rpartition(":")[0] if ".py:" in spec.ref else spec.ref)
        if not path.is_file():
            raise ReportInputError(f"{path}: no such controller file")
        problem = parse_problem(path)
        if problem:
            raise ReportInputError(f"{path}: cannot load the controller: {problem}")
    else:
        try:
            spec.build(beta if beta is not None else 1.0)
        except (ControllerLoadError, LookupError, ValueError, TypeError) as exc:
            raise ReportInputError(str(exc).strip("'\"")) from None
    if beta is not None:
        label = f"{label}@{beta:g}"
    return ControllerRef(spec, beta, label, is_file)


def controller_schedules(spec: ControllerSpec, betas: Sequence[float], *, trusted: bool, store: str) -> list[dict]:
    """The β → hyperparameter table of a controller. An untrusted file is loaded only inside the
    sandbox (whose inspection calls ``schedule(β)`` there); ``store`` is the one its worker may read."""
    if not needs_sandbox(spec.ref, trusted):
        cls = spec.controller_class()
        return [{"beta": b, **cls(b, **dict(spec.overrides)).params} for b in betas]
    with SandboxPool([spec.ref], [store], jobs=1) as pool:
        info = pool.inspect(spec.ref, list(betas))
    problem = info.get("rejected") or info.get("stopped") or "; ".join(info.get("errors") or [])
    if problem or not info.get("schedules"):
        raise ReportInputError(f"{spec.ref}: {problem or 'defines no single controller class'}")
    rows = []
    for beta, value in zip(betas, info["schedules"][0], strict=True):
        params = json.loads(value["json"]) if "json" in value else {"error": value.get("error", "")}
        rows.append({"beta": beta, **params})
    return rows


def run_cells(
    cells: Sequence[Cell],
    *,
    jobs: int | None = None,
    want_traces: bool = False,
    trusted: bool = False,
    on_block: Callable | None = None,
) -> list[CellResult]:
    """Evaluate cells where :func:`autotts.sandbox.evaluate_cells` says (a controller file behind the
    sandbox unless ``trusted``; it refuses rather than run one unconfined). Order is kept."""
    return evaluate_cells(cells, trusted=trusted, jobs=jobs, want_traces=want_traces, on_block=on_block)
