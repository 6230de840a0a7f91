"""``robustness.html``: what fails, in plain words, then the flagged cells, the heat map of conditions
× controllers, the transfer matrix and the figures behind them (self-contained, no scripts)."""

from __future__ import annotations

import html
from pathlib import Path

from ..report.html import HtmlReport, write_csv
from .analysis import Robustness
from .run import REFERENCE_LABEL
from .verdict import SAVING_LOSS, Verdict

HEAT_STYLE = """
<style>
table.heat td { text-align: center; min-width: 7.5rem; }
table.heat td.flag { outline: 3px solid #b00020; outline-offset: -3px; font-weight: 600; }
table.heat th.cond { text-align: left; }
table.heat tr.group th { background: #e9e9ee; text-align: left; }
p.fail { color: #8b0015; font-weight: 600; }
p.hold { color: #1b5e20; font-weight: 600; }
ul.fails li { margin: .2rem 0; }
span.sub { display: block; font-size: .72rem; color: #333; font-weight: 400; }
</style>
"""


def _colour(delta: float, flagged: bool) -> str:
    """Background for a Δaccuracy (points): red below zero, green above, saturating at ±10 points."""
    share = max(-1.0, min(1.0, delta / 10.0))
    if share < 0:
        level = int(255 - 120 * -share)
        return f"rgb(255,{level},{level})"
    level = int(255 - 110 * share)
    base = f"rgb({level},255,{level})"
    return "rgb(255,205,205)" if flagged and share >= 0 else base


def summary_sentences(r: Robustness) -> tuple[list[str], list[str]]:
    """(the policy's failures, the other controllers' failures), one plain sentence each."""
    flagged = r.flagged()
    mine = [f"{v.condition}: {v.reason}." for v in flagged if v.controller == r.policy.label]
    others = [f"{v.reason}." for v in flagged if v.controller != r.policy.label]  # the reason names both
    return mine, others


def headline(r: Robustness) -> str:
    judged = [v for v in r.verdicts if v.controller == r.policy.label]
    failed = [v for v in judged if v.flagged]
    beta = r.operating[r.policy.label]
    if not failed:
        return (
            f"{r.policy.label} (at β = {beta:g}) holds under all {len(judged)} conditions and strata tested: "
            "it is never worse than SC@64 and keeps at least half its saving everywhere."
        )
    names = ", ".join(v.condition for v in failed)
    return (
        f"{r.policy.label} (at β = {beta:g}) fails under {len(failed)} of {len(judged)} conditions and strata: {names}."
    )


def heat_map(r: Robustness) -> str:
    labels = r.labels
    cells: dict[tuple[str, str], Verdict] = {(v.condition, v.controller): v for v in r.verdicts}
    order: list[tuple[str, str]] = []  # (group heading, condition), flagged rows first within the map
    rows = list(dict.fromkeys((v.kind, v.group, v.condition) for v in r.verdicts))
    flagged_rows = [
        row for row in rows if any(cells[(row[2], lab)].flagged for lab in labels if (row[2], lab) in cells)
    ]
    for heading, members in (
        ("flagged conditions", flagged_rows),
        ("all other conditions", [row for row in rows if row not in flagged_rows]),
    ):
        if members:
            order.append((heading, ""))
            order.extend(("", row[2]) for row in members)
    out = [HEAT_STYLE, '<div class="scroll"><table class="heat">']
    out.append(
        '<tr><th class="cond">condition</th>'
        + "".join(f"<th>{html.escape(lab)} (β={r.operating[lab]:g})</th>" for lab in labels)
        + "</tr>"
    )
    for heading, condition in order:
        if heading:
            out.append(f'<tr class="group"><th colspan="{len(labels) + 1}">{html.escape(heading)}</th></tr>')
            continue
        tds = []
        for lab in labels:
            v = cells.get((condition, lab))
            if v is None:
                tds.append("<td>–</td>")
                continue
            d, s = v.delta_accuracy, v.saving
            mark = "⚑ " if v.flagged else ""
            title = html.escape(v.reason, quote=True)
            tds.append(
                f'<td class="{"flag" if v.flagged else ""}" style="background:{_colour(d.estimate, v.flagged)}" '
                f'title="{title}">{mark}{d.estimate:+.1f} pts<span class="sub">[{d.low:+.1f}, {d.high:+.1f}]</span>'
                f'<span class="sub">saves {s.estimate:.0f}% [{s.low:.0f}, {s.high:.0f}]</span></td>'
            )
        out.append(f'<tr><th class="cond">{html.escape(condition)}</th>{"".join(tds)}</tr>')
    out.append("</table></div>")
    return "\n".join(out)


