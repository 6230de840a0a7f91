"""Judgement of a chosen controller on held-out stores: scaling curves beside the baselines and CMC,
the Table-1-style table with paired intervals against SC@64 and CMC, frontier figures, oracle bounds.

Every number in the tables is computed from :class:`~autotts.evaluation.CellResult` objects of one
evaluation. The cells the table compares (the chosen controller over its β grid, CMC at β 0.5 and 1,
every baseline at β = 1) share ``seeds``, so every comparison is paired; the baselines' and CMC's
other budget points, drawn only as curves, may use fewer (``curve_seeds``) to save time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..evaluation import Cell, CellResult, ControllerSpec, area_under_curve, blocks_for, tokens_at_accuracy
from ..evaluation.metrics import bootstrap_ci
from ..evaluation.summary import mean_over_stores
from . import plots
from .compare import Comparison, fmt_interval
from .html import HtmlReport, write_csv
from .oracle import OracleBounds, distance_rows, oracle_bounds
from .runs import failure_lines, run_cells

# the published baselines, each swept over its budget knob by β; labels as in the paper's tables
BASELINES = (
    ControllerSpec("sc", label="SC"),
    ControllerSpec("asc", label="ASC"),
    ControllerSpec("esc", label="ESC"),
    ControllerSpec("parallel-probe", label="Parallel-Probe"),
    ControllerSpec("sac", label="SAC"),
    ControllerSpec("short-m", label="short-1"),
    ControllerSpec("short-3", label="short-3"),
)
CMC = ControllerSpec("cmc", label="CMC")
SC64 = ("SC", 1.0)  # SC at β = 1 reads 64 branches
BASELINE_BETAS = (0.0, 0.25, 0.5, 0.75, 1.0)
CHOSEN_BETAS = tuple(round(0.1 * i, 1) for i in range(11))
TABLE_BETAS = (0.5, 1.0)


@dataclass
class Judgement:
    """All evaluation results behind a judgement, keyed by (label, β, store)."""

    chosen: str
    stores: list[str]
    seeds: int
    chosen_betas: list[float]
    results: dict[tuple[str, float, str], CellResult]
    bounds: list[OracleBounds] = field(default_factory=list)
    curve_seeds: int = 0

    def family(self, label: str, store: str) -> list[CellResult]:
        """A controller's results on one store over β, by β."""
        members = [r for (lab, _, s), r in self.results.items() if lab == label and s == store]
        return sorted(members, key=lambda r: r.beta)

    def labels(self) -> list[str]:
        return list(dict.fromkeys(lab for lab, _, _ in self.results))

    def get(self, label: str, beta: float, store: str) -> CellResult:
        return self.results[(label, beta, store)]

    def across(self, label: str, beta: float) -> list[CellResult]:
        return [self.results[(label, beta, s)] for s in self.stores]

    def sc64_pooled(self) -> tuple[float, float]:
        """SC@64's accuracy and tokens, means over the stores."""
        members = self.across(*SC64)
        return mean_over_stores(m.accuracy for m in members), mean_over_stores(m.mean_tokens for m in members)


