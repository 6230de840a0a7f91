"""Render a genome as a standalone, commented controller file.

The file holds only the mechanisms the genome switches on, written out as plain Python; every knob
is a closed-form schedule of β. It behaves exactly like ``SpaceController`` with that genome (a test
checks it episode by episode), and carries the genome itself as a ``GENOME = {...}`` constant so the
search can read its own earlier candidates back from the history (:func:`genome_from_source`).

A rendered candidate imports only ``collections`` and ``autotts.controllers``, the allowlist of
candidate files; with ``register_as`` it is written for the package instead (relative imports and
the registry decorator), which is how the shipped ``evo`` controller is made.
"""

from __future__ import annotations

import ast
import pprint
import textwrap
from collections.abc import Mapping
from typing import Any

from ...controllers.space import KNOBS, PROBE_GATES, GenomeError, check_genome, knob_value, schedule_value

GENOME_NAME = "GENOME"
INDENT = "    "


class RenderError(ValueError):
    """A source file whose genome cannot be read back."""


# ---------------------------------------------------------------- schedules as expressions


def _number(x: float) -> str:
    return repr(int(x)) if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e9) else repr(x)


def schedule_expression(name: str, spec: Any) -> str:
    """A Python expression in ``b`` (β) equal, bit for bit, to ``knob_value(name, spec, b)``."""
    knob = KNOBS[name]
    if isinstance(spec, (int, float)):
        return _number(knob_value(name, spec, 0.0))  # a constant, already clipped and rounded
    start = spec["start"]
    if "ratio" in spec:
        raw = f"{_number(start)} * {_number(spec['ratio'])} ** b"
    else:
        span, curve = spec.get("span", 0), spec.get("curve", 1)
        term = "b" if curve == 1 else f"b ** {_number(curve)}"
        # a + (-x)·b and a − x·b are the same float, so the readable form is exact
        sign = "-" if span < 0 else "+"
        raw = f"{_number(start)} {sign} {_number(abs(span))} * {term}"
    ends = (schedule_value(spec, 0.0), schedule_value(spec, 1.0))  # every schedule is monotone in b
    if knob.integer:
        raw = f"round({raw})"
        ends = tuple(round(v) for v in ends)
    if min(ends) < knob.low:
        raw = f"max({_number(knob.low)}, {raw})"
    if max(ends) > knob.high:
        raw = f"min({_number(knob.high)}, {raw})"
    return f"int({raw})" if knob.integer and raw.startswith(("max", "min")) else raw


# ---------------------------------------------------------------- which parts a genome needs


class _Plan:
    """The mechanisms one probe-mode genome uses, and so the code it needs."""

    def __init__(self, g: dict[str, Any]):
        self.g = g
        knobs = g["knobs"]
        self.ema_gate, self.stable_gate, self.unanimous_gate = (name in g["gates"] for name in PROBE_GATES)
        self.drop = g["drop"] is True
        self.widen = g["widen"]
        self.refill = g["refill"] is True
        self.latest = g["signal"] == "latest"
        self.after = g["timing"] == "after"
        self.most_advanced = g["order"] == "most_advanced"
        aligned, other = knobs["burst_aligned"], knobs["burst_other"]
        self.uniform_burst = isinstance(aligned, (int, float)) and knob_value("burst_aligned", aligned, 0) == (
            knob_value("burst_other", other, 0) if isinstance(other, (int, float)) else None
        )
        cap = knobs["active_cap"]
        self.capped = not (
            isinstance(cap, (int, float)) and knob_value("active_cap", cap, 0) >= KNOBS["active_cap"].high
        )
        self.ema = self.ema_gate or self.widen in ("uncertain", "stall")
        self.warm_up = self.drop or self.ema_gate or not self.uniform_burst
        self.previous = self.stable_gate or (self.after and not self.uniform_burst)
        self.room = self.widen != "never" or self.refill

    def knobs(self) -> list[str]:
        names = ["n_init", "max_branches", "max_rounds"]
        names += ["burst_aligned", "burst_other"] if not self.uniform_burst else []
        names += ["active_cap"] if self.capped else []
        names += ["warm_up"] if self.warm_up or self.widen != "never" else []
        names += ["patience", "keep_live"] if self.drop else []
        names += ["alpha", "T_ema", "threshold"] if self.ema else []
        names += ["slack", "min_finished"] if self.ema_gate else []
        names += ["trend_threshold"] if self.widen == "stall" else []
        names += ["widen_burst"] if self.room else []
        names += ["stable_T"] if self.stable_gate else []
        names += ["window"] if self.unanimous_gate else []
        return names


