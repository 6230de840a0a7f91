"""The discovery loop: propose → validate → evaluate in the sandbox → record, round after round.

Every step is journaled in the run folder (see :mod:`autotts.discovery.runfolder`), so a run killed
at any moment resumes where it stopped: finished rounds are never redone, an interrupted round is
redone from its last saved proposal (so a paid-for proposal is not bought twice).
"""

from __future__ import annotations

import inspect
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..controllers import cmc
from ..data import split_stores, store_path
from ..evaluation import Cell, CellResult, ControllerSpec, blocks_in, grid
from ..evaluation.runner import describe_difference, episode_differences
from ..evaluation.summary import mean_over_stores
from ..sandbox import SandboxError, SandboxPool
from . import plots
from .history import DigestLimits, informative_records, trace_digest
from .prompt import build_prompt, history_digest, task_statement
from .proposers import DEFAULT_PROPOSER, Proposal, ProposalRequest, Proposer, ProposerOptions, RoundRecord
from .records import Figures, Reference, RoundInfo, RunSummary, choose_round, read_rounds
from .runfolder import (
    RESULT_COLUMNS,
    RunFolder,
    file_sha256,
    read_csv,
    read_json,
    rows_to_csv,
    write_atomic,
    write_json,
)
from .sandboxing import candidate_pool, check_candidate, run_candidate_cells, run_trusted_cells, stopped
from .selection import frontier_figures
from .workspace import EvaluationBroker, Workspace, api_documentation

DEFAULT_BETAS = tuple(round(0.1 * i, 1) for i in range(11))
DEFAULT_BASELINES = ("sc", "asc", "esc", "parallel-probe", "cmc")


@dataclass
class DiscoveryConfig:
    """Everything that defines a run (saved in run.json; ``--resume`` reads it back)."""

    proposer: str = DEFAULT_PROPOSER
    rounds: int = 5
    betas: tuple[float, ...] = DEFAULT_BETAS
    seeds: int = 100
    search_stores: tuple[str, ...] = field(default_factory=lambda: split_stores("search"))
    heldout_stores: tuple[str, ...] = field(default_factory=lambda: split_stores("heldout"))
    beta_rule: bool = True
    traces: bool = True
    model: str | None = None
    base_url: str | None = None
    command: str | None = None
    max_usd: float | None = None
    jobs: int | None = None
    seed: int = 0
    repairs: int = 2  # extra attempts per round after a validation failure
    max_turns: int = 30
    agent_sandbox: str = "auto"
    prices: str | None = None
    baselines: tuple[str, ...] = DEFAULT_BASELINES
    baseline_seeds: int = 20  # the baselines' curves in the workspace (capped at ``seeds``)
    trace_seeds: int = 1  # seeds of the trace pass the digests are made from
    selection: str = "accuracy"
    heldout: bool = True  # judge every valid round on the held-out stores (for the report only)
    proposer_extra: dict[str, Any] = field(default_factory=dict)  # e.g. the evolve round budget

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DiscoveryConfig:
        known = {f.name for f in fields(cls)}
        values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
        return cls(**values)

    def proposer_options(self) -> ProposerOptions:
        return ProposerOptions(
            model=self.model,
            base_url=self.base_url,
            command=self.command,
            max_turns=self.max_turns,
            prices=Path(self.prices) if self.prices else None,
            sandbox=self.agent_sandbox,
            search_stores=tuple(self.search_stores),
            betas=tuple(self.betas),
            seeds=self.seeds,
            jobs=self.jobs,
            beta_rule=self.beta_rule,
            seed=self.seed,
            extra=dict(self.proposer_extra),
        )


class Reporter:
    """How the loop talks to its user; the default is silent (the CLI passes a rich one)."""

    def message(self, text: str) -> None:
        pass

    def progress(self, description: str, total: int) -> AbstractContextManager[Callable[..., None]]:
        @contextmanager
        def silent() -> Iterator[Callable[..., None]]:
            yield lambda n=1: None

        return silent()


class BudgetExhausted(RuntimeError):
    pass


def store_checksums(names: Sequence[str]) -> dict[str, str]:
    return {name: file_sha256(store_path(name)) for name in names}


