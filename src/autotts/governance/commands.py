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

    from ..discovery.runfolder import RESULT_COLUMNS

    columns = ["controller", *RESULT_COLUMNS]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            ci = row.get("accuracy_ci") or [None, None]
            writer.writerow({**row, "ci_low": ci[0], "ci_high": ci[1]})


def write_reproduce_manifest(
    out: Path,
    cells: Sequence[Cell],
    results: Sequence[CellResult],
    *,
    jobs: int | None,
    clock: Clock,
    outputs: Sequence[Path],
) -> Path:
    """``autotts reproduce``: every evaluated cell (Table 1 and the curve points) is a figure."""
    return record(
        "reproduce",
        out,
        cells=list(cells),
        results=list(results),
        derive=[{"kind": "cells"}],
        clock=clock,
        outputs=list(outputs),
        jobs=jobs,
    )


def write_compare_outputs(
    out: Path,
    cells: Sequence[Cell],
    results: Sequence[CellResult],
    *,
    label_a: str,
    label_b: str,
    trusted: bool,
    jobs: int | None,
    clock: Clock,
    comparison: dict[str, Any],
) -> Path:
    """``autotts compare --out``: comparison.json and manifest.json (cells and the paired comparison)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.json").write_text(json.dumps(comparison, indent=1) + "\n", encoding="utf-8")
    half = len(cells) // 2
    derive = [
        {"kind": "cells"},
        {
            "kind": "compare",
            "a": list(range(half)),
            "b": list(range(half, len(cells))),
            "label_a": label_a,
            "label_b": label_b,
            "name": "A vs B",
        },
    ]
    return record(
        "compare",
        out,
        cells=list(cells),
        results=list(results),
        derive=derive,
        trusted=trusted,
        clock=clock,
        outputs=[out / "comparison.json"],
        jobs=jobs,
    )


def write_card_manifest(
    out: Path,
    cells: Sequence[Cell],
    results: Sequence[CellResult],
    *,
    stores: Sequence[str],
    betas: Sequence[float],
    trusted: bool,
    jobs: int | None,
    clock: Clock,
    outputs: Sequence[Path],
) -> Path:
    """``autotts card``: the cells (with traces) and the card's schedule and behaviour figures."""
    derive = [
        {"kind": "cells"},
        {"kind": "card", "cells": list(range(len(cells))), "stores": list(stores), "betas": list(betas)},
    ]
    return record(
        "card",
        out,
        cells=list(cells),
        results=list(results),
        derive=derive,
        trusted=trusted,
        clock=clock,
        outputs=list(outputs),
        jobs=jobs,
    )


def write_report_manifest(
    out: Path,
    candidate: Path,
    label: str,
    *,
    stores: Sequence[str],
    seeds: int,
    curve_seeds: int | None,
    chosen_betas: Sequence[float],
    baseline_betas: Sequence[float],
    trusted: bool,
    jobs: int | None,
    clock: Clock,
) -> Path:
    """``autotts report``: the held-out judgement's table and frontier figures, read from the CSVs the
    report wrote; verify re-runs the judgement from its parameters."""
    import csv

    from .figures import judgement_figures
    from .manifest import build_manifest, controller_key, write_manifest

    out = Path(out)

    def rows(name: str) -> list[dict]:
        with (out / name).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    figures = judgement_figures(rows("heldout_table1.csv"), rows("heldout_frontier.csv"), "held-out")
    ref = str(candidate)
    derive = [
        {
            "kind": "judgement",
            "controller": controller_key(ref, out),
            "label": label,
            "stores": list(stores),
            "seeds": seeds,
            "curve_seeds": curve_seeds,
            "chosen_betas": list(chosen_betas),
            "baseline_betas": list(baseline_betas),
            "figures": list(figures),
        }
    ]
    manifest = build_manifest(
        "report",
        derive=derive,
        figures=figures,
        base=out,
        clock=clock,
        stores=stores,
        extra_controllers=[ref],
        sandboxed=not trusted,
        jobs=jobs,
        extra={"betas": sorted(set(chosen_betas) | set(baseline_betas)), "seeds": [seeds]},
    )
    outputs = [p for p in sorted(out.iterdir()) if p.is_file() and p.name != "manifest.json"]
    return write_manifest(out, manifest, outputs)


