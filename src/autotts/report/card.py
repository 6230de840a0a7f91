"""The policy card: what a controller does, read from the environment's own traces.

Nothing here instruments the controller: every behavioural figure comes from ``Episode.trace``
(:func:`~autotts.env.trace.trace_records`) of ordinary evaluation runs, plus the controller's
``schedule(β)``. Definitions:

* **branches opened** — branches named by ``spawn`` and ``read_full`` waves, per episode;
* **branches pruned** — branches named by ``prune`` waves, per episode;
* **depth** — for each opened branch, the number of waves that moved it (its spawn, each advance, or
  one full read). It equals the intervals a branch received when a controller advances one interval
  per wave; a multi-interval burst counts once, since the trace records waves, not steps;
* **stop reason** — the ``stop`` field of the last note the controller wrote, else ``"(no note)"``;
* **failures** — questions whose correctness rate over seeds at the card's largest β is below 50%.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.lookup import load_store
from ..data.store import AnswerMatrix
from ..evaluation import CellResult, ControllerSpec, grid
from ..evaluation.summary import mean_over_stores
from . import plots
from .html import HtmlReport, write_csv
from .oracle import pool_leader
from .runs import controller_schedules, failure_lines, run_cells

CARD_BETAS = (0.0, 0.25, 0.5, 0.75, 1.0)
NO_NOTE = "(no note)"


def episode_shape(records: Sequence[dict]) -> dict:
    """Opened, pruned, per-branch depth and stop reason of one episode's trace records."""
    depth: Counter[int] = Counter()
    opened = pruned = 0
    stop = NO_NOTE
    for r in records:
        action = r["action"]
        if action == "note":
            stop = str(r["stop"]) if "stop" in r else stop
            continue
        if action in ("spawn", "read_full"):
            opened += len(r["branches"])
        if action == "prune":
            pruned += len(r["branches"])
            continue
        for branch, intervals in zip(r["branches"], r.get("intervals") or [1] * len(r["branches"]), strict=True):
            depth[branch] += intervals
    return {"opened": opened, "pruned": pruned, "depths": list(depth.values()), "stop": stop}


@dataclass
class PolicyCard:
    """A controller's schedule, behaviour by β, example timelines and failures."""

    label: str
    stores: list[str]
    seeds: int
    betas: list[float]
    schedule: list[dict]
    behaviour: list[dict]
    depths: dict[float, list[int]]
    failures: list[dict]
    timelines: list[dict] = field(default_factory=list)
    results: list[CellResult] = field(default_factory=list, repr=False)


def build_card(
    spec: ControllerSpec,
    stores: Sequence[str],
    *,
    seeds: int = 5,
    betas: Sequence[float] = CARD_BETAS,
    jobs: int | None = None,
    trusted: bool = False,
    timeline_count: int = 3,
    results: Sequence[CellResult] | None = None,
) -> PolicyCard:
    """Evaluate ``spec`` over ``betas`` × ``stores`` with traces (or use ``results`` that carry
    traces) and digest what it did."""
    schedule = [
        {k: _plain(v) for k, v in row.items()}
        for row in controller_schedules(spec, betas, trusted=trusted, store=stores[0])
    ]
    if results is None:
        results = run_cells(grid([spec], betas, stores, seeds), jobs=jobs, want_traces=True, trusted=trusted)
    by_beta: dict[float, list[CellResult]] = {}
    for r in results:
        by_beta.setdefault(r.beta, []).append(r)
    behaviour, depths = [], {}
    for beta in sorted(by_beta):
        shapes = [episode_shape(t["trace"]) for r in by_beta[beta] for t in r.traces]
        members = by_beta[beta]
        stops = Counter(s["stop"] for s in shapes)
        depths[beta] = [d for s in shapes for d in s["depths"]]
        behaviour.append(
            {
                "beta": beta,
                "accuracy": mean_over_stores(m.accuracy for m in members),
                "tokens": mean_over_stores(m.mean_tokens for m in members),
                "latency tokens": mean_over_stores(m.mean_latency for m in members),
                "branches opened": _mean([s["opened"] for s in shapes]),
                "branches pruned": _mean([s["pruned"] for s in shapes]),
                "median depth": float(np.median(depths[beta])) if depths[beta] else 0.0,
                "max depth": int(max(depths[beta], default=0)),
                "stop reasons": ", ".join(f"{k} {100 * v / len(shapes):.0f}%" for k, v in stops.most_common())
                or "(no traces)",
            }
        )
    top = max(by_beta)
    failures = failure_rows(by_beta[top])
    return PolicyCard(
        label=spec.display,
        stores=list(stores),
        seeds=results[0].seeds,
        betas=sorted(by_beta),
        schedule=schedule,
        behaviour=behaviour,
        depths=depths,
        failures=failures,
        timelines=pick_timelines(by_beta[top], timeline_count),
        results=list(results),
    )


