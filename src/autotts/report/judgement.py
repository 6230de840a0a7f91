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
                "accuracy": round(float(np.mean([m.accuracy for m in members])), 2),
                "tokens": round(float(np.mean([m.mean_tokens for m in members])), 1),
                "latency tokens": round(float(np.mean([m.mean_latency for m in members])), 1),
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
            reach = tokens_at_accuracy(points, sc64.accuracy)
            figures = (
                sc64.accuracy,
                reach,
                None if reach is None else 100.0 * (1 - reach / sc64.mean_tokens),
                max(a for _, a in points),
                area_under_curve(points),
            )
            per_store.append((store, figures))
        if len(per_store) > 1:  # means of the unrounded figures
            columns = list(zip(*(figures for _, figures in per_store), strict=True))
            means = tuple(None if None in col else float(np.mean(col)) for col in columns)
            per_store.append((f"mean of {len(j.stores)} stores", means))
        for store, figures in per_store:
            row = {"method": label, "store": store}
            row.update(
                {k: None if v is None else round(v, 2) + 0.0 for k, v in zip(FRONTIER_FIGURES, figures, strict=True)}
            )
            rows.append(row)
    return rows


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


def render_judgement(j: Judgement, out: Path, doc: HtmlReport, prefix: str = "heldout") -> None:
    """Add the judgement's sections to ``doc``; write their CSVs and PNGs into ``out``."""
    out = Path(out)
    doc.heading("Scaling curves on held-out stores")
    failed = failure_lines(list(j.results.values()))
    if failed:
        doc.paragraph("Some episodes failed and count as wrong answers at zero cost:")
        doc.preformatted("\n".join(failed))
    doc.paragraph(
        f"{j.chosen} over β ∈ {{{', '.join(f'{b:g}' for b in j.chosen_betas)}}} beside the baselines over their "
        f"budgets and CMC; {j.seeds} seeds (baseline points off the table: {j.curve_seeds}); bands are 95% "
        "bootstrap intervals over questions."
    )
    doc.image(plots.scaling_curves(out / f"{prefix}_scaling.png", curves(j)), "Accuracy vs tokens (log axis).")
    all_rows = [r.row() for r in j.results.values()]
    for row, lab in zip(all_rows, (k[0] for k in j.results), strict=True):
        row["controller"] = lab
    write_csv(out / f"{prefix}_results.csv", all_rows)
    doc.heading("Table 1: chosen controller against SC@64 and CMC")
    table = table1_rows(j)
    write_csv(out / f"{prefix}_table1.csv", table)
    doc.paragraph(
        "Differences are paired (same questions and seeds) with 95% bootstrap intervals over questions. "
        "Token saving = 1 − tokens(method) / tokens(reference), in percent.",
        note=True,
    )
    doc.table(table)
    doc.heading("Frontier figures")
    frontier = frontier_rows(j)
    write_csv(out / f"{prefix}_frontier.csv", frontier)
    doc.table(frontier)
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
    doc.table(distances)
    doc.image(plots.oracle_gaps(out / f"{prefix}_oracle.png", distances), "Distance from the limits, per store.")