def _schedule_lines(g: dict[str, Any], names: list[str], extra: dict[str, str] | None = None) -> list[str]:
    lines = ["@classmethod", "def schedule(cls, beta: float) -> dict:"]
    lines.append(f'{INDENT}"""Every knob as a monotone function of β (b = β clipped to [0, 1])."""')
    lines.append(f"{INDENT}b = min(max(beta, 0.0), 1.0)")
    lines.append(f"{INDENT}return {{")
    for name in names:
        lines.append(f'{INDENT * 2}"{name}": {schedule_expression(name, g["knobs"][name])},  # {KNOBS[name].meaning}')
    for key, expr in (extra or {}).items():
        lines.append(f'{INDENT * 2}"{key}": {expr},')
    lines.append(f"{INDENT}}}")
    return lines


# ---------------------------------------------------------------- run() bodies


def _full_run(g: dict[str, Any]) -> list[str]:
    confidence_gate, unanimous_gate = "confidence" in g["gates"], "unanimous" in g["gates"]
    lines = [
        "def run(self, episode: Episode) -> str | None:",
        "    p = self.params",
        '    batch = min(p["batch"], p["max_samples"])',
        "    answers = []",
        '    for _ in range(p["max_samples"] // batch):',
        "        read = episode.read_full(batch)  # one parallel wave of whole reads",
        "        answers.extend(read)",
    ]
    if confidence_gate:
        lines += [
            "        # stop once the leader is very probably the majority (Beta-posterior confidence)",
            "        if len(answers) >= 2:",
            "            leader, top1, top2 = vote_stats(answers)",
            '            if confidence(top1, top2) > p["threshold"]:',
            '                episode.note(stop="confident", reads=len(answers))',
            "                return leader",
        ]
    if unanimous_gate:
        lines += [
            "        # stop at the first wave whose answers all agree",
            "        if len(set(read)) == 1:",
            '            episode.note(stop="unanimous wave", reads=len(answers))',
            "            return read[0]",
        ]
    lines += ['    episode.note(stop="budget", reads=len(answers))', "    return majority(answers)"]
    return lines


def _probe_helpers(plan: _Plan) -> list[str]:
    votes = "[episode.answer(i) for i in kept]" if plan.latest else "pool"
    source = "the latest answers of the unpruned branches" if plan.latest else "the final answers of finished branches"
    lines = [
        "def open_branches(n):",
        "    for i in episode.spawn(n):",
        *(["        deviation[i] = 0"] if plan.drop else []),
        "        kept.append(i)",
        "        if episode.is_finished(i):",
        "            pool.append(episode.answer(i))",
        "",
        "def read_leader():",
        f'    """The leader among {source}, and its confidence."""',
        f"    leader, top1, top2 = vote_stats({votes})",
        "    return leader, confidence(top1, top2)",
        "",
    ]
    if plan.drop:
        lines += [
            "def drop_deviants(live, leader):",
            '    """Count rounds of disagreement with the leader; drop branches that ran out of patience."""',
            "    for i in live:",
            "        deviation[i] = deviation[i] + 1 if episode.answer(i) != leader else 0",
            '    deviants = sorted((i for i in live if deviation[i] >= p["patience"]), key=lambda i: -deviation[i])',
            '    doomed = deviants[: max(0, len(live) - p["keep_live"])]  # most deviant first',
            "    if not doomed:",
            "        return live",
            "    episode.prune(doomed)",
            "    gone = set(doomed)",
            "    kept[:] = [i for i in kept if i not in gone]",
            "    return [i for i in live if i not in gone]",
            "",
        ]
    grow_args = "live" if plan.uniform_burst else "live, leader"
    lines += [f"def grow({grow_args}):", '    """One parallel wave of depth."""']
    if plan.most_advanced:
        lines.append("    live = sorted(live, key=lambda i: -episode.intervals(i))  # most advanced first")
    if plan.capped:
        lines.append('    live = live[: p["active_cap"]]')
    if plan.uniform_burst:
        lines.append('    episode.advance(live, p["burst"])')
    else:
        lines += [
            "    # branches that agree with the leader get the longer burst",
            "    steps = [",
            '        p["burst_aligned"] if leader is not None and episode.answer(i) == leader else p["burst_other"]',
            "        for i in live",
            "    ]",
            "    episode.advance(live, steps)",
        ]
    lines.append("    pool.extend(episode.answer(i) for i in live if episode.is_finished(i))")
    return lines