def _mean(values: list[float]) -> float:
    """Mean, NaN when there is nothing to average (e.g. a controller the sandbox stopped)."""
    return float(np.mean(values)) if values else float("nan")


def _plain(value):
    return round(value, 4) if isinstance(value, float) else value


def failure_rows(results: Sequence[CellResult], limit: int = 12) -> list[dict]:
    """Questions answered correctly in under half the seeds, worst first, with what was done there."""
    rows = []
    for r in results:
        store = load_store(r.store)
        traces = {(t["seed"], t["question"]): t for t in r.traces}
        for q in np.flatnonzero(r.per_question_accuracy < 50.0):
            q = int(q)
            question = store.questions[q]
            matrix = AnswerMatrix.of(question)
            answers = Counter(row[q] for row in r.answers)
            shapes = [episode_shape(traces[(s, q)]["trace"]) for s in range(r.seeds) if (s, q) in traces]
            example = traces.get((0, q))
            rows.append(
                {
                    "store": r.store,
                    "question": q,
                    "gold": question.gold,
                    "pool majority": matrix.vocab[pool_leader(matrix)],
                    "accuracy %": round(float(r.per_question_accuracy[q]), 1),
                    "answers given": ", ".join(f"{a} ×{n}" for a, n in answers.most_common(3)),
                    "opened": round(float(np.mean([s["opened"] for s in shapes])), 1) if shapes else None,
                    "tokens": round(float(r.tokens[:, q].mean()), 0),
                    "stop": Counter(s["stop"] for s in shapes).most_common(1)[0][0] if shapes else "",
                    "what it did (seed 0)": describe_actions(example["trace"]) if example else "",
                }
            )
    rows.sort(key=lambda row: (row["accuracy %"], row["store"], row["question"]))
    return rows[:limit]


_VERBS = {
    "spawn": "opened {n}",
    "advance": "advanced {n} {branches}",
    "prune": "pruned {n}",
    "read_full": "read {n} in full",
}


def describe_actions(records: Sequence[dict], most: int = 10) -> str:
    """An episode's actions in words, consecutive equal advance waves merged: "opened 11, advanced 11
    branches ×9, opened 4, pruned 2, stopped: agreement". After ``most`` steps the rest is counted."""
    steps: list[list] = []  # [action, branch count, repeats, branch count of the first wave]
    stop = ""
    for r in records:
        if r["action"] == "note":
            stop = str(r.get("stop") or stop)
            continue
        n = len(r["branches"])
        # consecutive advance waves are one step (the live count only shrinks as branches finish)
        if steps and r["action"] == "advance" and steps[-1][0] == "advance":
            steps[-1][1] = n
            steps[-1][2] += 1
        else:
            steps.append([r["action"], n, 1, n])
    words = []
    i = 0
    while i < len(steps):
        # a widening loop: "opened k, advanced m, opened k, advanced m + k, ..." told once
        k, run = _widening_run(steps, i)
        if run >= 3:
            last = steps[i + 2 * run - 1][1]
            words.append(f"{run}× (opened {k} more, advanced every live branch once), up to {last} branches")
            i += 2 * run
            continue
        action, n, repeats, first = steps[i]
        if action == "advance" and first != n:
            words.append(f"advanced the live branches ×{repeats} ({first} → {n})")
        else:
            text = _VERBS.get(action, action + " {n}").format(n=n, branches="branch" if n == 1 else "branches")
            words.append(text + (f" ×{repeats}" if repeats > 1 else ""))
        i += 1
    if len(words) > most:
        words = [*words[:most], f"… {len(words) - most} more steps"]
    if stop:
        words.append(f"stopped: {stop}")
    return ", ".join(words)


