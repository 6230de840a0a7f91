"""Speed of one discovery round behind the sandbox, beside the in-process evaluation of the same file.

The round: a CMC-like candidate file over the 11-point β grid on the four search stores with 100
seeds (132,000 episodes), as `autotts discover` runs it, plus the trace pass it makes for the
history. The candidate is CMC as a candidate file, measured twice: as an evolve-style data file (the
CMC genome in a subclass of the space controller, whose lockstep ``run_batch`` evaluation uses) and
as the built-in's ``run`` rewritten as a standalone file (``run`` only). Each is timed behind the OS
boundary (``autotts.sandbox``) and in-process (``autotts.evaluation.evaluate``, trusted), with the
same jobs, and both must give identical numbers.

Targets (issue 9, 2 cores): the ``run``-only candidate within 1.3x of in-process; the full round of
the candidate with ``run_batch`` in at most 25 s. CPU seconds (this process and its children) are
printed too: wall time depends on what else the machine runs.

    python benchmarks/bench_round.py [--seeds 100] [--jobs 0] [--only batch|scalar]
"""

from __future__ import annotations

import argparse
import inspect
import re
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from autotts.controllers import cmc
from autotts.controllers.space import baseline_genome
from autotts.data import split_stores
from autotts.discovery.evolve import render_controller
from autotts.discovery.history import trace_digest
from autotts.discovery.loop import DEFAULT_BETAS
from autotts.discovery.sandboxing import candidate_pool
from autotts.evaluation import ControllerSpec, default_jobs, evaluate, grid

COUNT_STATS = '''

def count_stats(counts):
    """(leader, top1, top2) of vote counts kept in first-seen order."""
    if not counts:
        return None, 0, 0
    leader = max(counts, key=counts.get)
    return leader, counts[leader], max((n for a, n in counts.items() if a != leader), default=0)
'''


def cmc_like_candidate() -> str:
    """The built-in CMC's ``run`` rewritten as a standalone candidate file (only the imports a candidate
    may use; no ``run_batch``)."""
    source = inspect.getsource(cmc)
    source = source[: source.index("    def as_genome(")].rstrip() + "\n"  # its lockstep form comes from the space
    source = source.replace("from typing import Any\n", "")
    source = source.replace("from ..env.core import Episode\n", "from autotts.env import Episode\n")
    source = source.replace("from .base import register\n", "")
    source = source.replace("from .space import LockstepController, constant_genome\n", "")
    source = source.replace(
        "from .votes import confidence, count_stats, majority\n",
        "from autotts.controllers import Controller, confidence, majority\n" + COUNT_STATS,
    )
    source = source.replace("(LockstepController)", "(Controller)")
    source = re.sub(r"key=(\w+)\.__getitem__", r"key=lambda k: \1[k]", source)  # dunders are screened out
    return source.replace('@register("cmc")\n', "")


def cmc_data_candidate() -> str:
    """CMC as evolve writes candidates: its genome, explained, in a subclass of the space controller."""
    return render_controller(baseline_genome("cmc"), title="CMC as a point of the structured space.")


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (environment and candidate processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(source: str, label: str, seeds: int, jobs: int) -> dict:
    stores = split_stores("search")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "candidate.py"
        path.write_text(source)
        spec = ControllerSpec(str(path), label="cmc-like")
        cells = grid([spec], DEFAULT_BETAS, stores, seeds)
        episodes = sum(c.seeds for c in cells) * 30
        cpu, started = cpu_seconds(), time.perf_counter()
        with candidate_pool([spec.ref], stores, jobs=jobs, scratch=Path(tmp) / "scratch") as pool:
            results = pool.evaluate(cells)  # one pool for the round, as the discovery loop keeps it
            evaluated = time.perf_counter()
            traced = pool.evaluate(grid([spec], DEFAULT_BETAS, stores, 1), want_traces=True)
        trace_digest(traced, DEFAULT_BETAS)
        # environment processes have exited (RUSAGE_CHILDREN); candidate processes report their own
        done, sandbox_cpu = time.perf_counter(), cpu_seconds() - cpu + pool.candidate_cpu
        cpu, plain_started = cpu_seconds(), time.perf_counter()
        plain = evaluate(cells, jobs=jobs)
        plain_done, plain_cpu = time.perf_counter(), cpu_seconds() - cpu
    same = all(
        a.answers == b.answers and np.array_equal(a.tokens, b.tokens) and np.array_equal(a.latency, b.latency)
        for a, b in zip(results, plain, strict=True)
    )
    failures = sum(len(r.failures) for r in results)
    sandboxed, in_process = evaluated - started, plain_done - plain_started
    print(f"{label}: {len(cells)} cells, {episodes:,} episodes, jobs={jobs}")
    print(f"  sandboxed evaluation: {sandboxed:6.1f} s  ({episodes / sandboxed:,.0f} episodes/s)")
    print(f"  trace pass + digest:  {done - evaluated:6.1f} s")
    print(f"  round total:          {done - started:6.1f} s  (CPU {sandbox_cpu:.1f} s, trace pass included)")
    print(f"  failures: {failures}")
    rate = episodes / in_process
    print(f"  in-process:           {in_process:6.1f} s  CPU {plain_cpu:6.1f} s  ({rate:,.0f} episodes/s)")
    ratios = f"{sandboxed / in_process:.2f}x wall (evaluation), {sandbox_cpu / plain_cpu:.2f}x CPU"
    print(f"  sandboxed / in-process: {ratios}")
    print(f"  identical results: {same}")
    mean_at_1 = sum(r.accuracy for r in results if r.beta == 1.0) / len(stores)
    print(f"  check: mean search accuracy at β=1 = {mean_at_1:.2f}%")
    return {"sandboxed": sandboxed, "round": done - started, "in_process": in_process, "same": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--only", choices=("batch", "scalar"), default=None)
    args = parser.parse_args()
    jobs = args.jobs or default_jobs()
    if args.only != "scalar":
        measure(cmc_data_candidate(), "one round, data candidate (genome; run_batch is the space's)", args.seeds, jobs)
    if args.only != "batch":
        measure(cmc_like_candidate(), "one round, candidate with run only", args.seeds, jobs)


if __name__ == "__main__":
    main()
