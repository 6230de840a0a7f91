"""Speed of the replay harness: episodes per second per controller (one core; one episode at a time
through ``run``, and through ``evaluate``, which uses the lockstep ``run_batch`` where a controller has
one), and the wall time and peak memory of the 72 Table 1 cells (``autotts reproduce``'s evaluation,
100 seeds, all cores).

    python benchmarks/bench_harness.py            # everything
    python benchmarks/bench_harness.py --quick    # per-controller rates on one store only

Reference point (measured on this project's 2-core machine): the published harness needs about 21
CPU-minutes for the 72 cells; CMC at β 0.5 on Qwen3-4B/aime24 alone takes it 13.3 s, SC@64 ~25 s per store.
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import time

from autotts import Cell, ControllerSpec, Episode, evaluate, load_store
from autotts.data import ALL_STORES
from autotts.evaluation.executors import default_jobs
from autotts.report.reproduce import table1_cells

UPSTREAM_SECONDS = {"cmc β=0.5": 13.3, "sc β=1": 25.0}  # published harness, one store, 3,000 episodes
RATE_CELLS = [("sc", 1.0), ("asc", 1.0), ("esc", 1.0), ("parallel-probe", 1.0), ("cmc", 0.5), ("cmc", 1.0)]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {default_jobs()} cores, Python {platform.python_version()}"


def scalar_seconds(ref: str, beta: float, store: str, seeds: int) -> float:
    """Seconds to play every episode one at a time through ``run`` (what a candidate without
    ``run_batch`` costs, and what trace passes cost)."""
    controller = ControllerSpec(ref).build(beta)
    questions = load_store(store).questions
    start = time.perf_counter()
    for seed in range(seeds):
        for question in questions:
            controller.run(Episode(question, seed, max_branches=controller.max_branches))
    return time.perf_counter() - start


def episode_rates(store: str, seeds: int) -> None:
    load_store(store)
    episodes = seeds * 30
    print(f"\nepisodes per second, one core, {store}, {seeds} seeds x 30 questions")
    print(f"{'controller':<22}{'run() s':>9}{'eps/s':>9}{'evaluate s':>12}{'eps/s':>9}{'vs upstream':>13}")
    for ref, beta in RATE_CELLS:
        scalar = scalar_seconds(ref, beta, store, seeds)
        start = time.perf_counter()
        evaluate([Cell(ControllerSpec(ref), beta, store, seeds)], jobs=1)  # run_batch where it exists
        seconds = time.perf_counter() - start
        label = f"{ref} β={beta:g}"
        upstream = UPSTREAM_SECONDS.get(label)
        ratio = f"{upstream * seeds / 100 / seconds:.1f}x" if upstream else ""
        print(
            f"{label:<22}{scalar:>9.2f}{episodes / scalar:>9,.0f}{seconds:>12.2f}{episodes / seconds:>9,.0f}{ratio:>13}"
        )


def reproduce_cells() -> None:
    for name in ALL_STORES:
        load_store(name)
    cells = table1_cells(ALL_STORES, 100)
    start = time.perf_counter()
    cpu_start = resource.getrusage(resource.RUSAGE_CHILDREN)
    evaluate(cells)
    wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = children.ru_utime - cpu_start.ru_utime + children.ru_stime - cpu_start.ru_stime
    peak_mb = max(children.ru_maxrss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024
    print(f"\nTable 1 evaluation: {len(cells)} cells x 100 seeds x 30 questions on {default_jobs()} cores")
    print(f"wall {wall:.1f} s, worker CPU {cpu:.1f} s, peak RSS of one process {peak_mb:.0f} MB")
    print(f"published harness: ~1260 CPU-s for the same work -> {1260 / max(cpu, 1e-9):.1f}x less CPU")


def reproduce_command() -> None:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "autotts.cli", "reproduce", "--out", "/tmp/autotts-bench-reproduce"],
        check=True,
        capture_output=True,
    )
    print(f"\n`autotts reproduce` end to end (evaluation, curves, plots, report): {time.perf_counter() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the per-controller rates")
    parser.add_argument("--store", default="Qwen3-4B/aime24")
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    episode_rates(args.store, args.seeds)
    if not args.quick:
        reproduce_cells()
        reproduce_command()


if __name__ == "__main__":
    main()
