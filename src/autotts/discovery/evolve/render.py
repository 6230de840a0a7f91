"""Write a genome as a controller file that is data: the genome, a plain-language explanation, and a
three-line subclass of :class:`~autotts.controllers.space.SpaceController` whose interpreters play it.

No policy code is generated: ``run`` is the space's scalar interpreter and ``run_batch`` its lockstep
one, so a rendered candidate decides exactly as the genome by construction. The file still goes
through the static screen, validation and the OS sandbox like any proposal (it is Python that
imports only ``autotts.controllers.space``); the search reads its own earlier candidates back from
the ``GENOME = {...}`` literal (:func:`genome_from_source`). With ``builtin`` it is written for the
package instead (a relative import), which is how ``controllers/evo.py`` is made.
"""

from __future__ import annotations

import ast
import pprint
import textwrap
from collections.abc import Mapping
from typing import Any

from ...controllers.space import CHOICES, KNOBS, MODE_KNOBS, PROBE_GATES, GenomeError, check_genome, knob_value

GENOME_NAME = "GENOME"

#: the title of the shipped ``evo`` file (``benchmarks/run_evo_search.py --render``)
EVO_TITLE = (
    "evo: the controller found by autotts's LLM-free evolve search, shipped as `--controller evo`.\n\n"
    "It is a point of the structured space in autotts.controllers.space, stored as data (GENOME below) that\n"
    "the space's interpreters play; it was selected on the search stores (aime24, four models) only, never\n"
    "on held-out data."
)


class RenderError(ValueError):
    """A source file whose genome cannot be read back."""


def schedule_text(spec: Any) -> str:
    """A schedule in words a reader can evaluate: ``2 + 6·β``, ``1·64^β``, ``3``."""
    if not isinstance(spec, Mapping):
        return f"{spec:g}"
    start = spec["start"]
    if "ratio" in spec:
        return f"{start:g}·{spec['ratio']:g}^β"
    span, curve = spec.get("span", 0), spec.get("curve", 1)
    term = "β" if curve == 1 else f"β^{curve:g}"
    return f"{start:g} {'-' if span < 0 else '+'} {abs(span):g}·{term}"


def used_knobs(g: dict[str, Any]) -> list[str]:
    """The knobs a checked genome's mechanisms read (a genome may carry others that never bind)."""
    if g["mode"] == "full":
        return list(MODE_KNOBS["full"])
    ema_gate, stable_gate, unanimous_gate = (name in g["gates"] for name in PROBE_GATES)
    names = ["n_init", "max_branches", "max_rounds", "burst_aligned", "burst_other", "active_cap", "warm_up"]
    names += ["patience", "keep_live"] if g["drop"] else []
    names += ["alpha", "T_ema", "threshold"] if ema_gate or g["widen"] in ("uncertain", "stall") else []
    names += ["slack", "min_finished"] if ema_gate else []
    names += ["trend_threshold"] if g["widen"] == "stall" else []
    names += ["split_threshold"] if g["widen"] == "split" else []
    names += ["widen_burst"] if g["widen"] != "never" or g["refill"] else []
    names += ["stable_T"] if stable_gate else []
    names += ["window"] if unanimous_gate else []
    names += ["length_horizon"] if g["final"] == "short" else []
    return names


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
    latest = g["signal"] == "latest"
    signal = "the latest answers of all unpruned branches" if latest else "the final answers of finished branches"
    out = [f"Opens `n_init` branches, at most `max_branches` in all; its leader and confidence come from {signal}."]
    order = "most advanced first" if g["order"] == "most_advanced" else "in opening order"
    out.append(
        f"Each round live branches grow ({order}): `burst_aligned` intervals if they agree with the leader, "
        "else `burst_other`, at most `active_cap` of them."
    )
    if g["timing"] == "after":
        out.append("The leader is read after the round's growth (Parallel-Probe order).")
    if g["drop"]:
        out.append(
            "From round `warm_up`, a live branch that disagrees with the leader `patience` rounds in a row is dropped, "
            "never leaving fewer than `keep_live` live."
        )
    when = {
        "always": "every round",
        "uncertain": "while the smoothed confidence is below `threshold`",
        "stall": "while the smoothed confidence is below `threshold`, its momentum at most `trend_threshold`",
        "split": "while the probes are split: the confidence of all unpruned branches' latest answers is below "
        "`split_threshold` (a hard question shows early, before any branch finishes)",
    }
    if g["widen"] != "never":
        out.append(f"Widens by `widen_burst` new branches {when[g['widen']]}.")
    if g["refill"]:
        out.append("When no branch is left to grow, opens `widen_burst` fresh ones instead of stopping.")
    if "ema" in g["gates"]:
        out.append(
            "Stops once an exponential moving average (rate `alpha`) of the confidence reaches `threshold`, with "
            "`min_finished` finished answers, and has not fallen by more than `slack` over `T_ema` rounds."
        )
    if "stable" in g["gates"]:
        out.append("Stops once the leader has stayed the same for `stable_T` rounds.")
    if "unanimous" in g["gates"]:
        out.append("Stops once the last `window` finished answers agree.")
    if g["final"] == "short":
        out.append(
            "Whenever it stops, answers with a vote of the finished branches weighted towards short ones: each "
            "weighs `length_horizon` minus its length in intervals, at least 1 (shorter reasoning is more often "
            "right); with nothing finished, with its leader."
        )
    elif g["final"] == "depth":
        out.append("Otherwise answers with a vote of the latest answers weighted by each branch's depth.")
    else:
        out.append("Otherwise answers with its leader.")
    return out