def judge(
    chosen: ControllerSpec,
    stores: Sequence[str],
    *,
    seeds: int = 100,
    curve_seeds: int | None = None,
    chosen_betas: Sequence[float] = CHOSEN_BETAS,
    baseline_betas: Sequence[float] = BASELINE_BETAS,
    baselines: Sequence[ControllerSpec] = BASELINES,
    jobs: int | None = None,
    trusted: bool = False,
    on_block: Callable | None = None,
) -> Judgement:
    """Evaluate the chosen controller over ``chosen_betas`` and the baselines and CMC over
    ``baseline_betas`` (always including 0.5 and 1) on ``stores``; table cells under ``seeds``, the
    other curve points under ``curve_seeds`` (default: ``seeds``)."""
    chosen_betas = sorted(set(chosen_betas) | set(TABLE_BETAS))
    baseline_betas = sorted(set(baseline_betas) | set(TABLE_BETAS))
    label = chosen.display
    plan: list[tuple[str, Cell]] = [(label, Cell(chosen, b, s, seeds)) for b in chosen_betas for s in stores]
    for spec in (*baselines, CMC):
        if spec.display == label:
            continue
        for b in baseline_betas:
            in_table = b == 1.0 or (spec.display == CMC.display and b in TABLE_BETAS)
            n = seeds if in_table or curve_seeds is None else min(seeds, curve_seeds)
            plan += [(spec.display, Cell(spec, b, s, n)) for s in stores]
    results = run_cells([c for _, c in plan], jobs=jobs, trusted=trusted, on_block=on_block)
    keyed = {(lab, c.beta, c.store): r for (lab, c), r in zip(plan, results, strict=True)}
    bounds = oracle_bounds(list(stores), seeds)
    return Judgement(label, list(stores), seeds, chosen_betas, keyed, bounds, min(seeds, curve_seeds or seeds))


def plan_size(stores: int, seeds: int, chosen_betas: int = len(CHOSEN_BETAS), curve_seeds: int | None = None) -> int:
    """Progress steps of :func:`judge` with the default baselines (blocks of at most 25 seeds)."""
    blocks = blocks_for(seeds)
    curve_blocks = blocks if curve_seeds is None else blocks_for(min(seeds, curve_seeds))
    table_cells = chosen_betas + len(BASELINES) + 2  # + CMC at β 0.5 and 1
    curve_cells = (len(BASELINES) + 1) * len(BASELINE_BETAS) - len(BASELINES) - 2
    return stores * (table_cells * blocks + curve_cells * curve_blocks)


def table1_rows(j: Judgement) -> list[dict]:
    """Per store and the mean over stores: each method's accuracy and tokens, and for the chosen
    controller (and CMC) the paired differences against SC@64 and, for the chosen one, CMC at the same β."""
    rows = []
    scopes = [[s] for s in j.stores] + ([list(j.stores)] if len(j.stores) > 1 else [])
    methods = [(j.chosen, b) for b in TABLE_BETAS] + [("CMC", b) for b in TABLE_BETAS if j.chosen != "CMC"]
    methods += [(lab, 1.0) for lab in j.labels() if lab not in (j.chosen, "CMC")]
    for scope in scopes:
        name = scope[0] if len(scope) == 1 else f"mean of {len(scope)} stores"
        sc64 = [j.get(SC64[0], SC64[1], s) for s in scope]
        for label, beta in methods:
            members = [j.get(label, beta, s) for s in scope]
            row = {
                "store": name,
                "method": label,
                "beta": beta,
                "accuracy": round(mean_over_stores(m.accuracy for m in members), 2),
                "tokens": round(mean_over_stores(m.mean_tokens for m in members), 1),
                "latency tokens": round(mean_over_stores(m.mean_latency for m in members), 1),
            }
            if len(scope) == 1:
                low, high = members[0].accuracy_ci
                row["accuracy 95% CI"] = f"[{low:.1f}, {high:.1f}]"
            if (label, beta) != SC64:
                vs_sc = Comparison.of(label, members, "SC@64", sc64)
                row["Δacc vs SC@64"] = fmt_interval(*vs_sc.accuracy_difference)
                row["token saving % vs SC@64"] = fmt_interval(*vs_sc.token_saving)
            if label == j.chosen and j.chosen != "CMC":
                vs_cmc = Comparison.of(label, members, f"CMC β={beta:g}", [j.get("CMC", beta, s) for s in scope])
                row["Δacc vs CMC"] = fmt_interval(*vs_cmc.accuracy_difference)
                row["token saving % vs CMC"] = fmt_interval(*vs_cmc.token_saving)
            rows.append(row)
    return rows