def _probe_round(plan: _Plan) -> list[str]:
    ema_update = ['ema = (1 - p["alpha"]) * ema + p["alpha"] * conf']
    grow_call = "grow(live)" if plan.uniform_burst else None
    lines = []
    if plan.warm_up:
        lines.append('past_warm_up = rnd >= p["warm_up"]')
    if plan.after:
        leader_for_growth = "previous if past_warm_up else None"
        lines += [
            "# grow every live branch, then read the leader",
            "live = episode.live()",
            "if live:",
            f"    {grow_call or f'grow(live, {leader_for_growth})'}",
            "leader, conf = read_leader()",
        ]
        if plan.drop:
            lines += [
                "if past_warm_up and leader is not None:",
                "    live = episode.live()",
                "    if len(drop_deviants(live, leader)) < len(live):",
                "        leader, conf = read_leader()  # the leader without the dropped branches",
            ]
        if plan.ema:
            lines += ["# smoothed confidence", *ema_update, "emas.append(ema)"]
    else:
        lines += ["# read the leader before this round's growth", "leader, conf = read_leader()"]
        if plan.ema:
            lines += [*ema_update, "emas.append(ema)"]
        lines.append("live = episode.live()")
        if plan.drop:
            lines += ["if past_warm_up and leader is not None:", "    live = drop_deviants(live, leader)"]
        lines += ["if live:", f"    {grow_call or 'grow(live, leader if past_warm_up else None)'}"]
        lines += ["leader, conf = read_leader()  # what the wave revealed"]
        if plan.ema:
            lines += [*ema_update, "emas[-1] = ema"]
    if plan.ema:
        lines.append("momentum = emas[-1] - emas[0] if len(emas) >= 2 else 0.0")
    if plan.stable_gate:
        lines.append("stable = stable + 1 if leader == previous else 0")
    if plan.previous:
        lines.append("previous = leader")
    if plan.ema_gate:
        lines += [
            "# stop: confident, enough finished answers, and the confidence not falling",
            'if past_warm_up and len(pool) >= p["min_finished"] and ema >= p["threshold"] and momentum >= -p["slack"]:',
            '    episode.note(stop="confident", round=rnd, ema=round(ema, 4))',
            "    return leader",
        ]
    if plan.stable_gate:
        lines += [
            "# stop: the leader has not changed for a while",
            'if stable >= p["stable_T"]:',
            '    episode.note(stop="stable", round=rnd)',
            "    return leader",
        ]
    if plan.unanimous_gate:
        lines += [
            "# stop: the latest finished answers all agree",
            'if len(pool) >= p["window"] and len(set(pool[-p["window"] :])) == 1:',
            '    episode.note(stop="unanimous", round=rnd)',
            "    return pool[-1]",
        ]
    if plan.room:
        lines.append("room = max_branches - episode.opened")
    lines.append("if not episode.live():")
    if plan.refill:
        lines += [
            "    if room > 0:  # nothing left to grow: open fresh branches",
            '        open_branches(min(p["widen_burst"], room))',
            "        continue",
        ]
    lines.append("    break")
    if plan.widen != "never":
        condition = {
            "always": "",
            "uncertain": ' and ema < p["threshold"]',
            "stall": ' and ema < p["threshold"] and momentum <= p["trend_threshold"]',
        }[plan.widen]
        why = {
            "always": "every round",
            "uncertain": "while not confident",
            "stall": "when the confidence is low and not rising",
        }[plan.widen]
        lines += [
            f"# widen {why}",
            f"if room > 0 and rnd >= widen_from{condition}:",
            '    open_branches(min(p["widen_burst"], room))',
        ]
    return lines