def write_discover_manifest(root: Path, clock: Clock) -> Path:
    """``autotts discover``: every number in the run folder's CSVs (baselines, references, each round
    on the search and held-out stores) with the cells that re-run it; the proposer, its model and
    prompt hash, and the costs from the rounds' records."""
    from ..discovery.loop import DiscoveryConfig
    from ..discovery.prompt import SYSTEM_PROMPT, task_statement
    from ..discovery.records import read_rounds
    from ..discovery.runfolder import RunFolder, read_csv
    from ..evaluation import ControllerSpec
    from .figures import CELL_METRICS, cell_name
    from .manifest import build_manifest, sha256_bytes, write_manifest

    folder = RunFolder.open(Path(root))
    config = DiscoveryConfig.from_json(folder.config)
    cells: list[Cell] = []
    groups: list[str] = []
    figures: dict[str, Any] = {}
    sources: list[tuple[str, Path, ControllerSpec | None]] = [
        ("baselines/results.csv", folder.baselines_dir / "results.csv", None),
        ("baselines/reference_search.csv", folder.baselines_dir / "reference_search.csv", None),
        ("baselines/heldout.csv", folder.baselines_dir / "heldout.csv", None),
    ]
    for number in folder.finished_round_numbers():
        rdir = folder.round_dir(number)
        spec = ControllerSpec(str((rdir / "candidate.py").resolve()), label=f"round {number}")
        for name in ("results.csv", "heldout.csv"):
            sources.append((f"rounds/{number:03d}/{name}", rdir / name, spec))
    for group, path, spec in sources:
        if not path.is_file():
            continue
        for row in read_csv(path):
            cell_spec = spec or ControllerSpec(str(row["controller"]))
            cell = Cell(cell_spec, float(row["beta"]), str(row["store"]), int(row["seeds"]))
            cells.append(cell)
            groups.append(group)
            name = cell_name({"group": group, "label": cell_spec.display, "beta": cell.beta, "store": cell.store})
            for metric in CELL_METRICS:
                figures[f"{name}: {metric}"] = row[metric]
    rounds = read_rounds(folder.root, folder.finished_round_numbers())
    agent = config.proposer in ("claude-code", "command")
    prompt = (
        SYSTEM_PROMPT
        + "\n"
        + task_statement(
            beta_rule=config.beta_rule,
            traces=config.traces,
            betas=config.betas,
            stores=config.search_stores,
            agent=agent,
        )
    )
    extra = {
        "proposer": {
            "name": config.proposer,
            "model": config.model,
            "base_url": config.base_url,
            "command": config.command,
            "seed": config.seed,
            "prompt_sha256": sha256_bytes(prompt.encode()),
        },
        "costs": {
            "usd": round(sum(r.cost_usd for r in rounds), 6),
            "input_tokens": sum(r.input_tokens for r in rounds),
            "output_tokens": sum(r.output_tokens for r in rounds),
        },
        "run": {"rounds": len(rounds), "config": config.to_json()},
    }
    manifest = build_manifest(
        "discover",
        cells=cells,
        derive=[{"kind": "cells", "figures": list(figures)}],
        figures=figures,
        base=folder.root,
        clock=clock,
        sandboxed=True,
        jobs=config.jobs,
        extra=extra,
    )
    for cell_row, group in zip(manifest["cells"], groups, strict=True):
        cell_row["group"] = group
    outputs = [p for p in folder.root.rglob("*.csv") if "workspace" not in p.parts]
    return write_manifest(folder.root, manifest, sorted(outputs))


def write_report_manifest_for_run(
    run: Path,
    out: Path | None,
    *,
    seeds: int | None,
    curve_seeds: int | None,
    chosen_betas: Sequence[float] | None,
    trusted: bool,
    jobs: int | None,
    clock: Clock,
) -> Path | None:
    """The parameters ``report.discovery_report.write_discovery_report`` resolved for ``run``, then
    :func:`write_report_manifest` (None when the run had nothing to judge)."""
    from ..discovery.runfolder import RunFolder
    from ..report.judgement import BASELINE_BETAS
    from ..report.runs import chosen_round

    folder = RunFolder.open(Path(run))
    out = Path(out) if out is not None else folder.root / "report"
    chosen = chosen_round(folder.root)
    if chosen is None or not (out / "heldout_table1.csv").is_file():
        return None
    config = folder.config
    return write_report_manifest(
        out,
        folder.round_dir(chosen) / "candidate.py",
        f"round {chosen}",
        stores=list(config.get("heldout_stores") or []),
        seeds=seeds or int(config.get("seeds") or 100),
        curve_seeds=curve_seeds,
        chosen_betas=list(chosen_betas or config.get("betas") or (0.0, 0.5, 1.0)),
        baseline_betas=list(BASELINE_BETAS),
        trusted=trusted,
        jobs=jobs,
        clock=clock,
    )
