"""The proposer's workspace: only what a proposer may see, rebuilt before every round.

Layout::

    README.md            the task (the same text an LLM proposer receives as its prompt)
    API.md               the controller and episode interface, generated from the code's docstrings
    baselines/*.py       source of the built-in baselines and CMC
    baselines/results.csv, baselines/traces_<name>.md   their results and trace digests (search stores)
    history/summary.md   one line per earlier round
    history/round_NNN/   candidate.py, validation.json, results.csv, curve.png, traces.md of each round
    evaluate             `./evaluate [FILE] [--seeds N] [--betas 0,0.5,1]`: evaluates a draft on the
                         search stores (the request is served by the discovery loop, outside the
                         proposer's reach; the workspace itself holds no store)
    candidate.py         the file to write (absent at the start of a round)

Held-out stores, held-out results (``heldout.csv``), gold answers and the autotts source outside the
controller API are never copied here: history files are copied from an explicit allow-list.
"""

from __future__ import annotations

import inspect
import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from .. import controllers
from ..controllers import asc, base, cmc, esc, parallel_probe, sac, sc, short_m, votes
from ..env import batch, core
from .records import RoundInfo
from .runfolder import RunFolder, write_atomic

HISTORY_FILES = ("candidate.py", "validation.json", "results.csv", "curve.png", "traces.md")
BASELINE_MODULES = (sc, asc, esc, parallel_probe, sac, short_m, cmc)
EPISODE_MEMBERS = (
    "spawn",
    "advance",
    "read_full",
    "prune",
    "note",
    "opened",
    "remaining",
    "answer",
    "history",
    "is_live",
    "is_finished",
    "is_pruned",
    "intervals",
    "branch_tokens",
    "live",
    "finished",
    "unpruned",
)
BATCH_MEMBERS = (
    "spawn",
    "advance",
    "read_full",
    "prune",
    "stop",
    "compact",
    "live",
    "unpruned",
    "vote_stats",
    "tally",
    "majority",
)
REQUESTS, RESULTS = ".eval/requests", ".eval/results"


# ---------------------------------------------------------------------- API documentation


def _member_doc(owner: object, name: str) -> str:
    member = inspect.getattr_static(owner, name)
    if isinstance(member, property):
        return f"- `{name}` (property): {inspect.getdoc(member) or ''}"
    target = member.__func__ if isinstance(member, classmethod | staticmethod) else member
    try:
        # annotations are strings under `from __future__ import annotations`: show them unquoted
        signature = str(inspect.signature(target)).replace("'", "").replace("(self, ", "(").replace("(self)", "()")
        signature = signature.replace("(cls, ", "(").replace("(cls)", "()")
    except (TypeError, ValueError):
        signature = ""
    doc = inspect.getdoc(target) or ""
    return f"- `{name}{signature}`: {doc}"