def _probe_run(plan: _Plan) -> list[str]:
    lines = [
        "def run(self, episode: Episode) -> str | None:",
        "    p = self.params",
        '    max_branches = min(p["max_branches"], episode.max_branches)',
        "    pool = []  # final answers of finished branches, in finishing order",
        "    kept = []  # unpruned branches, in opening order",
    ]
    if plan.drop:
        lines.append("    deviation = {}  # consecutive rounds each branch disagreed with the leader")
    if plan.ema:
        lines += ['    emas = deque(maxlen=p["T_ema"])  # recent values of the smoothed confidence', "    ema = 0.0"]
    if plan.previous:
        lines.append("    previous = None")
    if plan.stable_gate:
        lines.append("    stable = 0")
    if plan.widen != "never":
        lines.append('    widen_from = max(1, p["warm_up"] // 2)  # widening starts halfway through the warm-up')
    lines.append("")
    lines += [INDENT + line if line else "" for line in _probe_helpers(plan)]
    lines += ["", '    open_branches(min(p["n_init"], max_branches))', '    for rnd in range(p["max_rounds"]):']
    lines += [INDENT * 2 + line for line in _probe_round(plan)]
    lines.append('    episode.note(stop="exhausted")')
    if plan.g["final"] == "depth":
        lines += [
            "    # depth-weighted vote: a branch's latest answer counts once per interval it has grown",
            "    weights = {}",
            "    for i in kept:",
            "        weights[episode.answer(i)] = weights.get(episode.answer(i), 0) + episode.intervals(i)",
            "    return max(weights, key=weights.get) if weights else None",
        ]
    else:
        if not plan.latest:
            lines += ["    if pool:", "        return vote_stats(pool)[0]"]
        lines.append("    return majority(episode.answer(i) for i in kept)")
    return lines


# ---------------------------------------------------------------- the description


def describe(genome: Mapping[str, Any]) -> list[str]:
    """The mechanisms of a genome, in plain words (one sentence each)."""
    g = check_genome(genome)
    if g["mode"] == "full":
        out = ["Reads branches whole, `batch` per parallel wave, up to `max_samples`, then takes the majority."]
        if "confidence" in g["gates"]:
            out.append(
                "Stops early once the Beta-posterior confidence that the leader is the majority tops `threshold`."
            )
        if "unanimous" in g["gates"]:
            out.append("Stops early at the first wave whose answers all agree.")
        return out
    plan = _Plan(g)
    signal = "the latest answers of all unpruned branches" if plan.latest else "the final answers of finished branches"
    out = [f"Opens `n_init` branches, at most `max_branches` in all; its leader and confidence come from {signal}."]
    order = "most advanced first" if plan.most_advanced else "in opening order"
    if plan.uniform_burst:
        depth = f"Each round every live branch grows `burst` intervals ({order})"
    else:
        depth = (
            f"Each round live branches grow ({order}): `burst_aligned` intervals if they agree with the leader, "
            "else `burst_other`"
        )
    out.append(depth + (", at most `active_cap` of them." if plan.capped else "."))
    if plan.after:
        out.append("The leader is read after the round's growth (Parallel-Probe order).")
    if plan.drop:
        out.append(
            "From round `warm_up`, a live branch that disagrees with the leader `patience` rounds in a row is dropped, "
            "never leaving fewer than `keep_live` live."
        )
    if plan.widen != "never":
        when = {
            "always": "every round",
            "uncertain": "while the smoothed confidence is below `threshold`",
            "stall": "while the smoothed confidence is below `threshold`, its momentum at most `trend_threshold`",
        }
        out.append(f"Widens by `widen_burst` new branches {when[plan.widen]}.")
    if plan.refill:
        out.append("When no branch is left to grow, opens `widen_burst` fresh ones instead of stopping.")
    if plan.ema_gate:
        out.append(
            "Stops once an exponential moving average (rate `alpha`) of the confidence reaches `threshold`, with "
            "`min_finished` finished answers, and has not fallen by more than `slack` over `T_ema` rounds."
        )
    if plan.stable_gate:
        out.append("Stops once the leader has stayed the same for `stable_T` rounds.")
    if plan.unanimous_gate:
        out.append("Stops once the last `window` finished answers agree.")
    if g["final"] == "depth":
        out.append("Otherwise answers with a vote of the latest answers weighted by each branch's depth.")
    else:
        out.append("Otherwise answers with its leader.")
    return out


