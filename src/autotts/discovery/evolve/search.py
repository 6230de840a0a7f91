"""The evolutionary search over the controller space.

A population of genomes is scored on the search stores (few seeds, a coarse β grid); the best
``elite`` survive unchanged, the rest of the next generation are children of tournament winners
(uniform crossover, then mutation). After the last generation the best few distinct genomes are
re-scored with more seeds on a finer β grid and the best of them is the result.

Finalists are picked from every genome scored during the search (an archive, not just the last
generation) for quality *and* diversity: a genome whose curve is a behavioural twin (:func:`twins`)
of a better finalist, or of a genome to ``avoid`` (earlier rounds' candidates), is passed over, so
successive discovery rounds offer policies that behave differently, not a knob that never binds.

Given the same configuration and initial genomes, the search is deterministic: every random draw
comes from one ``random.Random(seed)`` and evaluation does not depend on the number of jobs. (Time
limits, checked between generations, are the one exception: they may cut the search at a different point.)
"""

from __future__ import annotations

import random
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ...data.catalog import split_stores
from .fitness import Reference, Score, check_search_only, reference, score_genomes
from .genome import Genome, crossover, genome_key, mutate, seed_genomes

GRID_11 = tuple(round(0.1 * i, 1) for i in range(11))
#: two curves closer than this at every β (accuracy points; relative tokens) behave alike: seed noise
#: of a few seeds on the search stores is about half a point
TWIN_ACCURACY = 0.5
TWIN_TOKENS = 0.05


def twins(a: Score, b: Score) -> bool:
    """Whether two curves on the same β grid are indistinguishable (within the twin margins at every β)."""
    if [p[0] for p in a.points] != [p[0] for p in b.points]:
        return False
    return all(
        abs(aa - ab) <= TWIN_ACCURACY and abs(ta - tb) <= TWIN_TOKENS * max(ta, tb, 1.0)
        for (_, ta, aa), (_, tb, ab) in zip(a.points, b.points, strict=True)
    )


@dataclass(frozen=True)
class EvolveConfig:
    """Everything that determines a search."""

    population: int = 16
    generations: int = 10
    elite: int = 4
    tournament: int = 3
    crossover_rate: float = 0.5
    betas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    seeds: int = 8
    stores: tuple[str, ...] = field(default_factory=lambda: split_stores("search"))
    finalists: int = 4
    finalist_seeds: int = 30
    finalist_betas: tuple[float, ...] = GRID_11
    seed: int = 0
    time_limit_s: float | None = None  # wall seconds; checked between generations
    cpu_limit_s: float | None = None  # CPU seconds (this process and its workers); checked between generations

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class Individual:
    genome: Genome
    score: Score
    origin: str  # "seed", "elite", "child"


@dataclass
class SearchResult:
    """The ranked finalists (best first), every generation's best fitness, and what it cost."""

    config: EvolveConfig
    finalists: list[Individual]
    generation_best: list[float]
    evaluations: int
    cpu_seconds: float
    wall_seconds: float
    search_reference: Reference
    finalist_reference: Reference

    @property
    def best(self) -> Individual:
        return self.finalists[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config.to_json(),
            "generation_best": [round(f, 4) for f in self.generation_best],
            "evaluations": self.evaluations,
            "cpu_minutes": round(self.cpu_seconds / 60, 2),
            "wall_minutes": round(self.wall_seconds / 60, 2),
            "search_reference": asdict(self.search_reference),
            "finalist_reference": asdict(self.finalist_reference),
            "finalists": [{"genome": i.genome, "score": i.score.to_json(), "origin": i.origin} for i in self.finalists],
        }


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the evaluation workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _rank(individuals: Sequence[Individual]) -> list[Individual]:
    # ties broken by the genome's text so the order never depends on evaluation order
    return sorted(individuals, key=lambda ind: (-ind.score.fitness, genome_key(ind.genome)))