def api_documentation() -> str:
    """Markdown of the controller API, built from the docstrings (so it never drifts from the code)."""
    parts = [
        "# Controller API",
        "",
        "A candidate is one Python file defining one subclass of `autotts.controllers.Controller`.",
        f"Import what it needs from `autotts.controllers`: {', '.join(f'`{n}`' for n in controllers.__all__)} "
        "(nothing else of autotts may be imported).",
        "",
        "## The episode (`autotts.env.core.Episode`)",
        "",
        inspect.getdoc(core) or "",
        "",
        inspect.getdoc(core.Episode) or "",
        "",
        "Attributes: `tokens`, `latency_tokens` (costs so far), `max_branches` (the ceiling), "
        "`probe_freq` (tokens per interval), `seed`, `trace`.",
        "",
    ]
    parts += [_member_doc(core.Episode, name) for name in EPISODE_MEMBERS]
    parts += [
        "",
        f"`EpisodeError`: {inspect.getdoc(core.EpisodeError)}",
        "",
        "## The controller base class (`autotts.controllers.Controller`)",
        "",
        inspect.getdoc(base) or "",
        "",
        inspect.getdoc(base.Controller) or "",
        "",
    ]
    parts += [_member_doc(base.Controller, name) for name in ("__init__", "schedule", "run", "describe")]
    parts += [
        "",
        _member_doc(base, "budget_k"),
        "",
        "## Votes (`autotts.controllers.votes`, re-exported by `autotts.controllers`)",
        "",
        inspect.getdoc(votes) or "",
        "",
    ]
    parts += [_member_doc(votes, name) for name in ("majority", "vote_stats", "confidence", "count")]
    parts += [
        "",
        "## Optional, for speed: lockstep batches (`from autotts.env import EpisodeBatch`)",
        "",
        _member_doc(base.Controller, "run_batch"),
        "",
        inspect.getdoc(batch) or "",
        "",
        inspect.getdoc(batch.EpisodeBatch) or "",
        "",
    ]
    parts += [_member_doc(batch.EpisodeBatch, name) for name in BATCH_MEMBERS]
    parts += ["", _member_doc(votes, "confidence_rows"), ""]
    parts += ["The built-ins get `run_batch` from the structured space's lockstep interpreter (`controllers.space`)."]
    return "\n".join(parts).rstrip() + "\n"


# ---------------------------------------------------------------------- building


EVALUATE_SCRIPT = '''#!/usr/bin/env python3
"""Evaluate a draft controller on the search stores.

Usage: ./evaluate [FILE] [--seeds N] [--betas 0,0.5,1]     (defaults: candidate.py, 10 seeds, 0,0.5,1)

The request is served by the discovery loop outside your workspace: it validates the file, runs it in
the sandbox on the search stores and prints accuracy and tokens per beta and store. Allow a minute.
"""
import json, os, sys, time, uuid

args = sys.argv[1:]
request = {"file": "candidate.py", "seeds": 10, "betas": [0.0, 0.5, 1.0]}
i = 0
while i < len(args):
    if args[i] == "--seeds" and i + 1 < len(args):
        request["seeds"] = int(args[i + 1]); i += 2
    elif args[i] == "--betas" and i + 1 < len(args):
        request["betas"] = [float(b) for b in args[i + 1].split(",") if b.strip()]; i += 2
    elif args[i] in ("-h", "--help"):
        print(__doc__); sys.exit(0)
    else:
        request["file"] = args[i]; i += 1
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(os.getcwd(), request["file"])
if not os.path.isfile(path):
    sys.exit(f"evaluate: no such file {request['file']}")
request["source"] = open(path, encoding="utf-8").read()
name = uuid.uuid4().hex
requests, results = os.path.join(here, "REQUESTS"), os.path.join(here, "RESULTS")
tmp = os.path.join(requests, "." + name + ".tmp")
with open(tmp, "w", encoding="utf-8") as handle:
    json.dump(request, handle)
os.replace(tmp, os.path.join(requests, name + ".json"))
answer = os.path.join(results, name + ".txt")
deadline = time.time() + TIMEOUT
while time.time() < deadline:
    if os.path.exists(answer):
        text = open(answer, encoding="utf-8").read()
        print(text)
        sys.exit(0 if text.startswith("OK") else 1)
    time.sleep(0.2)
sys.exit("evaluate: no answer in time (is the discovery loop running?)")
'''