def render(r: Robustness, out: Path) -> Path:
    """Write ``robustness.html`` (and CSVs of its tables) into ``out``; returns the HTML path."""
    out = Path(out)
    doc = HtmlReport(f"Robustness of {r.policy.label}")
    mine, others = summary_sentences(r)
    doc.raw(f'<p class="{"fail" if mine else "hold"}">{html.escape(headline(r))}</p>')
    doc.heading("Where it fails")
    if mine:
        doc.paragraph(f"Conditions under which {r.policy.label} fails:")
        doc.raw('<ul class="fails">' + "".join(f"<li>{html.escape(s)}</li>" for s in mine) + "</ul>")
    else:
        doc.paragraph(f"No condition fails for {r.policy.label}.")
    if others:
        doc.paragraph("Comparison controllers that fail somewhere (for context):")
        doc.raw('<ul class="fails">' + "".join(f"<li>{html.escape(s)}</li>" for s in others) + "</ul>")
    doc.paragraph(
        f"A cell is flagged (⚑) when the controller is worse than {REFERENCE_LABEL} under that condition (the 95% "
        f"interval of Δaccuracy lies below zero) or keeps less than {SAVING_LOSS:.0%} of its unshifted saving. "
        f"Every controller runs at one operating β, fixed on the unshifted stores (the smallest β of the grid that "
        f"reaches {REFERENCE_LABEL}'s accuracy there); {REFERENCE_LABEL} runs under the same condition.",
        note=True,
    )
    doc.heading("Flagged cells")
    flagged = [
        {"controller": v.controller, "condition": v.condition, "β": v.beta, "reason": v.reason} for v in r.flagged()
    ]
    if flagged:
        doc.table(flagged)
    else:
        doc.paragraph("None.")
    doc.heading("Heat map: conditions × controllers")
    doc.paragraph(
        f"Each cell: Δaccuracy vs {REFERENCE_LABEL} in points with its 95% interval, and the token saving vs "
        f"{REFERENCE_LABEL} with its interval; colour follows Δaccuracy (red: worse). Flagged rows come first.",
        note=True,
    )
    doc.raw(heat_map(r))
    verdict_rows = [
        {
            "controller": v.controller,
            "condition": v.condition,
            "kind": v.kind,
            "β": v.beta,
            "questions": v.questions,
            "accuracy %": round(v.accuracy, 2),
            "SC@64 accuracy %": round(v.sc64_accuracy, 2),
            "Δacc (points)": _interval(v.delta_accuracy.estimate, v.delta_accuracy.low, v.delta_accuracy.high),
            "saving %": f"{v.saving.estimate:.1f} [{v.saving.low:.1f}, {v.saving.high:.1f}]",
            "flagged": "yes" if v.flagged else "",
        }
        for v in r.verdicts
    ]
    write_csv(out / "robustness_cells.csv", verdict_rows)
    if r.transfer:
        doc.heading("Transfer of discovery")
        doc.paragraph(
            "Each row: the controller a discovery run chose, searching only the stores named; each column: the "
            f"unshifted evaluation stores of one model or benchmark. Cells: Δaccuracy vs {REFERENCE_LABEL} (points) "
            "and saving, at the controller's operating β; '(in sample)' marks targets among the run's search stores.",
            note=True,
        )
        doc.table(_transfer_rows(r))
    doc.heading("Conditions")
    doc.table(
        [
            {
                "condition": c["name"],
                "group": c["group"],
                "definition": c["description"],
                "replicates": c["replicates"],
                "questions": c["questions"],
                "skipped stores": "; ".join(f"{k}: {v}" for k, v in c["skipped"].items()),
                "seconds": c["seconds"],
            }
            for c in r.conditions_json()
        ]
    )
    failures = [f"{c['name']}: {line}" for c in r.conditions_json() for line in c["failures"]]
    if failures:
        doc.paragraph("Some episodes failed and count as wrong answers:")
        doc.preformatted("\n".join(failures))
    doc.heading("All cells")
    doc.table(verdict_rows)
    doc.heading("Every β, every condition")
    curve_table = [
        {
            "condition": c["condition"],
            "controller": c["controller"],
            "β": c["beta"],
            "accuracy %": round(c["accuracy"], 2),
            "tokens": round(c["tokens"], 0),
            "Δacc (points)": f"{c['delta_accuracy']['estimate']:+.2f} [{c['delta_accuracy']['low']:+.2f}, "
            f"{c['delta_accuracy']['high']:+.2f}]",
            "saving %": f"{c['saving']['estimate']:.1f} [{c['saving']['low']:.1f}, {c['saving']['high']:.1f}]",
        }
        for c in r.curves
    ]
    write_csv(out / "robustness_curves.csv", curve_table)
    doc.table(curve_table)
    doc.paragraph(
        f"{len(r.stores)} stores ({', '.join(r.stores)}); {r.seeds} seeds; "
        f"β grid {', '.join(f'{b:g}' for b in r.betas)}; {r.seconds:.0f} s. Figures: robustness.json.",
        note=True,
    )
    return doc.write(out / "robustness.html")


def _interval(estimate: float, low: float, high: float) -> str:
    return f"{estimate:+.2f} [{low:+.2f}, {high:+.2f}]"


def _transfer_rows(r: Robustness) -> list[dict]:
    rows: dict[str, dict] = {}
    for cell in r.transfer:
        row = rows.setdefault(cell["source"], {"discovered by searching": cell["source"], "β": cell["beta"]})
        d, s = cell["delta_accuracy"], cell["saving"]
        text = f"{d['estimate']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}] pts; saves {s['estimate']:.0f}%"
        if cell["worse_than_sc64"]:
            text = "⚑ " + text
        if cell["in_sample"]:
            text += " (in sample)"
        row[cell["target"]] = text
    return list(rows.values())