FRONTIER_FIGURES = (
    "SC@64 accuracy",
    "tokens at SC@64 accuracy",
    "saving % vs SC@64",
    "peak accuracy",
    "area under curve",
)


def frontier_rows(j: Judgement) -> list[dict]:
    """Per method and store, over its β sweep: the tokens at which it reaches SC@64's accuracy
    (log-linear interpolation), the saving against SC@64's tokens, peak accuracy and the area under
    the accuracy-vs-log-tokens curve; plus the mean over stores (None where a store never reaches)."""
    rows = []
    for label in j.labels():
        per_store = []
        for store in j.stores:
            points = [(r.mean_tokens, r.accuracy) for r in j.family(label, store)]
            sc64 = j.get(SC64[0], SC64[1], store)
            per_store.append((store, _frontier_figures(points, (sc64.accuracy, sc64.mean_tokens))))
        if len(per_store) > 1:
            # the pooled row is read off the mean curve over stores (the curve the run's own figures
            # use), so a store that never reaches SC@64's accuracy does not blank the pooled figure
            per_store.append(
                (f"mean of {len(j.stores)} stores", _frontier_figures(pooled_points(j, label), j.sc64_pooled()))
            )
        for store, figures in per_store:
            row = {"method": label, "store": store}
            row.update(
                {k: None if v is None else round(v, 2) + 0.0 for k, v in zip(FRONTIER_FIGURES, figures, strict=True)}
            )
            rows.append(row)
    return rows


def _frontier_figures(points: list[tuple[float, float]], sc64: tuple[float, float]) -> tuple:
    """(SC@64 accuracy, tokens at it, saving %, peak accuracy, area) of one (tokens, accuracy) curve."""
    reach = tokens_at_accuracy(points, sc64[0])
    return (
        sc64[0],
        reach,
        None if reach is None or not sc64[1] else 100.0 * (1 - reach / sc64[1]),
        max(a for _, a in points),
        area_under_curve(points),
    )


def pooled_points(j: Judgement, label: str) -> list[tuple[float, float]]:
    """A method's curve over the pooled stores: per β, the mean over stores of tokens and accuracy."""
    out = []
    for beta in sorted({b for (lab, b, _) in j.results if lab == label}):
        members = [j.results[(label, beta, s)] for s in j.stores if (label, beta, s) in j.results]
        if len(members) == len(j.stores):
            out.append(
                (mean_over_stores(m.mean_tokens for m in members), mean_over_stores(m.accuracy for m in members))
            )
    return out


def pooled_series(j: Judgement, label: str, *, display: str | None = None) -> plots.Series:
    """A method's pooled curve with 95% bootstrap bands over the pooled questions of all stores."""
    points = []
    for beta in sorted({b for (lab, b, _) in j.results if lab == label}):
        members = [j.results[(label, beta, s)] for s in j.stores]
        per_question = np.concatenate([m.per_question_accuracy for m in members])
        low, high = bootstrap_ci(per_question)
        points.append(
            (mean_over_stores(m.mean_tokens for m in members), mean_over_stores(m.accuracy for m in members), low, high)
        )
    return plots.Series(display or label, points, emphasis=label == j.chosen, band=True)


def curves(j: Judgement) -> dict[str, list[plots.Series]]:
    out: dict[str, list[plots.Series]] = {}
    for store in j.stores:
        series = []
        for label in j.labels():
            points = [(r.mean_tokens, r.accuracy, *r.accuracy_ci) for r in j.family(label, store)]
            featured = label in (j.chosen, SC64[0], "CMC")  # bands for these only, to stay legible
            series.append(plots.Series(label, points, emphasis=label == j.chosen, band=featured))
        out[store] = series
    return out


