"""Speed of one discovery round's evaluation: a CMC-like candidate file over the 11-point β grid on
the four search stores with 100 seeds (132,000 episodes), in the sandbox, as `autotts discover` runs
it (plus the trace pass it makes for the history). Target: ≤ 30 s wall on 2 cores.

The candidate is the built-in CMC rewritten as a standalone file, measured twice: as written (with the
optional lockstep ``run_batch``, which evaluation uses) and with ``run_batch`` removed (``run`` only).

    python benchmarks/bench_round.py [--seeds 100] [--jobs 0] [--only batch|scalar]
"""

from __future__ import annotations

import argparse
import inspect
import re
import tempfile
import time
from pathlib import Path

from autotts.controllers import cmc
from autotts.data import split_stores
from autotts.discovery.history import trace_digest
from autotts.discovery.loop import DEFAULT_BETAS
from autotts.discovery.sandboxing import candidate_pool
from autotts.evaluation import ControllerSpec, default_jobs, grid

COUNT_STATS = '''

def count_stats(counts):
    """(leader, top1, top2) of vote counts kept in first-seen order."""
    if not counts:
        return None, 0, 0
    leader = max(counts, key=counts.get)
    return leader, counts[leader], max((n for a, n in counts.items() if a != leader), default=0)
'''


def cmc_like_candidate() -> str:
    """The built-in CMC rewritten as a standalone candidate file (only the imports a candidate may use)."""
    source = inspect.getsource(cmc)
    source = source.replace("from ..env.batch import EpisodeBatch\n", "from autotts.env import EpisodeBatch\n")
    source = source.replace("from ..env.core import Episode\n", "from autotts.env import Episode\n")
    source = source.replace("from .base import Controller, register\n", "")
    source = source.replace(
        "from .votes import confidence, confidence_rows, count_stats, majority\n",
        "from autotts.controllers import Controller, confidence, confidence_rows, majority\n" + COUNT_STATS,
    )
    source = re.sub(r"key=(\w+)\.__getitem__", r"key=lambda k: \1[k]", source)  # dunders are screened out
    return source.replace('@register("cmc")\n', "")


def without_run_batch(source: str) -> str:
    """The candidate with its ``run_batch`` method cut out (it is the class's last method)."""
    return source[: source.index("    def run_batch(")].rstrip() + "\n"


def measure(source: str, label: str, seeds: int, jobs: int) -> float:
    stores = split_stores("search")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "candidate.py"
        path.write_text(source)
        spec = ControllerSpec(str(path), label="cmc-like")
        cells = grid([spec], DEFAULT_BETAS, stores, seeds)
        episodes = sum(c.seeds for c in cells) * 30
        started = time.perf_counter()
        with candidate_pool([spec.ref], stores, jobs=jobs, scratch=Path(tmp) / "scratch") as pool:
            results = pool.evaluate(cells)
            evaluated = time.perf_counter()
            traced = pool.evaluate(grid([spec], DEFAULT_BETAS, stores, 1), want_traces=True)
        trace_digest(traced, DEFAULT_BETAS)
        done = time.perf_counter()
    failures = sum(len(r.failures) for r in results)
    print(f"{label}: {len(cells)} cells, {episodes:,} episodes, jobs={jobs}")
    print(f"  sandboxed evaluation: {evaluated - started:6.1f} s  ({episodes / (evaluated - started):,.0f} episodes/s)")
    print(f"  trace pass + digest:  {done - evaluated:6.1f} s")
    print(f"  total:                {done - started:6.1f} s  (target ≤ 30 s on 2 cores); failures: {failures}")
    mean_at_1 = sum(r.accuracy for r in results if r.beta == 1.0) / len(stores)
    print(f"  check: mean search accuracy at β=1 = {mean_at_1:.2f}%")
    return done - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--only", choices=("batch", "scalar"), default=None)
    args = parser.parse_args()
    jobs = args.jobs or default_jobs()
    source = cmc_like_candidate()
    if args.only != "scalar":
        measure(source, "one round, candidate with run_batch", args.seeds, jobs)
    if args.only != "batch":
        measure(without_run_batch(source), "one round, candidate with run only", args.seeds, jobs)


if __name__ == "__main__":
    main()