def result_rows(results: Sequence[CellResult]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        low, high = r.accuracy_ci
        rows.append(
            {
                "controller": r.controller,
                "beta": r.beta,
                "store": r.store,
                "accuracy": round(r.accuracy, 4),
                "ci_low": round(low, 4),
                "ci_high": round(high, 4),
                "tokens": round(r.mean_tokens, 3),
                "latency_tokens": round(r.mean_latency, 3),
                "seeds": r.seeds,
                "questions": r.questions,
                "errors": len(r.failures),
            }
        )
    return rows


def _first_disagreement(traced: Sequence[CellResult], evaluated: Sequence[CellResult]) -> str:
    """Where the trace pass (run) and the evaluation (run_batch when the file has one) differ, or ''."""
    by_cell = {(r.beta, r.store): r for r in evaluated}
    for run in traced:
        lockstep = by_cell.get((run.beta, run.store))
        differs = episode_differences(run, lockstep) if lockstep is not None else []
        if differs:
            return (
                f"run_batch and run disagree in {len(differs)} of the {run.seeds * run.questions} traced episodes; "
                f"first: {describe_difference(run, lockstep, differs[0])}"
            )
    return ""


class DiscoveryLoop:
    def __init__(
        self, folder: RunFolder, config: DiscoveryConfig, proposer: Proposer, reporter: Reporter | None = None
    ):
        self.folder = folder
        self.config = config
        self.proposer = proposer
        self.reporter = reporter or Reporter()

    # ------------------------------------------------------------------ the run

    def run(self) -> dict[str, Any]:
        self.folder.log_event("session_started")
        state = self.folder.state()
        if state.finished_rounds or state.saved_proposals or state.baselines_done:
            self.folder.log_event("run_resumed", rounds_done=sorted(state.finished_rounds))
        if not state.baselines_done:
            self.evaluate_baselines()
        for number in range(1, self.config.rounds + 1):
            if number in self.folder.state().finished_rounds:
                continue
            try:
                self.run_round(number)
            except BudgetExhausted as exc:
                self.folder.log_event("budget_exhausted", round=number, spent_usd=self.spent_usd())
                self.reporter.message(str(exc))
                shutil.rmtree(self.folder.round_dir(number), ignore_errors=True)  # nothing was proposed
                break
        return self.finish()

    def spent_usd(self, extra: float = 0.0) -> float:
        rounds = read_rounds(self.folder.root, self.folder.state().finished_rounds)
        return extra + sum(r.cost_usd for r in rounds)

    # ------------------------------------------------------------------ baselines

    def evaluate_baselines(self) -> None:
        cfg = self.config
        seeds = max(1, min(cfg.baseline_seeds, cfg.seeds))
        specs = [ControllerSpec(name) for name in cfg.baselines]
        cells = grid(specs, cfg.betas, cfg.search_stores, seeds)
        results = self._trusted(cells, "baselines on the search stores")
        out = self.folder.baselines_dir
        write_atomic(out / "results.csv", rows_to_csv(result_rows(results), ("controller", *RESULT_COLUMNS)))
        # trace digests are written even with --no-traces (the workspace then leaves them out)
        traced = self._trusted(grid(specs, cfg.betas, cfg.search_stores, cfg.trace_seeds), "baseline traces", True)
        limits = DigestLimits(betas_shown=1, full_traces=2)
        for spec in specs:
            mine = [r for r in traced if r.controller == spec.ref]
            write_atomic(out / f"traces_{spec.ref}.md", trace_digest(mine, cfg.betas, limits))
        if cfg.heldout and cfg.heldout_stores:
            refs = [ControllerSpec("sc"), ControllerSpec("cmc")]
            held = self._trusted(grid(refs, [1.0], cfg.heldout_stores, cfg.seeds), "SC@64 and CMC on held-out")
            search = self._trusted(grid(refs, [1.0], cfg.search_stores, cfg.seeds), "SC@64 and CMC on search")
            columns = ("controller", *RESULT_COLUMNS)
            write_atomic(out / "heldout.csv", rows_to_csv(result_rows(held), columns))
            write_atomic(out / "reference_search.csv", rows_to_csv(result_rows(search), columns))
        self.folder.log_event("baselines_done")

    def _trusted(self, cells: list[Cell], what: str, traces: bool = False) -> list[CellResult]:
        with self.reporter.progress(what, blocks_in(cells)) as advance:
            return run_trusted_cells(cells, jobs=self.config.jobs, want_traces=traces, on_block=lambda _b: advance())

    def _sandboxed(self, pool: SandboxPool, cells: list[Cell], what: str, traces: bool = False) -> list[CellResult]:
        with self.reporter.progress(what, blocks_in(cells)) as advance:
            return pool.evaluate(cells, want_traces=traces, on_block=lambda _b: advance())

    def reference(self, split: str) -> dict[str, dict[str, float]]:
        """SC@64 and CMC (β = 1) means on a split, ``{"sc": {"accuracy", "tokens"}, "cmc": ...}``."""
        name = "heldout.csv" if split == "heldout" else "reference_search.csv"
        path = self.folder.baselines_dir / name
        if not path.is_file():
            return {}
        rows = read_csv(path)
        out = {}
        for controller in ("sc", "cmc"):
            mine = [r for r in rows if r["controller"] == controller]
            if mine:
                out[controller] = {
                    "accuracy": mean_over_stores(float(r["accuracy"]) for r in mine),
                    "tokens": mean_over_stores(float(r["tokens"]) for r in mine),
                }
        return out

    # ------------------------------------------------------------------ one round

    def history(self, before: int) -> list[RoundRecord]:
        records = []
        for number in sorted(n for n in self.folder.state().finished_rounds if n < before):
            rdir = self.folder.round_dir(number)
            info = RoundInfo.read_optional(rdir)
            results = read_csv(rdir / "results.csv") if (rdir / "results.csv").is_file() else []
            for row in results:
                row["accuracy_ci"] = [row.pop("ci_low", None), row.pop("ci_high", None)]
            source = (rdir / "candidate.py").read_text(encoding="utf-8") if (rdir / "candidate.py").is_file() else ""
            records.append(
                RoundRecord(
                    round=number,
                    source=source,
                    valid=info is not None and info.valid,
                    reason=info.reason if info else "",
                    results=results,
                    proposer=info.proposer if info else "",
                    folder=rdir,
                )
            )
        return records

    def run_round(self, number: int) -> None:
        cfg, folder = self.config, self.folder
        rdir = folder.round_dir(number)
        saved = folder.state().saved_proposals.get(number)
        resumable = saved is not None and all((rdir / n).is_file() for n in ("candidate.py", "proposal.json"))
        folder.reset_round(number, keep=("candidate.py", "proposal.json", "proposer.log") if resumable else ())
        folder.log_event("round_started", round=number, resumed=resumable)
        self.reporter.message(f"round {number}/{cfg.rounds}: proposing with {cfg.proposer}")
        started = time.monotonic()
        record = read_json(rdir / "proposal.json") if resumable else _empty_record(cfg.proposer)
        attempt = int(record["attempts"])
        history = self.history(number)
        rounds_before = [r.round for r in history]
        workspace = Workspace(folder.workspace_dir, traces=cfg.traces, task=self.task(agent=True))
        workspace.build(folder, rounds_before)
        prompt = build_prompt(
            self.task(agent=False),
            history_digest(folder, rounds_before, traces=cfg.traces),
            api_documentation(),
            Path(inspect.getsourcefile(cmc) or "").read_text(encoding="utf-8"),
        )
        feedback: str | None = None
        proposal_error = record.get("error", "")
        while True:
            if not resumable:
                if cfg.max_usd is not None and self.spent_usd(record["cost_usd"]) >= cfg.max_usd:
                    if attempt == 0:
                        raise BudgetExhausted(f"spent ${self.spent_usd():.2f} of --max-usd {cfg.max_usd:g}: stopping")
                    break  # the round keeps its last (invalid) attempt
                request = ProposalRequest(number, workspace.root, prompt, history, cfg.seed * 1000 + number, feedback)
                with EvaluationBroker(workspace.root, self.serve_evaluate_request):
                    proposal = self.proposer.propose(request)
                attempt += 1
                proposal_error = proposal.error
                self._save_proposal(rdir, record, proposal, attempt)
            resumable = False
            validation = self.validate(rdir, proposal_error)
            if validation["ok"] or attempt >= 1 + cfg.repairs:
                break
            feedback = validation["reason"]
            self.reporter.message(f"round {number}: invalid ({feedback.splitlines()[0][:120]}); asking for a repair")
        if not validation["ok"]:
            self._finish_round(number, "invalid", validation["reason"], record, started)
            return
        self.evaluate_round(number, record, started)

    def _save_proposal(self, rdir: Path, record: dict, proposal: Proposal, attempt: int) -> None:
        record["attempts"] = attempt
        record["model"] = proposal.model or record["model"]
        record["input_tokens"] += proposal.input_tokens
        record["output_tokens"] += proposal.output_tokens
        record["cost_usd"] += proposal.cost_usd
        record["seconds"] += proposal.seconds
        record["error"] = proposal.error
        record["summary"] = proposal.summary
        log_path = rdir / "proposer.log"
        previous = log_path.read_text(encoding="utf-8") if log_path.is_file() else ""
        write_atomic(log_path, previous + f"===== attempt {attempt} =====\n{proposal.log}\n")
        write_atomic(rdir / "candidate.py", proposal.source)
        write_json(rdir / "proposal.json", record)
        self.folder.log_event(
            "proposal_saved", round=int(rdir.name), attempt=attempt, cost_usd=proposal.cost_usd, error=proposal.error
        )

    def validate(self, rdir: Path, proposal_error: str) -> dict[str, Any]:
        number = int(rdir.name)
        if proposal_error and not (rdir / "candidate.py").read_text(encoding="utf-8").strip():
            verdict = {
                "ok": False,
                "reason": f"no candidate: {proposal_error}",
                "class_name": None,
                "checks": [{"name": "proposal", "ok": False, "detail": proposal_error}],
            }
        else:
            result = check_candidate(
                rdir / "candidate.py",
                beta_rule=self.config.beta_rule,
                betas=self.config.betas,
                quick_store=self.config.search_stores[0],
            )
            verdict = result.to_json()
        write_json(rdir / "validation.json", verdict)
        self.folder.log_event("validated", round=number, ok=verdict["ok"], reason=verdict["reason"][:500])
        return verdict

    def evaluate_round(self, number: int, record: dict, started: float) -> None:
        cfg, rdir = self.config, self.folder.round_dir(number)
        spec = ControllerSpec(str((rdir / "candidate.py").resolve()), label=f"round {number}")
        scratch = self.folder.root / "scratch" / f"{number:03d}"
        judged = cfg.heldout_stores if cfg.heldout else ()
        self.reporter.message(
            f"round {number}: evaluating on {len(cfg.search_stores)} search stores"
            + (f" (and {len(judged)} held-out stores for the report)" if judged else "")
        )
        cells = grid([spec], cfg.betas, cfg.search_stores, cfg.seeds) + grid([spec], cfg.betas, judged, cfg.seeds)
        try:  # one pool of sandbox workers for the whole round: they start once
            with candidate_pool([spec.ref], [*cfg.search_stores, *judged], jobs=cfg.jobs, scratch=scratch) as pool:
                evaluated = self._sandboxed(pool, cells, "evaluating the candidate")
                failures = [f for r in evaluated if r.store in cfg.search_stores for f in r.failures]
                traced = None
                if not failures:  # traces are kept for the report even when --no-traces hides them
                    trace_cells = grid([spec], cfg.betas, cfg.search_stores, cfg.trace_seeds)
                    traced = self._sandboxed(pool, trace_cells, "trace pass", traces=True)
        except SandboxError as exc:  # the sandbox itself could not run the candidate
            self._finish_round(number, "failed", f"sandbox: {exc}", record, started)
            return
        results = [r for r in evaluated if r.store in cfg.search_stores]
        held = [r for r in evaluated if r.store not in cfg.search_stores]
        rows = result_rows(results)
        write_atomic(rdir / "results.csv", rows_to_csv(rows, RESULT_COLUMNS))
        figures = frontier_figures(rows, self.reference("search").get("sc"))
        plots.write_curve(rdir / "curve.png", rows, self.folder.baselines_dir / "results.csv", f"round {number}")
        # only search-store failures decide (and are described): held-out details never reach the history
        if failures:
            write_atomic(rdir / "failures.txt", "\n".join(str(f) for f in failures[:200]) + "\n")
            first = stopped(results) or failures[0]
            reason = f"{len(failures)} episode(s) failed; first: {str(first).splitlines()[0][:400]}"
            self._finish_round(number, "failed", reason, record, started, figures)
            return
        # the trace pass replays the first seeds through run(): where evaluation used the candidate's
        # run_batch, both must agree, or the results would not describe the policy the file states
        disagreement = _first_disagreement(traced or [], results)
        if disagreement:
            self._finish_round(number, "failed", disagreement, record, started, figures)
            return
        if traced is not None:
            write_atomic(rdir / "traces.md", trace_digest(traced, cfg.betas))
            lines = [_json_line(r) for r in informative_records(traced)]
            write_atomic(rdir / "traces.jsonl", "".join(lines))
        self.folder.log_event("round_evaluated", round=number)
        heldout = None
        if held:
            held_rows = result_rows(held)
            write_atomic(rdir / "heldout.csv", rows_to_csv(held_rows, RESULT_COLUMNS))
            heldout = frontier_figures(held_rows, self.reference("heldout").get("sc"))
            self.folder.log_event("heldout_evaluated", round=number)
        self._finish_round(number, "valid", "", record, started, figures, heldout)

    def _finish_round(
        self,
        number: int,
        status: str,
        reason: str,
        record: dict,
        started: float,
        search: dict | None = None,
        heldout: dict | None = None,
    ) -> None:
        rdir = self.folder.round_dir(number)
        info = RoundInfo(
            round=number,
            status=status,
            reason=reason,
            proposer=self.config.proposer,
            model=str(record.get("model", "")),
            attempts=int(record.get("attempts", 0)),
            cost_usd=round(float(record.get("cost_usd", 0.0)), 6),
            input_tokens=int(record.get("input_tokens", 0)),
            output_tokens=int(record.get("output_tokens", 0)),
            proposer_seconds=round(float(record.get("seconds", 0.0)), 3),
            seconds=round(time.monotonic() - started, 3),
            search=Figures.from_json(search, f"{rdir}: search figures"),
            heldout=Figures.from_json(heldout, f"{rdir}: held-out figures"),
        )
        info.write(rdir)
        shutil.rmtree(self.folder.root / "scratch" / f"{number:03d}", ignore_errors=True)
        self.folder.log_event(
            "round_finished", round=number, status=status, reason=reason[:500], cost_usd=info.cost_usd
        )
        self.reporter.message(
            f"round {number}: {status}"
            + (f" ({reason.splitlines()[0][:160]})" if reason else "")
            + (f"; {str(record['summary'])[:300]}" if record.get("summary") else "")
            + "".join(f"; {scope}: {_figures_line(f)}" for scope, f in (("search", search), ("held-out", heldout)) if f)
        )

    # ------------------------------------------------------------------ helpers

    def task(self, *, agent: bool) -> str:
        cfg = self.config
        return task_statement(
            beta_rule=cfg.beta_rule, traces=cfg.traces, betas=cfg.betas, stores=cfg.search_stores, agent=agent
        )

    def serve_evaluate_request(self, source: str, seeds: int, betas: list[float]) -> str:
        """``./evaluate`` from the workspace: validate, then evaluate on the search stores (sandboxed)."""
        scratch = self.folder.root / "scratch" / "drafts" / uuid.uuid4().hex[:12]
        scratch.mkdir(parents=True)
        path = scratch / "draft.py"
        path.write_text(source, encoding="utf-8")
        try:
            verdict = check_candidate(
                path, beta_rule=self.config.beta_rule, betas=betas, quick_store=self.config.search_stores[0]
            )
            if not verdict.ok:
                return f"INVALID: {verdict.reason}"
            cells = grid([ControllerSpec(str(path), label="draft")], betas, self.config.search_stores, seeds)
            results = run_candidate_cells(cells, jobs=self.config.jobs, scratch=scratch / "run")
            lines = ["OK: validated and evaluated on the search stores", "beta | store | accuracy % | tokens | errors"]
            for row in result_rows(results):
                lines.append(
                    f"{row['beta']:g} | {row['store']} | {row['accuracy']:.2f} | {row['tokens']:,.0f} | {row['errors']}"
                )
            failures = [f for r in results for f in r.failures]
            if failures:
                lines.append(f"first error: {str(failures[0])[:600]}")
            return "\n".join(lines) + "\n"
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    # ------------------------------------------------------------------ the end

    def finish(self) -> dict[str, Any]:
        state = self.folder.state()
        infos = read_rounds(self.folder.root, sorted(state.finished_rounds))
        chosen = choose_round(infos, self.config.selection)
        wall = active_seconds(self.folder.events())
        references = {
            split: {name: Reference(v["accuracy"], v["tokens"]) for name, v in self.reference(split).items()}
            for split in ("search", "heldout")
        }
        run_summary = RunSummary(
            chosen_round=chosen,
            selection=self.config.selection,
            rounds=infos,
            references=references,
            total_cost_usd=sum(i.cost_usd for i in infos),
            wall_seconds=wall,
            rounds_done=len(infos),
            rounds_planned=self.config.rounds,
        )
        run_summary.write(self.folder.root)
        summary = run_summary.to_json()
        info = self.folder.info
        info["chosen_round"] = chosen
        write_json(self.folder.root / "run.json", info)
        self.folder.log_event("run_finished", chosen_round=chosen)
        return summary


def active_seconds(events: Sequence[dict[str, Any]]) -> float:
    """Time the run was actually running: per session (a start or a resume), from its first to its
    last event; the pauses between a kill and a resume do not count."""
    total, start, last = 0.0, None, None
    for event in events:
        moment = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
        if event["event"] == "session_started":
            if start is not None and last is not None:
                total += last - start
            start = moment
        last = moment
    if start is not None and last is not None:
        total += last - start
    return total


def _empty_record(proposer: str) -> dict[str, Any]:
    return {
        "proposer": proposer,
        "attempts": 0,
        "model": "",
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "seconds": 0.0,
        "error": "",
    }


def _json_line(value: dict) -> str:
    import json

    return json.dumps(value, default=str) + "\n"


def new_run(out: Path, config: DiscoveryConfig) -> RunFolder:
    stores = store_checksums([*config.search_stores, *(config.heldout_stores if config.heldout else ())])
    return RunFolder.create(out, config.to_json(), stores, __version__)


def _figures_line(figures: dict) -> str:
    """A round's numbers in one phrase for the progress log (accuracy and tokens at the largest β,
    and the saving at SC@64's accuracy when the curve reaches it)."""
    accuracy, tokens = figures["accuracy_at_max_beta"], figures["tokens_at_max_beta"]
    text = f"{accuracy:.2f}% at {tokens:,.0f} tokens (β={figures['max_beta']:g})"
    if figures.get("sc64_accuracy") is not None:
        text += f", SC@64 {figures['sc64_accuracy']:.2f}%"
    if figures.get("saving_vs_sc64") is not None:
        text += f", {100 * figures['saving_vs_sc64']:.1f}% fewer tokens at SC@64's accuracy"
    return text


def discover(
    out: Path, config: DiscoveryConfig | None = None, reporter: Reporter | None = None
) -> dict[str, Any]:
    """Run discovery into the run folder ``out`` and return the run's summary (``summary.json``).

    A new folder starts a run with ``config`` (the defaults when None: the LLM-free ``evolve``
    proposer, five rounds). A folder that already holds a run continues it where it stopped, with
    the configuration saved in it; passing a ``config`` then is an error, since it would not be used.
    """
    from .proposers import create_proposer

    out = Path(out)
    if (out / "run.json").is_file():
        if config is not None:
            raise ValueError(f"{out} already holds a run; it resumes with its saved configuration")
        folder = RunFolder.open(out)
        config = DiscoveryConfig.from_json(folder.config)
    else:
        config = config or DiscoveryConfig()
        folder = new_run(out, config)
    proposer = create_proposer(config.proposer, config.proposer_options())
    return DiscoveryLoop(folder, config, proposer, reporter).run()