@dataclass(frozen=True)
class Headline:
    """The answer a reader wants first: on the pooled held-out stores, the chosen controller against
    SC@64 and CMC (paired differences with 95% intervals) and a verdict in plain words."""

    chosen: str
    stores: int
    seeds: int
    comparisons: list[tuple[float, str, Comparison]]  # (β of the chosen controller, reference, A − B)
    saving_at_sc64: float | None  # % tokens saved where the pooled curve reaches SC@64's accuracy
    verdict: str

    def get(self, beta: float, reference: str) -> Comparison | None:
        return next((c for b, ref, c in self.comparisons if b == beta and ref == reference), None)


def headline(j: Judgement) -> Headline:
    """Pooled comparisons of the chosen controller at β 0.5 and 1 with SC@64 and with CMC at the same β."""
    comparisons = []
    for beta in TABLE_BETAS:
        mine = j.across(j.chosen, beta)
        comparisons.append((beta, "SC@64", Comparison.of(f"{j.chosen} β={beta:g}", mine, "SC@64", j.across(*SC64))))
        if j.chosen != "CMC":
            cmc = Comparison.of(f"{j.chosen} β={beta:g}", mine, f"CMC β={beta:g}", j.across("CMC", beta))
            comparisons.append((beta, "CMC", cmc))
    frontier = _frontier_figures(pooled_points(j, j.chosen), j.sc64_pooled())
    top = max(TABLE_BETAS)
    found = Headline(j.chosen, len(j.stores), j.seeds, comparisons, frontier[2], "")
    text = verdict(j.chosen, top, found.get(top, "SC@64"), found.get(top, "CMC"), frontier[2], len(j.stores))
    return Headline(j.chosen, len(j.stores), j.seeds, comparisons, frontier[2], text)


def relation(c: Comparison, reference: str) -> str:
    """How A stands against B, in words, judged by the 95% intervals: "cheaper than SC@64 at equal
    accuracy", "indistinguishable from CMC", "more accurate than SC@64 but costlier", ..."""
    _, d_lo, d_hi = c.accuracy_difference
    saving, s_lo, s_hi = c.token_saving
    accuracy = "more" if d_lo > 0 else "less" if d_hi < 0 else "equal"
    cost = "cheaper" if s_lo > 0 else "costlier" if s_hi < 0 else "equal"
    pct = f"{abs(saving):.0f}%"
    phrases = {
        ("equal", "equal"): f"indistinguishable from {reference} in accuracy and tokens",
        ("equal", "cheaper"): f"cheaper than {reference} ({pct} fewer tokens) at equal accuracy",
        ("equal", "costlier"): f"as accurate as {reference} but costlier ({pct} more tokens)",
        ("more", "cheaper"): f"better than {reference}: more accurate and {pct} cheaper",
        ("more", "equal"): f"more accurate than {reference} at equal cost",
        ("more", "costlier"): f"more accurate than {reference} but {pct} costlier",
        ("less", "cheaper"): f"{pct} cheaper than {reference} but less accurate",
        ("less", "equal"): f"less accurate than {reference} at equal cost",
        ("less", "costlier"): f"worse than {reference}: less accurate and {pct} costlier",
    }
    return phrases[(accuracy, cost)]


def verdict(
    label: str,
    beta: float,
    vs_sc64: Comparison | None,
    vs_cmc: Comparison | None,
    saving_at_sc64: float | None,
    stores: int,
) -> str:
    """One sentence in plain words from the pooled held-out comparisons."""
    parts = [relation(c, ref) for c, ref in ((vs_sc64, "SC@64"), (vs_cmc, f"CMC β={beta:g}")) if c is not None]
    text = f"On {stores} held-out store{'s' if stores != 1 else ''}, {label} at β={beta:g} is " + "; ".join(parts) + "."
    if saving_at_sc64 is not None:
        text += f" Along its β curve it reaches SC@64's accuracy with {saving_at_sc64:.0f}% fewer tokens."
    else:
        text += " Along its β curve it never reaches SC@64's accuracy."
    return text