def _knob_table(g: dict[str, Any], names: list[str]) -> list[str]:
    rows = [f"    {'knob':<16} β=0      β=0.5    β=1"]
    for name in names:
        vals = [knob_value(name, g["knobs"][name], b) for b in (0.0, 0.5, 1.0)]
        rows.append((f"    {name:<16} " + " ".join(f"{v:<8g}" for v in vals)).rstrip())
    return rows


# ---------------------------------------------------------------- the file


# the lockstep form: the structured-space controller plays the same genome (validation and the tests
# check that it decides exactly as the run() written out above)
BATCH_METHOD = [
    "def run_batch(self, batch: EpisodeBatch) -> None:",
    '    """The same policy on a lockstep batch, for speed: autotts\'s structured-space controller',
    '    plays this file\'s GENOME (validation checks that it decides exactly as run)."""',
    f"    SpaceController(self.beta, genome={GENOME_NAME}).run_batch(batch)",
]


def render_controller(
    genome: Mapping[str, Any],
    *,
    class_name: str = "EvolvedController",
    register_as: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    title: str = "A controller found by the autotts evolve search.",
) -> str:
    """The source of a controller file that runs ``genome``."""
    try:
        g = check_genome(genome)
    except GenomeError as exc:
        raise RenderError(str(exc)) from None
    if g["mode"] == "full":
        names, extra, run = ["max_samples", "batch", "threshold"], {}, _full_run(g)
    else:
        plan = _Plan(g)
        names = plan.knobs()
        extra = {"burst": schedule_expression("burst_other", g["knobs"]["burst_other"])} if plan.uniform_burst else {}
        run = _probe_run(plan)
    words = describe(g)
    doc = [title, "", "How it works:", ""]
    doc += [
        line for sentence in words for line in textwrap.wrap(sentence, 100, initial_indent="- ", subsequent_indent="  ")
    ]
    doc += ["", "Knobs at three budgets (each a closed-form schedule of β below):", "", *_knob_table(g, names)]
    if "burst" in extra:
        doc.append(
            f"    {'burst':<16} "
            + " ".join(f"{knob_value('burst_other', g['knobs']['burst_other'], b):<8g}" for b in (0, 0.5, 1)).rstrip()
        )
    if provenance:
        doc += ["", "Provenance:", ""]
        for key, value in provenance.items():
            doc += textwrap.wrap(f"{key}: {value}", 100, initial_indent="    ", subsequent_indent="        ")
    if register_as:
        imports = [
            "from ..env.batch import EpisodeBatch",
            "from ..env.core import Episode",
            "from .base import Controller, register",
            "from .space import SpaceController",
            "from .votes import confidence, majority, vote_stats",
        ]
    else:
        imports = [
            "from autotts.controllers import Controller, confidence, majority, vote_stats",
            "from autotts.controllers.space import SpaceController",
            "from autotts.env import Episode, EpisodeBatch",
        ]
    stdlib = ["from collections import deque", ""] if g["mode"] == "probe" and _Plan(g).ema else []
    class_lines = ['"""The mechanisms above, with every knob derived from β."""', ""]
    class_lines += _schedule_lines(g, names, extra) + [""] + run + [""] + BATCH_METHOD
    out = ['"""' + "\n".join(doc).rstrip() + '\n"""', "", "from __future__ import annotations", ""]
    out += (
        stdlib
        + imports
        + ["", "# the point of autotts.controllers.space this file was rendered from (read back by the search)"]
    )
    out += [f"{GENOME_NAME} = " + pprint.pformat(g, width=100, sort_dicts=True), "", ""]
    if register_as:
        out.append(f'@register("{register_as}")')
    out.append(f"class {class_name}(Controller):")
    out += [INDENT + line if line else "" for line in class_lines]
    return "\n".join(out) + "\n"


def genome_from_source(source: str) -> dict[str, Any]:
    """The genome a rendered file carries (its ``GENOME = {...}`` literal), checked."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise RenderError(f"not Python: {exc}") from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == GENOME_NAME for t in node.targets):
            try:
                return check_genome(ast.literal_eval(node.value))
            except (ValueError, GenomeError) as exc:
                raise RenderError(f"{GENOME_NAME} is not a valid genome: {exc}") from None
    raise RenderError(f"no {GENOME_NAME} constant")