class Workspace:
    """Builds the workspace folder of one round."""

    def __init__(self, root: Path, *, traces: bool, task: str, eval_timeout: float = 900.0):
        self.root = Path(root)
        self.traces = traces
        self.task = task
        self.eval_timeout = eval_timeout

    @property
    def candidate(self) -> Path:
        return self.root / "candidate.py"

    def build(self, folder: RunFolder, rounds: list[int]) -> Path:
        """Fresh workspace with the history of ``rounds`` (finished rounds, oldest first)."""
        if self.root.exists():
            shutil.rmtree(self.root)
        (self.root / "baselines").mkdir(parents=True)
        (self.root / "history").mkdir()
        write_atomic(self.root / "README.md", self.task)
        write_atomic(self.root / "API.md", api_documentation())
        for module in BASELINE_MODULES:
            source = Path(inspect.getsourcefile(module) or "")
            shutil.copyfile(source, self.root / "baselines" / source.name)
        for item in sorted(folder.baselines_dir.glob("*")) if folder.baselines_dir.exists() else []:
            allowed = item.name == "results.csv" or (self.traces and item.name.startswith("traces_"))
            if allowed and item.is_file():
                shutil.copyfile(item, self.root / "baselines" / item.name)
        summary = ["# Earlier rounds", "", "round | status | reason / search figures", "---|---|---"]
        for number in rounds:
            source = folder.round_dir(number)
            target = self.root / "history" / f"round_{number:03d}"
            target.mkdir()
            for name in HISTORY_FILES:
                if name == "traces.md" and not self.traces:
                    continue
                if (source / name).is_file():
                    shutil.copyfile(source / name, target / name)
            summary.append(_summary_line(source, number))
        write_atomic(self.root / "history" / "summary.md", "\n".join(summary) + "\n")
        script = EVALUATE_SCRIPT.replace("REQUESTS", REQUESTS).replace("RESULTS", RESULTS)
        write_atomic(self.root / "evaluate", script.replace("TIMEOUT", str(float(self.eval_timeout))))
        (self.root / "evaluate").chmod(0o755)
        (self.root / REQUESTS).mkdir(parents=True)
        (self.root / RESULTS).mkdir(parents=True)
        return self.root


def _summary_line(round_dir: Path, number: int) -> str:
    info = RoundInfo.read_optional(round_dir)
    if info is None:
        return f"{number} | unknown | (no record)"
    search = info.search
    if info.valid and search is not None:
        text = (
            f"accuracy at β={search.max_beta:g}: {search.accuracy_at_max_beta:.2f}%, "
            f"tokens {search.tokens_at_max_beta:,.0f}, area under curve {search.area_under_curve:.2f}"
        )
        if search.saving_vs_sc64 is not None:
            text += f", saving vs SC@64 at its accuracy {100 * search.saving_vs_sc64:.1f}%"
    else:
        text = info.reason.replace("\n", " ")[:300]
    return f"{number} | {info.status} | {text}"


# ---------------------------------------------------------------------- evaluate requests


class EvaluationBroker:
    """Serves ``./evaluate`` requests from the workspace while a proposer runs.

    ``serve(source, seeds, betas) -> str`` does the work (validation and sandboxed evaluation on the
    search stores) in this process, so the proposer's process never needs the stores."""

    def __init__(self, workspace: Path, serve: Callable[[str, int, list[float]], str], poll: float = 0.2):
        self.requests = Path(workspace) / REQUESTS
        self.results = Path(workspace) / RESULTS
        self.serve = serve
        self.poll = poll
        self.served = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> EvaluationBroker:
        self._thread = threading.Thread(target=self._loop, name="evaluate-broker", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for request in sorted(self.requests.glob("*.json")) if self.requests.is_dir() else []:
                self._handle(request)
            self._stop.wait(self.poll)

    def _handle(self, request: Path) -> None:
        try:
            data = json.loads(request.read_text(encoding="utf-8"))
            seeds = max(1, min(int(data.get("seeds", 10)), 100))
            betas = [min(max(float(b), 0.0), 1.0) for b in data.get("betas", [0.0, 0.5, 1.0])][:11]
            text = self.serve(str(data["source"]), seeds, betas or [1.0])
        except Exception as exc:  # a malformed request must not stop the broker
            text = f"ERROR: {type(exc).__name__}: {exc}"
        request.unlink(missing_ok=True)
        self.served += 1
        write_atomic(self.results / f"{request.stem}.txt", text)
