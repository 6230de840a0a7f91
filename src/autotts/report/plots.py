"""Figures of the reports (matplotlib, Agg backend; every function writes one PNG and returns its path)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

DPI = 110
AGREE, DISAGREE, PRUNE = "#2a9d4b", "#d1495b", "#222222"


@dataclass
class Series:
    """One curve: (tokens, accuracy, ci_low, ci_high) points, drawn in token order."""

    label: str
    points: list[tuple[float, float, float, float]] = field(default_factory=list)
    emphasis: bool = False
    band: bool = True


def _save(fig, path: Path) -> Path:
    """Write and close ``fig``; the tight bounding box keeps outside legends (one layout pass)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _grid(n: int, cols: int = 3, size: tuple[float, float] = (4.4, 3.4)):
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def scaling_curves(path: Path, curves: dict[str, Sequence[Series]], title: str = "") -> Path:
    """Accuracy vs tokens (log axis) per store, with 95% interval bands."""
    fig, axes = _grid(len(curves))
    for ax, (store, series) in zip(axes, curves.items(), strict=True):
        for s in series:
            pts = sorted(s.points)
            if not pts:
                continue
            x = [p[0] for p in pts]
            width = 2.4 if s.emphasis else 1.2
            (line,) = ax.plot(
                x, [p[1] for p in pts], marker="o", ms=3, lw=width, label=s.label, zorder=3 if s.emphasis else 2
            )
            if s.band:
                ax.fill_between(x, [p[2] for p in pts], [p[3] for p in pts], color=line.get_color(), alpha=0.13, lw=0)
        ax.set_xscale("log")
        ax.set_title(store, fontsize=10)
        ax.set_xlabel("tokens per question (log)")
        ax.set_ylabel("accuracy %")
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.subplots_adjust(hspace=0.45, wspace=0.3)
    # below the bottom row's axis labels; the tight bounding box at save time makes room for it
    fig.legend(handles, labels, loc="upper center", ncol=min(6, len(labels)), fontsize=8, bbox_to_anchor=(0.5, -0.01))
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def trajectory(path: Path, rounds: Sequence[dict]) -> Path:
    """Discovery trajectory: per round, accuracy and tokens at β = 1 on the search and held-out stores
    (two panels), failed rounds marked with their reason; a third panel shows cost and time."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    xs = [r["round"] for r in rounds]
    for ax, split in zip(axes[:2], ("search", "heldout"), strict=True):
        ok = [r for r in rounds if r.get(f"{split}_accuracy") is not None]
        twin = ax.twinx()
        twin.plot(
            [r["round"] for r in ok],
            [r[f"{split}_tokens"] for r in ok],
            "s--",
            color="#ff7f0e",
            mfc="none",
            ms=9,
            label="tokens (right axis)",
        )
        twin.set_ylabel("tokens per question at β = 1", color="#ff7f0e")
        ax.set_zorder(twin.get_zorder() + 1)  # accuracy drawn over the token curve
        ax.patch.set_visible(False)
        ax.plot(
            [r["round"] for r in ok], [r[f"{split}_accuracy"] for r in ok], "o-", color="#1f77b4", label="accuracy %"
        )
        ax.set_ylabel("accuracy % at β = 1", color="#1f77b4")
        for r in rounds:
            if r.get("failed"):
                ax.axvline(r["round"], color=DISAGREE, alpha=0.2, lw=8)
                ax.text(
                    r["round"],
                    0.03,
                    _short(r.get("reason") or r.get("status") or "failed"),
                    transform=ax.get_xaxis_transform(),  # x in rounds, y in axes fraction
                    rotation=90,
                    fontsize=7,
                    color=DISAGREE,
                    va="bottom",
                    ha="center",
                )
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper left")
        ax.set_title("search stores" if split == "search" else "held-out stores")
        ax.set_xlabel("round")
        ax.set_xticks(xs)
        ax.grid(alpha=0.3)
    cost_ax = axes[2]
    costs = [r.get("cost_usd") or 0.0 for r in rounds]
    seconds = [r.get("seconds") or 0.0 for r in rounds]
    cost_ax.bar(xs, costs, color="#8c6bb1", width=0.6)
    # both axes start at 0 (an offline proposer costs nothing; times are compared, not zoomed into)
    cost_ax.set_ylim(0, max(costs) * 1.15 if max(costs, default=0) > 0 else 1.0)
    cost_ax.set_ylabel("proposer cost (USD)", color="#8c6bb1")
    cost_ax.set_xlabel("round")
    cost_ax.set_xticks(xs)
    time_ax = cost_ax.twinx()
    time_ax.plot(xs, seconds, "d-", color="#555555")
    time_ax.set_ylim(0, max(seconds, default=0) * 1.15 or 1.0)
    time_ax.set_ylabel("round time (s)")
    cost_ax.set_title("cost and time per round")
    fig.subplots_adjust(wspace=0.85)
    return _save(fig, path)


def _short(text: str, limit: int = 38) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def schedule(path: Path, rows: Sequence[dict]) -> Path:
    """The β → hyperparameter schedule: every numeric hyperparameter, rescaled to its own range over
    the β grid (the table beside it has the values), on one panel."""
    keys = [
        k
        for k in rows[0]
        if k != "beta" and all(isinstance(r[k], int | float) and not isinstance(r[k], bool) for r in rows)
    ]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    betas = [r["beta"] for r in rows]
    styles = ["o-", "s-", "^-", "d-", "v-", "x-", "*-"]
    for n, key in enumerate(keys):
        values = [float(r[key]) for r in rows]
        low, high = min(values), max(values)
        scaled = [0.5 if high == low else (v - low) / (high - low) for v in values]
        ax.plot(betas, scaled, styles[n % len(styles)], ms=4, label=f"{key} [{low:g} → {high:g}]")
    if not keys:
        ax.text(0.5, 0.5, "no numeric hyperparameters", ha="center", va="center")
    ax.set_xlabel("β")
    ax.set_ylabel("value, rescaled to its range")
    ax.grid(alpha=0.3)
    if keys:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def behaviour(path: Path, rows: Sequence[dict], depths: dict[float, list[int]]) -> Path:
    """Behaviour by β: branches opened and pruned, tokens and latency, and the depth distribution."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    betas = [r["beta"] for r in rows]
    axes[0].plot(betas, [r["branches opened"] for r in rows], "o-", label="opened")
    axes[0].plot(betas, [r["branches pruned"] for r in rows], "s-", label="pruned")
    axes[0].set_title("branches per question")
    axes[0].legend(fontsize=8)
    axes[1].plot(betas, [r["tokens"] for r in rows], "o-", label="tokens")
    axes[1].plot(betas, [r["latency tokens"] for r in rows], "s-", label="latency tokens")
    if all(r["tokens"] > 0 and r["latency tokens"] > 0 for r in rows):
        axes[1].set_yscale("log")
    axes[1].set_title("cost per question")
    axes[1].legend(fontsize=8)
    for ax in axes[:2]:
        ax.set_xlabel("β")
        ax.grid(alpha=0.3)
    data = [depths[b] or [0] for b in betas]
    axes[2].boxplot(data, tick_labels=[f"{b:g}" for b in betas], showfliers=False)
    axes[2].set_title("depth: waves each opened branch moved")
    axes[2].set_xlabel("β")
    axes[2].grid(alpha=0.3)
    fig.subplots_adjust(wspace=0.25)
    return _save(fig, path)