def headline_rows(h: Headline) -> list[dict]:
    """The summary box's table: one row per (β, reference)."""
    rows = []
    for beta, reference, c in h.comparisons:
        rows.append(
            {
                "chosen β": f"{beta:g}",
                "against": c.label_b,
                "accuracy % (chosen / reference)": f"{c.accuracy_a:.2f} / {c.accuracy_b:.2f}",
                "Δ accuracy, points [95% CI]": fmt_interval(*c.accuracy_difference),
                "token saving % [95% CI]": fmt_interval(*c.token_saving),
                "in words": relation(c, reference if reference == "SC@64" else c.label_b),
            }
        )
    return rows


def difference_rows(j: Judgement, h: Headline) -> list[dict]:
    """Rows of the paired-difference figure: pooled first, then per store, for each comparison."""
    rows = []
    for beta, reference, c in h.comparisons:
        colour = plots.FEATURED_COLOURS["SC"] if reference == "SC@64" else plots.FEATURED_COLOURS["CMC"]
        name = f"β={beta:g} vs {c.label_b}"
        rows.append(
            {
                "label": f"{name}, pooled",
                "accuracy": c.accuracy_difference,
                "saving": c.token_saving,
                "colour": colour,
                "pooled": True,
            }
        )
    return rows


def render_headline(
    j: Judgement,
    out: Path,
    doc: HtmlReport,
    extra_rows: Sequence[dict] = (),
    extra_notes: Sequence[str] = (),
    prefix: str = "heldout",
) -> Headline:
    """The summary box and the two figures that carry the answer: the pooled accuracy-vs-tokens curves
    of the chosen controller, CMC and SC@k, and the paired differences."""
    out = Path(out)
    h = headline(j)
    rows = headline_rows(h)
    write_csv(out / f"{prefix}_summary.csv", rows)
    notes = [
        f"Pooled over {h.stores} held-out stores (every question weighs the same), {h.seeds} seeds per question; "
        "differences are paired (same questions and seeds), intervals are 95% bootstrap intervals over questions. "
        'Token saving = 1 − tokens(chosen) / tokens(reference). "Equal" means the interval contains zero.',
        *extra_notes,
    ]
    doc.summary_box("Verdict on held-out data", h.verdict, rows, list(extra_rows), notes=notes)
    series = [pooled_series(j, j.chosen)]
    if j.chosen != "CMC":
        series.append(pooled_series(j, "CMC"))
    series.append(pooled_series(j, SC64[0], display="SC@k"))
    doc.image(
        plots.pooled_curves(out / f"{prefix}_pooled.png", series, f"Held-out, pooled over {len(j.stores)} stores"),
        f"Accuracy vs tokens per question (log axis), mean over the held-out stores. {j.chosen} over its β grid "
        "(shaded: 95% band), CMC over β and SC@k with k = 1…64 (β = 1 is SC@64), their 95% bands dashed. "
        "Bands are unpaired; the paired differences below are the sharper test.",
    )
    doc.image(
        plots.paired_differences(out / f"{prefix}_differences.png", difference_rows(j, h)),
        "Paired differences of the chosen controller against SC@64 and CMC at the same β, pooled held-out stores: "
        "accuracy difference (points) and token saving (%) with 95% intervals; right of zero favours the chosen one.",
    )
    return h


