"""The LLM-free discovery engine: an evolutionary search over the structured controller space
(:mod:`autotts.controllers.space`), scored on the search stores only, that renders its best genome as a
readable controller file."""

from .fitness import HeldOutStoreError, Reference, Score, check_search_only, frontier_score, score_genomes
from .genome import complexity, crossover, genome_key, mutate, seed_genomes
from .render import GENOME_NAME, RenderError, genome_diff, genome_from_source, render_controller
from .search import GRID_11, EvolveConfig, Individual, SearchResult, cpu_seconds, evolve, twins

__all__ = [
    "GENOME_NAME",
    "GRID_11",
    "EvolveConfig",
    "HeldOutStoreError",
    "Individual",
    "Reference",
    "RenderError",
    "Score",
    "SearchResult",
    "check_search_only",
    "complexity",
    "cpu_seconds",
    "crossover",
    "evolve",
    "frontier_score",
    "genome_diff",
    "genome_from_source",
    "genome_key",
    "mutate",
    "render_controller",
    "score_genomes",
    "seed_genomes",
    "twins",
]
