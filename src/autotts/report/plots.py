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


def _columns(n: int, most: int = 4) -> int:
    """Columns for ``n`` panels: all in one row up to ``most``; beyond, the widest layout that leaves
    the fewest empty slots (none when some width divides ``n``)."""
    if n <= most:
        return max(1, n)
    return min(range(2, most + 1), key=lambda cols: ((-n) % cols, -cols))


def _grid(n: int, cols: int = 3, size: tuple[float, float] = (4.4, 3.4)):
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


# fixed colours, so a method looks the same in every figure of a report
FEATURED_COLOURS = {"CMC": "#d95f02", "SC": "#1b9e77", "SC@k": "#1b9e77"}
CHOSEN_COLOUR = "#3b4cc0"
OTHER_COLOUR = "#9a9a9a"


def _colour(series: Series) -> str:
    return CHOSEN_COLOUR if series.emphasis else FEATURED_COLOURS.get(series.label, OTHER_COLOUR)


def _draw(ax, s: Series, *, featured: bool, label: str | None = None, edges_only: bool = False) -> None:
    """One series; its 95% band filled, or (``edges_only``, so that overlapping bands stay readable)
    drawn as two thin dashed lines in the series' colour."""
    pts = sorted(s.points)
    if not pts:
        return
    x = [p[0] for p in pts]
    colour = _colour(s) if featured else OTHER_COLOUR
    width = 2.6 if s.emphasis else 1.8 if featured else 0.9
    ax.plot(
        x,
        [p[1] for p in pts],
        marker="o" if featured else None,
        ms=3.5,
        lw=width,
        color=colour,
        alpha=1.0 if featured else 0.7,
        label=label if label is not None else s.label,
        zorder=3 if s.emphasis else 2 if featured else 1,
    )
    if featured and s.band and edges_only:
        for k in (2, 3):
            ax.plot(x, [p[k] for p in pts], ls="--", lw=0.8, color=colour, alpha=0.8, label="_nolegend_")
    elif featured and s.band:
        ax.fill_between(x, [p[2] for p in pts], [p[3] for p in pts], color=colour, alpha=0.15, lw=0)


def _accuracy_axes(ax, title: str = "") -> None:
    ax.set_xscale("log")
    if title:
        ax.set_title(title, fontsize=10)
    ax.set_xlabel("tokens per question (log)")
    ax.set_ylabel("accuracy %")
    ax.grid(alpha=0.3, which="both")


def pooled_curves(path: Path, series: Sequence[Series], title: str = "") -> Path:
    """One panel: the chosen controller, CMC and SC@k over their budgets on the pooled held-out
    stores, each with its 95% band, legend inside the axes."""
    fig, ax = plt.subplots(figsize=(10.5, 5.4))
    for s in series:
        _draw(ax, s, featured=True, edges_only=not s.emphasis)
    _accuracy_axes(ax, title)
    ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
    return _save(fig, path)


def scaling_curves(path: Path, curves: dict[str, Sequence[Series]], title: str = "") -> Path:
    """Accuracy vs tokens (log axis) per store. Featured series (``band=True``: the chosen controller,
    CMC, SC) in colour, the chosen one with its 95% band; the other baselines thin and grey, as
    context. One legend, inside the first panel; the grid has no empty slot."""
    fig, axes = _grid(len(curves), cols=_columns(len(curves)), size=(4.6, 3.5))
    for n, (ax, (store, series)) in enumerate(zip(axes, curves.items(), strict=True)):
        grey_named = False
        # featured series last, so they are drawn over the grey context, chosen first in the legend
        for s in sorted(series, key=lambda s: (s.band, s.emphasis)):
            if s.band:  # featured: in colour; only the chosen one's band, so panels stay readable
                _draw(ax, Series(s.label, s.points, s.emphasis, band=s.emphasis), featured=True)
            else:
                _draw(ax, s, featured=False, label="other baselines" if not grey_named else "_nolegend_")
                grey_named = True
        _accuracy_axes(ax, store)
        if n:
            ax.set_ylabel("")
        if n == 0:
            handles, labels = ax.get_legend_handles_labels()
            chosen = [x.label for x in series if x.emphasis]
            rank = {name: i for i, name in enumerate([*chosen, "CMC", "SC", "other baselines"])}
            order = sorted(range(len(labels)), key=lambda i: rank.get(labels[i], len(rank)))
            ax.legend(
                [handles[i] for i in order], [labels[i] for i in order], loc="lower right", fontsize=7, framealpha=0.9
            )
    fig.subplots_adjust(hspace=0.42, wspace=0.22)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def paired_differences(path: Path, rows: Sequence[dict]) -> Path:
    """Forest plot of paired differences: per comparison (rows: ``label``, ``accuracy`` and ``saving``
    as (estimate, low, high)), the accuracy difference in points and the token saving in percent,
    each with its 95% interval; zero marked."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.9 + 0.55 * len(rows)), sharey=True)
    ys = list(range(len(rows)))[::-1]
    for ax, key, xlabel in (
        (axes[0], "accuracy", "accuracy difference (points), 95% interval"),
        (axes[1], "saving", "token saving (%), 95% interval"),
    ):
        for y, row in zip(ys, rows, strict=True):
            est, low, high = row[key]
            colour = row.get("colour", CHOSEN_COLOUR)
            ax.plot([low, high], [y, y], color=colour, lw=2.2 if row.get("pooled") else 1.2)
            ax.plot([est], [y], "o", color=colour, ms=7 if row.get("pooled") else 4)
            ax.annotate(f"{est:+.1f}", (est, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
        ax.axvline(0, color="#444", lw=1)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(ys, [r["label"] for r in rows], fontsize=8)
    fig.subplots_adjust(wspace=0.08)
    return _save(fig, path)


def trajectory(path: Path, rounds: Sequence[dict], references: dict[str, dict[str, float]] | None = None) -> Path:
    """Discovery trajectory: per round, accuracy and tokens at β = 1 on the search and held-out stores
    (two panels), failed rounds marked with their reason; a third panel shows cost and time.
    ``references`` (``{"search": {"SC@64": acc, "CMC β=1": acc}, "heldout": {...}}``) adds the
    baselines' accuracies on the same stores as horizontal reference lines."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    xs = [r["round"] for r in rounds]
    for ax, split in zip(axes[:2], ("search", "heldout"), strict=True):
        ok = [r for r in rounds if r.get(f"{split}_accuracy") is not None]
        twin = ax.twinx()
        twin.plot(
            [r["round"] for r in ok],
            [r[f"{split}_tokens"] for r in ok],
            "s--",
            color="#8c8c8c",
            mfc="none",
            ms=9,
            label="tokens (right axis)",
        )
        twin.set_ylabel("tokens per question at β = 1", color="#8c8c8c")
        ax.set_zorder(twin.get_zorder() + 1)  # accuracy drawn over the token curve
        ax.patch.set_visible(False)
        ax.plot(
            [r["round"] for r in ok], [r[f"{split}_accuracy"] for r in ok], "o-", color="#1f77b4", label="accuracy %"
        )
        ax.set_ylabel("accuracy % at β = 1", color="#1f77b4")
        for name, value in ((references or {}).get(split) or {}).items():
            style = {"color": FEATURED_COLOURS.get(name.split()[0].split("@")[0], "#555"), "lw": 1.4}
            ax.axhline(value, ls=":" if name.startswith("SC") else "-.", label=f"{name}: {value:.1f}%", **style)
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
