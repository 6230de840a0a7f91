"""What the commands call to leave provenance beside their numbers: each function writes the
command's result files (when governance owns them) and ``manifest.json``. Commands stay thin; the
evaluation and report layers never import governance."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..evaluation import Cell, CellResult
from .manifest import Clock
from .verify import record


def write_eval_outputs(
    out: Path,
    cells: Sequence[Cell],
    results: Sequence[CellResult],
    *,
    trusted: bool,
    jobs: int | None,
    executor: str,
    clock: Clock,
) -> Path:
    """``autotts eval --out``: results.json (rows and means), results.csv and manifest.json."""
    from ..evaluation.summary import mean_rows

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [r.row() for r in results] + mean_rows(results)
    (out / "results.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    _write_rows_csv(out / "results.csv", rows)
    return record(
        "eval",
        out,
        cells=list(cells),
        results=list(results),
        derive=[{"kind": "cells"}, {"kind": "means"}],
        trusted=trusted,
        clock=clock,
        outputs=[out / "results.json", out / "results.csv"],
        jobs=jobs,
        executor=executor,
    )


def _write_rows_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv

    columns = [
        "controller",
        "beta",
        "store",
        "accuracy",
        "ci_low",
        "ci_high",
        "tokens",
        "latency_tokens",
        "seeds",
        "questions",
        "errors",
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            ci = row.get("accuracy_ci") or [None, None]
            writer.writerow({**row, "ci_low": ci[0], "ci_high": ci[1]})
