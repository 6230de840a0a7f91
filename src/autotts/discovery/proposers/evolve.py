"""``evolve``: the built-in, LLM-free proposer (the default; no network, no API key).

Each round runs a short evolutionary search over the structured controller space
(:mod:`autotts.controllers.space`) on the run's search stores, in-process, and writes its best new
genome as a readable controller file. The population starts from the genomes of earlier rounds'
candidates (read back from the ``GENOME`` constant of their files, so ``--resume`` and multi-round
runs continue the search), the shipped ``evo`` controller and the published baselines.

Per-round search size can be set through ``ProposerOptions.extra`` (``evolve_population``,
``evolve_generations``, ``evolve_seeds``, ``evolve_finalist_seeds``, and ``evolve_minutes``: a CPU
budget that the generations then fill; ``autotts discover --evolve-*``); the defaults keep one round
to about a minute on two cores. Each round offers a genome that behaves unlike every earlier round's
(:func:`autotts.discovery.evolve.twins` on the search curves), and its file says what changed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Any

from ...controllers.space import BASELINE_GENOMES, baseline_genome
from ...data.catalog import split_stores
from ..evolve import (
    GRID_11,
    EvolveConfig,
    Individual,
    RenderError,
    check_search_only,
    evolve,
    genome_diff,
    genome_from_source,
    render_controller,
    seed_genomes,
)
from .base import Proposal, ProposalRequest, Proposer, ProposerOptions

CANDIDATE = "candidate.py"


@dataclass(frozen=True)
class RoundBudget:
    """How much searching one round does."""

    population: int = 12
    generations: int = 3
    seeds: int = 4
    # 0.9 is on the grid: a coarser one once hid a token jump between 0.8 and 0.9
    betas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
    finalists: int = 3
    finalist_seeds: int = 8
    finalist_betas: tuple[float, ...] = GRID_11
    minutes: float | None = None  # CPU minutes for the generations (they run until it is spent)


def shipped_genome() -> dict[str, Any] | None:
    """The genome of the shipped ``evo`` controller, if this installation has one."""
    try:
        from ...controllers import evo
    except ImportError:
        return None
    return getattr(evo, "GENOME", None)


class EvolveProposer(Proposer):
    """Evolutionary search over the controller space; renders its best new genome each round."""

    name = "evolve"

    def __init__(
        self,
        *,
        stores: tuple[str, ...] | None = None,
        budget: RoundBudget = RoundBudget(),
        jobs: int | None = None,
        seed: int = 0,
        use_shipped: bool = True,
    ):
        self.stores = check_search_only(stores or split_stores("search"))
        self.budget = budget
        self.jobs = jobs
        self.seed = seed
        self.use_shipped = use_shipped
        self._attempts: dict[int, int] = {}  # round -> candidates already offered (after failed validation)

    @classmethod
    def from_options(cls, options: ProposerOptions) -> EvolveProposer:
        extra = options.extra or {}
        budget = RoundBudget()
        overrides: dict[str, Any] = {
            field: int(extra[f"evolve_{field}"])
            for field in ("population", "generations", "seeds", "finalist_seeds")
            if extra.get(f"evolve_{field}") is not None
        }
        if extra.get("evolve_minutes") is not None:
            overrides["minutes"] = float(extra["evolve_minutes"])
            overrides.setdefault("generations", 1000)  # the budget, not a generation count, ends the search
        return cls(
            stores=tuple(options.search_stores) or None,
            budget=replace(budget, **overrides),
            jobs=options.jobs,
            seed=options.seed,
        )

    def initial_genomes(self, request: ProposalRequest) -> list[dict[str, Any]]:
        """Earlier valid rounds' genomes (newest first), then the shipped evo, then the baselines."""
        genomes = []
        for record in reversed(request.history):
            if not record.valid:
                continue
            try:
                genomes.append(genome_from_source(record.source))
            except RenderError:
                continue  # a round written by another proposer
        shipped = shipped_genome() if self.use_shipped else None
        if shipped is not None:
            genomes.append(shipped)
        return genomes + seed_genomes()

    def config_for(self, request: ProposalRequest) -> EvolveConfig:
        b = self.budget
        return EvolveConfig(
            population=b.population,
            generations=b.generations,
            elite=max(1, b.population // 4),
            betas=b.betas,
            seeds=b.seeds,
            stores=self.stores,
            finalists=b.finalists,
            finalist_seeds=b.finalist_seeds,
            finalist_betas=b.finalist_betas,
            seed=(self.seed + request.seed) * 100_003 + request.round,
            cpu_limit_s=None if b.minutes is None else 60 * b.minutes,
        )

    def propose(self, request: ProposalRequest) -> Proposal:
        started = time.monotonic()
        config = self.config_for(request)
        log = [f"evolve round {request.round}: {json.dumps(config.to_json())}"]
        offered = [genome_from_source(r.source) for r in request.history if _has_genome(r.source)]
        result = evolve(
            config,
            self.initial_genomes(request),
            jobs=self.jobs,
            on_generation=lambda gen, ranked: log.append(_generation_line(gen, ranked)),
            avoid=offered,  # rounds must differ in behaviour, not only in text
        )
        ranked = result.finalists
        attempt = self._attempts.get(request.round, 0) if request.feedback else 0
        self._attempts[request.round] = attempt + 1
        chosen = ranked[min(attempt, len(ranked) - 1)]
        score = chosen.score
        provenance = {
            "round": request.round,
            "search seed": config.seed,
            "search": f"{result.evaluations} genomes scored on {', '.join(config.stores)}",
            "search-store score": (
                f"peak {score.peak:.2f}%, saving vs SC@64 {100 * score.saving:.1f}%, "
                f"fitness {score.fitness:.3f} ({config.finalist_seeds} seeds)"
            ),
            "changed": (
                f"from the previous round's candidate: {genome_diff(offered[-1], chosen.genome)}"
                if offered
                else f"from {_nearest_seed(chosen.genome)}: {genome_diff(_seed(chosen.genome), chosen.genome)}"
            ),
        }
        source = render_controller(chosen.genome, provenance=provenance)
        (request.workspace / CANDIDATE).write_text(source)
        log.append("finalists: " + "; ".join(_score_line(ind) for ind in result.finalists))
        log.append(f"offered: {_score_line(chosen)}; changed {provenance['changed']}")
        log.append(f"cost: {result.cpu_seconds / 60:.2f} CPU-minutes, {result.wall_seconds:.0f} s wall")
        return Proposal(
            source=source,
            log="\n".join(log),
            model="evolve",
            seconds=time.monotonic() - started,
            summary=f"changed {provenance['changed']}",
        )


def _starting_points() -> dict[str, dict[str, Any]]:
    """The genomes a first round starts from, by name: the shipped evo and the published controllers."""
    points = {name: baseline_genome(name) for name in BASELINE_GENOMES}
    shipped = shipped_genome()
    return {"evo": shipped, **points} if shipped is not None else points


def _nearest_seed(genome: dict[str, Any]) -> str:
    """The starting point that differs from ``genome`` in the fewest choices and schedules."""
    points = _starting_points()
    return min(points, key=lambda name: (len(genome_diff(points[name], genome).split("; ")), name))


def _seed(genome: dict[str, Any]) -> dict[str, Any]:
    return _starting_points()[_nearest_seed(genome)]


def _has_genome(source: str) -> bool:
    try:
        genome_from_source(source)
    except RenderError:
        return False
    return True


def _score_line(ind: Individual) -> str:
    s = ind.score
    return f"fitness {s.fitness:.3f} peak {s.peak:.2f} saving {s.saving:.3f} ({ind.origin})"


def _generation_line(gen: int, ranked: list[Individual]) -> str:
    return f"generation {gen}: best {_score_line(ranked[0])}"