def evolve(
    config: EvolveConfig = EvolveConfig(),
    initial: Sequence[Mapping[str, Any]] | None = None,
    *,
    jobs: int | None = None,
    on_generation: Callable[[int, list[Individual]], None] | None = None,
    avoid: Sequence[Mapping[str, Any]] = (),
) -> SearchResult:
    """Run the search from ``initial`` genomes (default: the published controllers); no finalist
    behaves like a genome of ``avoid`` unless nothing else was found."""
    check_search_only(config.stores)
    started_wall, started_cpu = time.monotonic(), cpu_seconds()
    rng = random.Random(config.seed)
    cache: dict[str, Score] = {}
    archive: dict[str, Individual] = {}  # every genome scored, by key (its first origin)
    evaluations = 0

    ref = reference(config.stores, config.seeds, jobs)

    def score_all(genomes: list[Genome]) -> list[Score]:
        nonlocal evaluations
        fresh: dict[str, Genome] = {}
        for g in genomes:
            key = genome_key(g)
            if key not in cache:
                fresh.setdefault(key, g)
        if fresh:
            scores = score_genomes(
                list(fresh.values()), stores=config.stores, betas=config.betas, seeds=config.seeds, ref=ref, jobs=jobs
            )
            cache.update(zip(fresh, scores, strict=True))
            evaluations += len(fresh)
        return [cache[genome_key(g)] for g in genomes]

    # the first generation: the given genomes (de-duplicated), then their mutants
    parents: list[Genome] = []
    seen: set[str] = set()
    for g in list(initial or seed_genomes()):
        key = genome_key(g)
        if key not in seen:
            seen.add(key)
            parents.append(dict(g))
    population = parents[: config.population]
    origins = ["seed"] * len(population)
    while len(population) < config.population:
        child = mutate(rng.choice(parents), rng)
        if genome_key(child) not in seen:
            seen.add(genome_key(child))
            population.append(child)
            origins.append("child")

    generation_best: list[float] = []
    ranked: list[Individual] = []
    for gen in range(config.generations):
        scores = score_all(population)
        ranked = _rank([Individual(g, s, o) for g, s, o in zip(population, scores, origins, strict=True)])
        for ind in ranked:
            archive.setdefault(genome_key(ind.genome), ind)
        generation_best.append(ranked[0].score.fitness)
        if on_generation:
            on_generation(gen, ranked)
        if gen == config.generations - 1:
            break
        if config.time_limit_s is not None and time.monotonic() - started_wall > config.time_limit_s:
            break
        if config.cpu_limit_s is not None and cpu_seconds() - started_cpu > config.cpu_limit_s:
            break
        population = [ind.genome for ind in ranked[: config.elite]]
        origins = ["elite"] * len(population)
        keys = {genome_key(g) for g in population}
        attempts = 0
        while len(population) < config.population and attempts < 50 * config.population:
            attempts += 1
            first = _tournament(ranked, config.tournament, rng)
            if rng.random() < config.crossover_rate:
                child = mutate(crossover(first, _tournament(ranked, config.tournament, rng), rng), rng)
            else:
                child = mutate(first, rng)
            key = genome_key(child)
            if key not in keys:
                keys.add(key)
                population.append(child)
                origins.append("child")

    # finalists: the best genomes that behave unlike each other and unlike ``avoid``, re-scored with
    # more seeds on the finer grid
    avoided = {genome_key(g) for g in avoid}
    old = score_all([dict(g) for g in avoid])
    chosen: list[Individual] = []
    for ind in _rank(list(archive.values())):
        if genome_key(ind.genome) in avoided or any(twins(ind.score, s) for s in old):
            continue
        if not any(twins(ind.score, c.score) for c in chosen):
            chosen.append(ind)
        if len(chosen) == config.finalists:
            break
    chosen = chosen or ranked[: config.finalists]  # nothing new was found: the best again
    finalist_ref = reference(config.stores, config.finalist_seeds, jobs)
    final_scores = score_genomes(
        [ind.genome for ind in chosen],
        stores=config.stores,
        betas=config.finalist_betas,
        seeds=config.finalist_seeds,
        ref=finalist_ref,
        jobs=jobs,
    )
    finalists = _rank([Individual(ind.genome, s, ind.origin) for ind, s in zip(chosen, final_scores, strict=True)])
    if avoid:  # the finer look (more seeds, every β) may show a finalist to be a twin after all
        old_final = score_genomes(
            [dict(g) for g in avoid],
            stores=config.stores,
            betas=config.finalist_betas,
            seeds=config.finalist_seeds,
            ref=finalist_ref,
            jobs=jobs,
        )
        finalists = [f for f in finalists if not any(twins(f.score, s) for s in old_final)] or finalists
    return SearchResult(
        config=config,
        finalists=finalists,
        generation_best=generation_best,
        evaluations=evaluations + len(chosen),
        cpu_seconds=cpu_seconds() - started_cpu,
        wall_seconds=time.monotonic() - started_wall,
        search_reference=ref,
        finalist_reference=finalist_ref,
    )


def _tournament(ranked: Sequence[Individual], size: int, rng: random.Random) -> Genome:
    """The fittest of ``size`` individuals drawn at random (``ranked`` is best first)."""
    picks = sorted(rng.randrange(len(ranked)) for _ in range(size))
    return ranked[picks[0]].genome