def genome_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """What changed from ``before`` to ``after``, in one line: choices, gates, and the schedules of the
    knobs ``after`` reads (``"nothing"`` when they behave the same by construction)."""
    a, b = check_genome(before), check_genome(after)
    changes = [f"{name} {a.get(name)}→{b.get(name)}" for name in ("mode", *CHOICES) if a.get(name) != b.get(name)]
    if a["gates"] != b["gates"]:
        changes.append(f"gates {'+'.join(a['gates']) or 'none'}→{'+'.join(b['gates']) or 'none'}")
    for name in used_knobs(b):
        old, new = a["knobs"].get(name), b["knobs"][name]
        if old != new:
            changes.append(f"{name} {'-' if old is None else schedule_text(old)}→{schedule_text(new)}")
    return "; ".join(changes) or "nothing"


def knob_table(g: dict[str, Any]) -> list[str]:
    """One line per knob the genome reads: its schedule, its value at β = 0, 0.5 and 1, its meaning."""
    rows = [f"{'knob':<16} {'schedule':<22} β=0      β=0.5    β=1      meaning"]
    for name in used_knobs(g):
        spec = g["knobs"][name]
        values = " ".join(f"{knob_value(name, spec, b):<8g}" for b in (0.0, 0.5, 1.0))
        line = f"{name:<16} {schedule_text(spec):<22} {values} {KNOBS[name].meaning}"
        rows += textwrap.wrap(line, 116, subsequent_indent=" " * 67)  # 116: the docstring indents by 4
    return rows


def render_controller(
    genome: Mapping[str, Any],
    *,
    class_name: str = "EvolvedController",
    builtin: bool = False,
    provenance: Mapping[str, Any] | None = None,
    title: str = "A controller found by the autotts evolve search.",
) -> str:
    """The source of a controller file that is ``genome``, explained."""
    try:
        g = check_genome(genome)
    except GenomeError as exc:
        raise RenderError(str(exc)) from None
    doc = [title, "", "How it works:", ""]
    for sentence in describe(g):
        doc += textwrap.wrap(sentence, 100, initial_indent="- ", subsequent_indent="  ")
    doc += ["", "Knobs (each a schedule of β, clipped to its range; integers rounded):", ""]
    doc += ["    " + row.rstrip() for row in knob_table(g)]
    if provenance:
        doc += ["", "Provenance:", ""]
        for key, value in provenance.items():
            doc += textwrap.wrap(f"{key}: {value}", 100, initial_indent="    ", subsequent_indent="        ")
    if builtin:
        imports = ["from .space import SpaceController"]
    else:
        imports = ["from autotts.controllers.space import SpaceController"]
    out = ['"""' + "\n".join(doc).rstrip() + '\n"""', "", "from __future__ import annotations", "", *imports, ""]
    out += ["# the point of the structured space this controller is (read back by the search)"]
    out += [f"{GENOME_NAME} = " + pprint.pformat(g, width=100, sort_dicts=True), "", ""]
    out += [
        f"class {class_name}(SpaceController):",
        '    """GENOME, played by the space\'s interpreters: run() the scalar one, run_batch() the lockstep one."""',
        "",
        f"    GENOME = {GENOME_NAME}",
    ]
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