def _widening_run(steps: list[list], start: int) -> tuple[int, int]:
    """(k, count) of consecutive (open k, advance m once) pairs from ``start`` where m grows by k."""
    k, count, previous = 0, 0, None
    i = start
    while i + 1 < len(steps):
        (a, n, _, _), (b, m, repeats, _) = steps[i], steps[i + 1]
        if a != "spawn" or b != "advance" or repeats != 1 or (k and n != k):
            break
        if previous is not None and m != previous + n:
            break
        k, previous, count, i = n, m, count + 1, i + 2
    return k, count


def pick_timelines(results: Sequence[CellResult], count: int) -> list[dict]:
    """A few informative seed-0 episodes: wrong answers first, then the most expensive correct ones."""
    episodes = []
    for r in results:
        golds = [q.gold for q in load_store(r.store).questions]
        for t in r.traces:
            if t["seed"] == 0:
                episodes.append((t["answer"] == golds[t["question"]], -t["tokens"], r.store, t, golds[t["question"]]))
    episodes.sort(key=lambda e: (e[0], e[1], e[2], e[3]["question"]))
    wrong = [e for e in episodes if not e[0]][: max(1, count - 1)]
    right = [e for e in episodes if e[0]][: count - len(wrong)]
    return [{"episode": e[3], "gold": e[4]} for e in wrong + right]


def render_card(card: PolicyCard, out: Path, prefix: str = "card") -> HtmlReport:
    """Write the card's PNGs and CSVs into ``out`` and return its HTML section."""
    out = Path(out)
    doc = HtmlReport(f"Policy card: {card.label}")
    grid_text = ", ".join(f"{b:g}" for b in card.betas)
    doc.paragraph(
        f"Stores: {', '.join(card.stores)}; seeds 0..{card.seeds - 1}; β grid {grid_text}. "
        "Every behavioural figure is read from the environment's trace, not from the controller."
    )
    failed = failure_lines(card.results)
    if failed:
        doc.paragraph("Some episodes failed and count as wrong answers:")
        doc.preformatted("\n".join(failed))
    doc.heading("β → hyperparameter schedule")
    write_csv(out / f"{prefix}_schedule.csv", card.schedule)
    doc.table(card.schedule)
    doc.image(plots.schedule(out / f"{prefix}_schedule.png", card.schedule), "Each hyperparameter as a function of β.")
    doc.heading("Behaviour by β")
    write_csv(out / f"{prefix}_behaviour.csv", card.behaviour)
    doc.table(card.behaviour)
    doc.paragraph(
        "Means per question over stores, questions and seeds. Depth: waves that moved a branch "
        "(its intervals when it is advanced one interval per wave).",
        note=True,
    )
    doc.image(plots.behaviour(out / f"{prefix}_behaviour.png", card.behaviour, card.depths), "Behaviour by β.")
    doc.heading("Decision timelines")
    for i, item in enumerate(card.timelines):
        episode = item["episode"]
        path = plots.timeline(out / f"{prefix}_timeline_{i}.png", episode, item["gold"])
        doc.image(
            path,
            f"{episode['store']} question {episode['question']}, seed {episode['seed']}, β={episode['beta']:g}: "
            f"{describe_actions(episode['trace'], most=16)}.",
        )
    doc.heading(f"Where it fails (β = {max(card.betas):g})")
    write_csv(out / f"{prefix}_failures.csv", card.failures)
    if card.failures:
        doc.table(card.failures)
    else:
        doc.paragraph("No question is answered wrongly in half the seeds or more.")
    return doc
