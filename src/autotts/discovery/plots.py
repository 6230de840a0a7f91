"""The scaling-curve PNG of a round: accuracy vs tokens over β (mean of the search stores), with the
SC and CMC baselines' curves for reference."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .history import mean_curve
from .runfolder import read_csv, write_atomic

REFERENCE_CURVES = {"sc": "SC@k", "cmc": "CMC"}


def write_curve(path: Path, rows: Sequence[dict[str, Any]], baselines_csv: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    if baselines_csv.is_file():
        baseline_rows = read_csv(baselines_csv)
        for name, label in REFERENCE_CURVES.items():
            curve = mean_curve([r for r in baseline_rows if r["controller"] == name])
            if curve:
                ax.plot(
                    [p["tokens"] for p in curve], [p["accuracy"] for p in curve], "--o", ms=3, alpha=0.6, label=label
                )
    curve = mean_curve(rows)
    ax.plot([p["tokens"] for p in curve], [p["accuracy"] for p in curve], "-o", ms=4, lw=2, label=title)
    for p in curve:
        ax.annotate(
            f"{p['beta']:g}", (p["tokens"], p["accuracy"]), fontsize=6, xytext=(2, 2), textcoords="offset points"
        )
    ax.set_xscale("log")
    ax.set_xlabel("mean tokens per question")
    ax.set_ylabel("accuracy % (mean of search stores)")
    ax.set_title(f"{title}: accuracy vs cost over β")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