def timeline(path: Path, episode: dict, gold: str | None) -> Path:
    """Decision timeline of one episode: waves on x, branches as rows, each revealed answer coloured by
    agreement with the returned answer; prunes as crosses; the stop as a dashed line."""
    records = episode["trace"]
    final = episode["answer"]
    waves = [r for r in records if r["action"] != "note"]
    n_branches = 1 + max((b for r in waves for b in r["branches"]), default=0)
    fig, ax = plt.subplots(figsize=(min(14, 4 + 0.14 * len(waves)), min(8, 1.5 + 0.12 * n_branches)))
    # one scatter per kind of mark (thousands of points; one collection each keeps drawing fast)
    marks: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for r in waves:
        if r["action"] == "prune":
            kinds = [("x", PRUNE)] * len(r["branches"])
        else:
            marker = "s" if r["action"] == "read_full" else "o"
            kinds = [(marker, AGREE if a == final else DISAGREE) for a in r["answers"]]
        for kind, branch in zip(kinds, r["branches"], strict=True):
            xs, ys = marks.setdefault(kind, ([], []))
            xs.append(r["wave"])
            ys.append(branch)
    for (marker, colour), (xs, ys) in marks.items():
        ax.scatter(xs, ys, marker=marker, color=colour, s=22 if marker == "x" else 12, zorder=3 if marker == "x" else 2)
    stops = [r for r in records if r["action"] == "note" and "stop" in r]
    stop_wave = len(waves) - 0.5
    ax.axvline(stop_wave, color="#444", ls="--", lw=1)
    label = f"stop: {stops[-1]['stop']}" if stops else "stop"
    ax.text(stop_wave, n_branches - 0.5, label, ha="right", va="bottom", fontsize=8)
    verdict = "correct" if final is not None and final == gold else "wrong"
    ax.set_title(
        f"{episode['store']} q{episode['question']} seed {episode['seed']} β={episode['beta']:g}: "
        f"returned {final!r} ({verdict}; gold {gold!r}), {episode['tokens']:,} tokens",
        fontsize=9,
    )
    ax.set_xlabel("wave")
    ax.set_ylabel("branch")
    ax.set_ylim(-1, n_branches)
    ax.invert_yaxis()
    ax.scatter([], [], color=AGREE, label="answer = returned")
    ax.scatter([], [], color=DISAGREE, label="answer ≠ returned")
    ax.scatter([], [], color=PRUNE, marker="x", label="pruned")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(alpha=0.2)
    return _save(fig, path)


