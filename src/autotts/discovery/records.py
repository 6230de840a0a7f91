"""Typed records of a run folder, read and written here and nowhere else (format: docs/run-folder.md).

* :class:`Figures` — frontier figures of a β-swept family over a split's stores (means over stores);
* :class:`RoundInfo` — ``rounds/NNN/round.json``, what a finished round was and cost;
* :class:`ResultRow` — one row of ``results.csv`` / ``heldout.csv`` / ``baselines/*.csv``;
* :class:`RunSummary` — ``summary.json``, written when a run finishes.

Readers accept every file the current code writes (unknown keys are ignored, so a newer writer does
not break an older reader) and reject a malformed one with :class:`RunFolderError` naming the file
and the field. :func:`choose_round` is the one rule that picks a run's round, used by ``discover``
when it finishes and by ``report`` for a run that has not finished yet.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..evaluation.summary import mean_over_stores
from .runfolder import RESULT_COLUMNS, RunFolderError, rows_to_csv, write_atomic, write_json

ROUND_STATUSES = ("valid", "invalid", "failed")
SELECTION_RULES = ("accuracy", "frontier")
# two rounds within this many accuracy points (frontier: area points) are a tie, decided by
# fewer tokens and then the earlier round: replay noise must not pick a costlier twin (issue 16: a
# 0.08-point lead at 10 seeds chose a round with 15% more tokens; half a point is about the seed noise)
TIE_MARGIN = 0.5


def _number(value: Any, where: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RunFolderError(f"{where}: must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Figures:
    """Figures of a β-swept family from its results rows, means over the split's stores.

    ``saving_vs_sc64`` is a fraction (0.75 = 75% fewer tokens than SC@64) at the interpolated point
    where the family's mean curve reaches SC@64's mean accuracy; None when it never does."""

    max_beta: float
    accuracy_at_max_beta: float
    tokens_at_max_beta: float
    peak_accuracy: float
    area_under_curve: float
    sc64_accuracy: float | None = None
    tokens_at_sc64_accuracy: float | None = None
    saving_vs_sc64: float | None = None

    @classmethod
    def from_json(cls, data: Any, where: str) -> Figures | None:
        if data is None or data == {}:
            return None
        if not isinstance(data, dict):
            raise RunFolderError(f"{where}: must be an object of frontier figures or null, got {type(data).__name__}")
        values = {}
        for f in fields(cls):
            optional = f.default is None
            if f.name not in data and not optional:
                raise RunFolderError(f"{where}.{f.name}: missing")
            values[f.name] = _number(data.get(f.name), f"{where}.{f.name}", optional=optional)
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RoundInfo:
    """``rounds/NNN/round.json``: one finished round."""

    round: int
    status: str  # "valid" | "invalid" | "failed"
    reason: str = ""  # why it is not valid, in words ("" when valid)
    proposer: str = ""
    model: str = ""
    attempts: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    proposer_seconds: float = 0.0
    seconds: float = 0.0  # the whole round, proposing to evaluation
    search: Figures | None = None
    heldout: Figures | None = None  # report only: never shown to a proposer

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    @classmethod
    def from_json(cls, data: Any, where: str) -> RoundInfo:
        if not isinstance(data, dict):
            raise RunFolderError(f"{where}: must be a JSON object, got {type(data).__name__}")
        if "round" not in data or isinstance(data["round"], bool) or not isinstance(data["round"], int):
            raise RunFolderError(f"{where}: field 'round' must be an integer, got {data.get('round')!r}")
        status = data.get("status")
        if status not in ROUND_STATUSES:
            raise RunFolderError(f"{where}: field 'status' must be one of {', '.join(ROUND_STATUSES)}, got {status!r}")

        def num(name: str, default: float = 0.0) -> float:
            value = data.get(name, default)
            return default if value is None else float(_number(value, f"{where}: field {name!r}"))

        return cls(
            round=data["round"],
            status=status,
            reason=str(data.get("reason") or ""),
            proposer=str(data.get("proposer") or ""),
            model=str(data.get("model") or ""),
            attempts=int(num("attempts")),
            cost_usd=num("cost_usd"),
            input_tokens=int(num("input_tokens")),
            output_tokens=int(num("output_tokens")),
            proposer_seconds=num("proposer_seconds"),
            seconds=num("seconds"),
            search=Figures.from_json(data.get("search"), f"{where}: field 'search'"),
            heldout=Figures.from_json(data.get("heldout"), f"{where}: field 'heldout'"),
        )

    @classmethod
    def read(cls, path: Path) -> RoundInfo:
        return cls.from_json(_read_json(path), str(path))

    @classmethod
    def read_optional(cls, round_dir: Path) -> RoundInfo | None:
        """The round's record, or None while the round has not finished (no round.json yet)."""
        path = Path(round_dir) / "round.json"
        return cls.read(path) if path.is_file() else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["search"] = None if self.search is None else self.search.to_json()
        data["heldout"] = None if self.heldout is None else self.heldout.to_json()
        return data

    def write(self, round_dir: Path) -> None:
        write_json(Path(round_dir) / "round.json", self.to_json())


