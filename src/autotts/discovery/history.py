"""The history the proposer reads: per round its results and digested execution traces.

Full traces of 100 seeds × 30 questions × 11 β × 4 stores would be gigabytes; a model can read a few
tens of kilobytes per round. So traces are collected on a small *trace pass* (the first seed or two;
episodes are deterministic, so these equal the corresponding episodes of the main evaluation) and
digested:

* per store, per β of a few chosen grid points, per question: a one-line action sequence
  (``S4 A4x3 P1 ...``), branches opened / finished / pruned, the answer and whether it was right, and
  the controller's last note (its own account of why it stopped);
* full wave-by-wave traces of the informative cases: wrong answers, and the most expensive questions.

Correctness is shown as right/wrong only: gold answers never appear.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..env.trace import compact_trace
from ..evaluation import CellResult
from ..evaluation.summary import mean_over_stores


@dataclass(frozen=True)
class DigestLimits:
    """How much of the traces goes into the history (keeps a round readable whole)."""

    betas_shown: int = 3  # grid points per store in the per-question digest: lowest, middle, highest
    full_traces: int = 4  # informative episodes shown wave by wave
    waves_per_trace: int = 24  # first and last waves of a long episode; the middle is elided
    line_chars: int = 64  # of the action sequence (head and tail kept)
    note_chars: int = 48


def pick_betas(betas: Sequence[float], count: int) -> list[float]:
    """``count`` grid points spread over the grid, always including its ends."""
    ordered = sorted(set(betas))
    if len(ordered) <= count:
        return ordered
    picks = {ordered[round(i * (len(ordered) - 1) / (count - 1))] for i in range(count)} if count > 1 else set()
    return sorted(picks or {ordered[-1]})


def _episode_tuples(record: dict[str, Any]) -> list[tuple]:
    """Trace records (dicts) back to the compact tuples ``compact_trace`` reads."""
    out: list[tuple] = []
    for r in record["trace"]:
        if r["action"] == "note":
            out.append(("note", {k: v for k, v in r.items() if k not in ("wave", "action")}))
        else:
            out.append((r["action"], tuple(r["branches"]), tuple(r["answers"]), r["tokens"], r["latency"]))
    return out


def _branch_counts(record: dict[str, Any]) -> tuple[int, int]:
    opened = pruned = 0
    for r in record["trace"]:
        if r["action"] in ("spawn", "read_full"):
            opened += len(r["branches"])
        elif r["action"] == "prune":
            pruned += len(r["branches"])
    return opened, pruned


def _note_text(entry: dict[str, Any], limit: int) -> str:
    fields = {k: v for k, v in entry.items() if k not in ("wave", "action")}
    text = ", ".join(f"{k}={round(v, 3) if isinstance(v, float) else v}" for k, v in fields.items())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _last_note(record: dict[str, Any], limit: int) -> str:
    for r in reversed(record["trace"]):
        if r["action"] == "note":
            return _note_text(r, limit)
    return ""


def _shorten(text: str, limit: int) -> str:
    """Keep the head and the tail (where the stop decision is) of a long action sequence."""
    if len(text) <= limit:
        return text
    tail = limit // 3
    return text[: limit - tail - 5] + " ... " + text[-tail:]


def _is_correct(result: CellResult, record: dict[str, Any]) -> bool:
    return bool(result.correct[record["seed"], record["question"]])


def trace_digest(results: Sequence[CellResult], betas: Sequence[float], limits: DigestLimits = DigestLimits()) -> str:
    """Markdown digest of the traced episodes of ``results`` (each evaluated with traces on)."""
    shown = set(pick_betas(betas, limits.betas_shown))
    lines = [
        "Legend: S<n> spawn n branches (one interval each), A<n>xk k waves advancing n branches, "
        "R<n> read n branches whole, P<n> prune n. opened/pruned = branch counts; ok = answer right.",
        "",
    ]
    informative: list[tuple[int, float, CellResult, dict[str, Any]]] = []
    for result in results:
        if not result.traces:
            continue
        if result.beta in shown:
            lines.append(f"### {result.store}, β={result.beta:g} (seed {result.traces[0]['seed']})")
            lines.append("q | ok | tokens | opened/pruned | answer | actions | last note")
            for record in result.traces:
                opened, pruned = _branch_counts(record)
                ok = "yes" if _is_correct(result, record) else "NO"
                actions = _shorten(compact_trace(_episode_tuples(record), 10**6), limits.line_chars)
                text = (
                    f"{record['question']} | {ok} | {record['tokens']:,} | {opened}/{pruned} | "
                    f"{record['answer']} | {actions} | {_last_note(record, limits.note_chars)}"
                )
                lines.append(text)
            lines.append("")
        for record in result.traces:
            wrong = not _is_correct(result, record)
            # rank: wrong answers at high β first (budget did not help), then the costliest episodes
            informative.append((1 if wrong else 0, result.beta * 1e9 + record["tokens"], result, record))
    informative.sort(key=lambda item: (item[0], item[1]), reverse=True)
    chosen = _diverse(informative, limits.full_traces)
    if chosen:
        lines.append("### Full traces of informative episodes (wrong answers, most expensive)")
        for _, _, result, record in chosen:
            lines.extend(full_trace_text(result, record, limits))
    return "\n".join(lines).rstrip() + "\n"


def _diverse(ranked: list, count: int) -> list:
    """Top of the ranking, at most one episode per (store, question) so the examples differ."""
    seen: set[tuple[str, int]] = set()
    picked = []
    for item in ranked:
        key = (item[2].store, item[3]["question"])
        if key in seen:
            continue
        seen.add(key)
        picked.append(item)
        if len(picked) == count:
            break
    return picked


def full_trace_text(result: CellResult, record: dict[str, Any], limits: DigestLimits) -> list[str]:
    """One episode wave by wave: action, branch count, the answers revealed (as counts), cost; notes."""
    ok = "right" if _is_correct(result, record) else "WRONG"
    lines = [
        f"#### {result.store} β={result.beta:g} question {record['question']} seed {record['seed']}: "
        f"answered {record['answer']!r} ({ok}), {record['tokens']:,} tokens, latency {record['latency_tokens']:,}",
    ]
    entries = record["trace"]
    keep = limits.waves_per_trace
    head, tail = keep * 2 // 3, keep - keep * 2 // 3
    shown = entries if len(entries) <= keep else [*entries[:head], None, *entries[-tail:]]
    for r in shown:
        if r is None:
            lines.append(f"  ... {len(entries) - keep} entries elided ...")
        elif r["action"] == "note":
            lines.append(f"  note {_note_text(r, 2 * limits.note_chars)}")
        else:
            counts = Counter(r["answers"]).most_common(4)
            seen = ", ".join(f"{a}x{n}" for a, n in counts) + (" ..." if len(set(r["answers"])) > 4 else "")
            lines.append(f"  {r['wave']}: {r['action']} {len(r['branches'])} -> {seen}; {r['tokens']:,} tok")
    lines.append("")
    return lines


def informative_records(results: Sequence[CellResult], limits: DigestLimits = DigestLimits()) -> list[dict]:
    """The episodes shown in full, as JSON-ready dicts (with ``correct`` instead of any gold)."""
    ranked = []
    for result in results:
        for record in result.traces:
            wrong = not _is_correct(result, record)
            ranked.append((1 if wrong else 0, result.beta * 1e9 + record["tokens"], result, record))
    ranked.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [{**record, "correct": _is_correct(result, record)} for _, _, result, record in _diverse(ranked, 8)]


# ---------------------------------------------------------------------- results tables


def mean_curve(rows: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """Per β: mean accuracy / tokens / latency over the stores of ``rows`` (results CSV rows)."""
    by_beta: dict[float, list[dict[str, Any]]] = {}
    for row in rows:
        by_beta.setdefault(float(row["beta"]), []).append(row)
    return [
        {
            "beta": beta,
            "accuracy": mean_over_stores(float(r["accuracy"]) for r in members),
            "tokens": mean_over_stores(float(r["tokens"]) for r in members),
            "latency_tokens": mean_over_stores(float(r["latency_tokens"]) for r in members),
        }
        for beta, members in sorted(by_beta.items())
    ]


def curve_table(rows: Sequence[dict[str, Any]]) -> str:
    """A small markdown table of the mean curve."""
    lines = ["β | accuracy % (mean of stores) | tokens | latency tokens", "---|---|---|---"]
    for point in mean_curve(rows):
        lines.append(
            f"{point['beta']:g} | {point['accuracy']:.2f} | {point['tokens']:,.0f} | {point['latency_tokens']:,.0f}"
        )
    return "\n".join(lines)