def oracle_gaps(path: Path, rows: Sequence[dict]) -> Path:
    """Accuracy gap to majority@pool (points) against the token ratio to the cheapest majority cost:
    colour = controller and β, marker = store."""
    fig, ax = plt.subplots(figsize=(8, 4.6))
    labels = list(dict.fromkeys(f"{r['controller']} β={r['beta']:g}" for r in rows))
    stores = list(dict.fromkeys(r["store"] for r in rows))
    markers = "osD^v<>pX*hP"
    colours = plt.get_cmap("tab20").colors
    for r in rows:
        label = f"{r['controller']} β={r['beta']:g}"
        ax.scatter(
            r["tokens / cheapest majority"],
            r["gap to majority@pool (points)"],
            color=colours[labels.index(label) % len(colours)],
            marker=markers[stores.index(r["store"]) % len(markers)],
            s=26,
        )
    ax.axhline(0, color="#444", lw=1)
    ax.axvline(1, color="#444", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("tokens / cheapest majority cost (log)")
    ax.set_ylabel("accuracy − majority@pool (points)")
    ax.grid(alpha=0.3, which="both")
    by_colour = [
        plt.Line2D([], [], ls="", marker="o", color=colours[i % len(colours)], label=lab)
        for i, lab in enumerate(labels)
    ]
    by_marker = [
        plt.Line2D([], [], ls="", marker=markers[i % len(markers)], color="#555", label=st)
        for i, st in enumerate(stores)
    ]
    first = ax.legend(handles=by_colour, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="method")
    ax.add_artist(first)
    ax.legend(handles=by_marker, fontsize=7, loc="lower left", bbox_to_anchor=(1.0, 0.0), title="store")
    return _save(fig, path)
