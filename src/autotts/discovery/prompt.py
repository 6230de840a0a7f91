"""The proposer prompt: the task (of the discovery loop) and the history digest.

LLM proposers (openai, anthropic) receive :func:`build_prompt`'s text as their user message; agent
proposers (claude-code, command) find the same task in the workspace's README.md and read the
history files themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .. import controllers
from .history import curve_table
from .records import RoundInfo
from .runfolder import RunFolder, read_csv

SYSTEM_PROMPT = (
    "You are a research engineer who designs test-time-scaling controllers for reasoning models. "
    "You write one complete, self-contained Python file per answer."
)


def task_statement(*, beta_rule: bool, traces: bool, betas: Sequence[float], stores: Sequence[str], agent: bool) -> str:
    """What every proposer is asked to do (the rules the validator will enforce, and the goal)."""
    knob = (
        "- **One knob.** The constructor takes β and nothing else: `def __init__(self, beta: float = 1.0)` "
        "(call `super().__init__(beta)`). Every hyperparameter is derived from β in the classmethod "
        "`schedule(beta) -> dict`, a pure function of β (no randomness, no state; JSON-serialisable values)."
        if beta_rule
        else "- **Knobs.** The constructor takes β (first argument) and may take other hyperparameters with "
        "defaults; `schedule(beta) -> dict` still returns every hyperparameter's value for a given β."
    )
    deliver = (
        "Write the file `candidate.py` in this folder. You may run `./evaluate candidate.py --seeds 10` to "
        "score a draft on the search stores (it validates the file first and prints the reason if invalid). "
        "Read `API.md`, `baselines/` and `history/` first."
        if agent
        else "Answer with the complete file in one fenced ```python block and a few sentences on what you "
        "changed and why. Nothing outside the block is used."
    )
    traces_line = (
        "- **Use the traces.** The history shows, per question, the actions each earlier controller took and "
        "whether its answer was right, plus full traces of wrong or expensive episodes. Explain the failures "
        "you see there (stopped too early on a wrong majority? kept reading after the answer was settled? "
        "pruned the branch that was right?) and design against them."
        if traces
        else "- **Use the history.** Earlier rounds' code and scaling curves show what worked; build on them."
    )
    grid = ", ".join(f"{b:g}" for b in betas)
    api = ", ".join(controllers.__all__)
    return f"""# Task: design a test-time-scaling controller

A controller plays one question of a *replay store*: a pool of pre-sampled reasoning branches of a
model, each cut into intervals of Δ tokens with the intermediate answer after every interval. It
decides how many branches to open (width), how far to advance each (depth), which to prune, when to
stop and what to answer. Accuracy is the share of questions answered right; cost is the tokens spent.
The goal is the best accuracy–cost trade-off over β: more accuracy per token at every β, and at β = 1
more accuracy than the baselines (self-consistency over 64 branches, CMC, ...).

Your controller is evaluated on the search stores ({", ".join(stores)}) over β ∈ {{{grid}}}, then chosen
rounds are judged on held-out questions you never see, so it must generalise: no tuning to single
questions.

Rules (a file that breaks one is rejected with the reason, and the round is lost):
- One file, one class subclassing `autotts.controllers.Controller`, implementing `run(self, episode)`
  which returns the answer string (or None).
{knob}
- **Monotone budget.** Larger β must never spend fewer tokens on average (a small tolerance applies):
  β is the budget knob, from frugal (β = 0) to generous (β = 1).
- **64 branches is a ceiling, not a target.** `episode.remaining` says how many more branches may be
  opened; good controllers stop early when the answer is settled.
- **Imports:** only `math`, `statistics`, `collections`, `itertools`, `functools`, `heapq`, `bisect`,
  `dataclasses`, `typing`, `enum`, `abc`, `numpy`, `scipy`, and `from autotts.controllers import
  {api}`. (The baselines' sources use the package's relative imports; a candidate file cannot.)
- **Optional speed-up:** besides `run`, a class may implement `run_batch(self, batch)`, the same
  policy played on all seeds and questions at once with numpy (see the API notes and `cmc.py`).
  Evaluation then runs several times faster. It must decide exactly as `run` in every episode
  (validation compares them); when in doubt, leave it out.
- **No oracle signals.** Use only the episode's public observations (answers revealed so far, branch
  states, costs). No private attributes (`episode._anything`), no dunder attributes, no
  `getattr`/`eval`/`exec`/`open`, no file, network or process access: the code runs in a sandbox
  that has no gold answers, and any such attempt fails the round.
- **Novelty.** Do not resubmit a baseline or an earlier round with cosmetic changes; combine and
  invent mechanisms (when to widen, when to deepen, how to weigh agreement, when to stop).
{traces_line}

{deliver}
"""


def history_digest(folder: RunFolder, rounds: Sequence[int], *, traces: bool, whole_rounds: int = 3) -> str:
    """Baseline curves, a line per earlier round, and the last ``whole_rounds`` rounds in full (code,
    validation verdict, results, trace digest)."""
    parts = ["# Baselines on the search stores (mean over stores)", ""]
    baseline_csv = folder.baselines_dir / "results.csv"
    if baseline_csv.is_file():
        rows = read_csv(baseline_csv)
        for name in dict.fromkeys(str(r["controller"]) for r in rows):
            parts += [f"## {name}", curve_table([r for r in rows if r["controller"] == name]), ""]
    if not rounds:
        parts.append("# Earlier rounds\n\nNone yet: this is the first round.\n")
        return "\n".join(parts)
    parts += ["# Earlier rounds", ""]
    for number in rounds:
        info = RoundInfo.read_optional(folder.round_dir(number))
        if info is not None and info.valid and info.search is not None:
            line = (
                f"- round {number}: valid; accuracy at β=1 {info.search.accuracy_at_max_beta:.2f}%, "
                f"tokens {info.search.tokens_at_max_beta:,.0f}, area {info.search.area_under_curve:.2f}"
            )
        else:
            status = info.status if info else "unknown"
            line = f"- round {number}: {status}: {(info.reason if info else '')[:300]}"
        parts.append(line)
    parts.append("")
    for number in list(rounds)[-whole_rounds:]:
        parts += _round_section(folder.round_dir(number), number, traces)
    return "\n".join(parts)


def _round_section(round_dir: Path, number: int, traces: bool) -> list[str]:
    info = RoundInfo.read_optional(round_dir)
    parts = [f"## Round {number} ({info.status if info else 'unknown'})", ""]
    if info is not None and info.reason:
        parts += [f"Verdict: {info.reason}", ""]
    candidate = round_dir / "candidate.py"
    if candidate.is_file():
        parts += ["```python", candidate.read_text(encoding="utf-8").rstrip(), "```", ""]
    results = round_dir / "results.csv"
    if results.is_file():
        parts += ["Results (mean over search stores):", "", curve_table(read_csv(results)), ""]
    digest = round_dir / "traces.md"
    if traces and digest.is_file():
        parts += ["Trace digest:", "", digest.read_text(encoding="utf-8"), ""]
    return parts


def build_prompt(task: str, digest: str, api: str, reference_source: str) -> str:
    """The full user message of an LLM proposer."""
    return "\n\n".join(
        [
            task,
            api,
            "# Reference: the CMC controller's source (a strong baseline)\n\n```python\n"
            + reference_source.rstrip()
            + "\n```",
            digest,
        ]
    )