@dataclass(frozen=True)
class ResultRow:
    """One (controller, β, store) row of a results CSV: accuracy in % with its 95% interval, mean
    tokens and latency tokens per question, over ``seeds`` seeds × ``questions`` questions."""

    beta: float
    store: str
    accuracy: float
    ci_low: float | None
    ci_high: float | None
    tokens: float
    latency_tokens: float
    seeds: int
    questions: int
    errors: int = 0
    controller: str = ""  # baselines CSVs name it; a round's own CSVs hold one controller

    @classmethod
    def from_csv(cls, row: dict[str, str], where: str) -> ResultRow:
        def value(name: str, kind: type, default: Any = ...) -> Any:
            text = row.get(name)
            if text is None or text == "":
                if default is ...:
                    raise RunFolderError(f"{where}: column {name!r} is missing or empty")
                return default
            try:
                return kind(float(text)) if kind is int else kind(text)
            except ValueError:
                raise RunFolderError(f"{where}: column {name!r} must be a number, got {text!r}") from None

        return cls(
            beta=value("beta", float),
            store=value("store", str),
            accuracy=value("accuracy", float),
            ci_low=value("ci_low", float, None),
            ci_high=value("ci_high", float, None),
            tokens=value("tokens", float),
            latency_tokens=value("latency_tokens", float, 0.0),
            seeds=value("seeds", int, 0),
            questions=value("questions", int, 0),
            errors=value("errors", int, 0),
            controller=value("controller", str, ""),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_results(path: Path) -> list[ResultRow]:
    """Every row of a results CSV (``[]`` when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [ResultRow.from_csv(row, f"{path} line {n + 2}") for n, row in enumerate(csv.DictReader(handle))]


def write_results(path: Path, rows: Iterable[ResultRow], *, with_controller: bool = False) -> None:
    columns = (("controller",) if with_controller else ()) + RESULT_COLUMNS
    write_atomic(Path(path), rows_to_csv([r.to_json() for r in rows], columns))


def mean_curve(rows: Sequence[ResultRow]) -> list[tuple[float, float, float, float]]:
    """Per β, ascending: (β, accuracy, tokens, latency tokens), each the mean over the rows' stores."""
    by_beta: dict[float, list[ResultRow]] = {}
    for row in rows:
        by_beta.setdefault(row.beta, []).append(row)
    return [
        (
            beta,
            mean_over_stores(r.accuracy for r in members),
            mean_over_stores(r.tokens for r in members),
            mean_over_stores(r.latency_tokens for r in members),
        )
        for beta, members in sorted(by_beta.items())
    ]


@dataclass(frozen=True)
class Reference:
    """A baseline's mean accuracy and tokens over a split's stores (SC@64, CMC β=1)."""

    accuracy: float
    tokens: float


@dataclass(frozen=True)
class RunSummary:
    """``summary.json``, written when a run finishes."""

    chosen_round: int | None
    selection: str
    rounds: list[RoundInfo] = field(default_factory=list)
    references: dict[str, dict[str, Reference]] = field(default_factory=dict)  # split -> sc|cmc -> figures
    total_cost_usd: float = 0.0
    wall_seconds: float = 0.0  # active time: pauses between a kill and a resume excluded
    rounds_done: int = 0
    rounds_planned: int = 0

    @property
    def chosen(self) -> RoundInfo | None:
        return next((r for r in self.rounds if r.round == self.chosen_round), None)

    def to_json(self) -> dict[str, Any]:
        keep = ("round", "status", "reason", "cost_usd", "seconds", "search", "heldout")
        chosen = self.chosen
        return {
            "chosen_round": self.chosen_round,
            "selection": self.selection,
            "rounds": [{k: v for k, v in r.to_json().items() if k in keep} for r in self.rounds],
            "chosen": None if chosen is None else {k: chosen.to_json()[k] for k in ("search", "heldout")},
            "references": {
                split: {name: asdict(ref) for name, ref in refs.items()} for split, refs in self.references.items()
            },
            "total_cost_usd": round(self.total_cost_usd, 6),
            "wall_seconds": round(self.wall_seconds, 1),
            "rounds_done": self.rounds_done,
            "rounds_planned": self.rounds_planned,
        }

    def write(self, run: Path) -> None:
        write_json(Path(run) / "summary.json", self.to_json())

    @classmethod
    def read(cls, run: Path) -> RunSummary | None:
        """The summary of a finished run, or None while it has not finished."""
        path = Path(run) / "summary.json"
        if not path.is_file():
            return None
        data = _read_json(path)
        if not isinstance(data, dict):
            raise RunFolderError(f"{path}: must be a JSON object")
        chosen = data.get("chosen_round")
        if chosen is not None and (isinstance(chosen, bool) or not isinstance(chosen, int)):
            raise RunFolderError(f"{path}: field 'chosen_round' must be an integer or null, got {chosen!r}")
        rounds = []
        for n, item in enumerate(data.get("rounds") or []):
            rounds.append(RoundInfo.from_json(item, f"{path}: rounds[{n}]"))
        references: dict[str, dict[str, Reference]] = {}
        for split, refs in (data.get("references") or {}).items():
            references[split] = {
                name: Reference(
                    float(_number(v.get("accuracy"), f"{path}: references.{split}.{name}.accuracy")),
                    float(_number(v.get("tokens"), f"{path}: references.{split}.{name}.tokens")),
                )
                for name, v in (refs or {}).items()
                if isinstance(v, dict)
            }
        return cls(
            chosen_round=chosen,
            selection=str(data.get("selection") or "accuracy"),
            rounds=rounds,
            references=references,
            total_cost_usd=float(data.get("total_cost_usd") or 0.0),
            wall_seconds=float(data.get("wall_seconds") or 0.0),
            rounds_done=int(data.get("rounds_done") or len(rounds)),
            rounds_planned=int(data.get("rounds_planned") or 0),
        )


def choose_round(rounds: Sequence[RoundInfo], rule: str = "accuracy") -> int | None:
    """The chosen round among valid ones with search figures, judged on the search stores only.

    ``accuracy``: the highest mean search accuracy at the largest β; ``frontier``: the largest area
    under the accuracy-vs-log-tokens curve. Ties (within :data:`TIE_MARGIN`) go to fewer tokens at
    the largest β, then to the earlier round."""
    if rule not in SELECTION_RULES:
        raise ValueError(f"unknown selection rule {rule!r}; choose one of {', '.join(SELECTION_RULES)}")
    valid = [r for r in rounds if r.valid and r.search is not None]
    if not valid:
        return None

    def score(r: RoundInfo) -> float:
        assert r.search is not None
        return r.search.area_under_curve if rule == "frontier" else r.search.accuracy_at_max_beta

    best = max(score(r) for r in valid)
    tied = [r for r in valid if best - score(r) <= TIE_MARGIN]
    return min(tied, key=lambda r: (r.search.tokens_at_max_beta if rule == "accuracy" else 0.0, r.round)).round


def read_rounds(run: Path, numbers: Iterable[int]) -> list[RoundInfo]:
    """The records of the given finished rounds (a number without round.json is skipped)."""
    out = []
    for number in numbers:
        info = RoundInfo.read_optional(Path(run) / "rounds" / f"{number:03d}")
        if info is not None:
            out.append(info)
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except OSError as exc:
        raise RunFolderError(f"{path}: cannot be read ({exc.strerror or exc})") from None