def render_per_store(j: Judgement, out: Path, doc: HtmlReport, prefix: str = "heldout") -> None:
    """Per-store curves (readable panels), and every table: Table 1, frontier figures, oracle bounds."""
    out = Path(out)
    doc.heading("Per held-out store")
    failed = failure_lines(list(j.results.values()))
    if failed:
        doc.paragraph("Some episodes failed and count as wrong answers at zero cost:")
        doc.preformatted("\n".join(failed))
    others = ", ".join(b.display for b in BASELINES if b.display != "SC")
    doc.paragraph(
        f"{j.chosen} over β ∈ {{{', '.join(f'{b:g}' for b in j.chosen_betas)}}} (shaded: its 95% bootstrap band), "
        f"CMC and SC in colour; the other published baselines ({others}) "
        f"in grey for context. {j.seeds} seeds (baseline points off the table: {j.curve_seeds})."
    )
    doc.image(
        plots.scaling_curves(out / f"{prefix}_scaling.png", curves(j)), "Accuracy vs tokens (log axis), per store."
    )
    all_rows = [r.row() for r in j.results.values()]
    for row, lab in zip(all_rows, (k[0] for k in j.results), strict=True):
        row["controller"] = lab
    write_csv(out / f"{prefix}_results.csv", all_rows)
    doc.heading("Table 1: chosen controller against SC@64 and CMC")
    table = table1_rows(j)
    write_csv(out / f"{prefix}_table1.csv", table)
    doc.paragraph(
        "Differences are paired (same questions and seeds) with 95% bootstrap intervals over questions. "
        "Token saving = 1 − tokens(method) / tokens(reference), in percent. The pooled rows come first.",
        note=True,
    )
    pooled = [r for r in table if r["store"].startswith("mean of")]
    per_store = [r for r in table if not r["store"].startswith("mean of")]
    if pooled:
        doc.paragraph(f"Pooled over the {len(j.stores)} held-out stores:")
        doc.table(pooled, [c for c in pooled[0] if c not in ("accuracy 95% CI", "store")])
    doc.begin_details(f"Table 1 per store ({len(per_store)} rows)")
    doc.table(per_store)
    doc.end_details()
    doc.heading("Frontier: tokens to reach SC@64's accuracy, peak accuracy, area")
    frontier = frontier_rows(j)
    write_csv(out / f"{prefix}_frontier.csv", frontier)
    doc.paragraph(
        "Per method over its β sweep: the tokens at which it reaches SC@64's accuracy (log-linear interpolation; "
        "empty when it never does), the saving against SC@64's tokens there, peak accuracy and the area under the "
        "accuracy-vs-log-tokens curve. Pooled rows are read off the mean curve over stores, as the run computes them.",
        note=True,
    )
    pooled_frontier = [r for r in frontier if r["store"].startswith("mean of")]
    doc.table(pooled_frontier or frontier)
    if pooled_frontier:
        doc.begin_details(f"Frontier per store ({len(frontier) - len(pooled_frontier)} rows)")
        doc.table([r for r in frontier if not r["store"].startswith("mean of")])
        doc.end_details()
    doc.heading("Oracle bounds")
    bounds = [b.row() for b in j.bounds]
    write_csv(out / f"{prefix}_oracle.csv", bounds)
    doc.paragraph(
        "majority@pool: majority over all 128 branches; pass@k: some branch among k drawn is correct; cheapest "
        "majority tokens: the fewest tokens a controller reading branches whole in the seed's order needs before "
        "the pool-majority answer leads (oracle stopping), averaged over seeds and questions.",
        note=True,
    )
    doc.table(bounds)
    # every method of the table: the chosen controller and CMC at β 0.5 and 1, the baselines at β = 1
    featured = [
        r
        for (lab, beta, _), r in j.results.items()
        if beta == 1.0 or (beta in TABLE_BETAS and lab in (j.chosen, "CMC"))
    ]
    distances = distance_rows(j.bounds, featured)
    write_csv(out / f"{prefix}_oracle_distance.csv", distances)
    doc.begin_details(f"Distance from the limits per method and store ({len(distances)} rows)")
    doc.table(distances)
    doc.end_details()
    doc.image(plots.oracle_gaps(out / f"{prefix}_oracle.png", distances), "Distance from the limits, per store.")


def render_judgement(j: Judgement, out: Path, doc: HtmlReport, prefix: str = "heldout") -> None:
    """Add the judgement's sections to ``doc`` (summary box and pooled figures, then per store and
    the tables); write their CSVs and PNGs into ``out``."""
    render_headline(j, out, doc, prefix=prefix)
    render_per_store(j, out, doc, prefix=prefix)
