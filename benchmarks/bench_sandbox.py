"""Speed of the sandbox: one discovery round's evaluation of a CMC-like candidate file.

The workload of issue #3: 11 β values × the 4 search stores × 100 seeds × 30 questions (132,000
episodes), evaluated once in the sandbox (``evaluate_sandboxed``: fresh worker processes, gold-free
stores, audit hook, per-episode accounting checks) and once in-process (``evaluate``, trusted), with
the same number of jobs. Prints both wall times, their ratio, episodes per second, and checks that
both give identical numbers. The candidate (``tests/candidates/cmc_like.py``) implements ``run`` only,
so this measures what the sandbox adds to per-episode play; ``bench_round.py`` measures the round
target (≤ 30 s on 2 cores) with and without the lockstep ``run_batch``.

Wall time depends on what else the machine runs, so the CPU seconds of each run (this process plus
its worker processes) are printed too: CPU seconds / jobs is the wall time on otherwise idle cores.

Usage::

    AUTOTTS_DATA_DIR=... python benchmarks/bench_sandbox.py [--seeds 100] [--jobs 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from autotts.data import split_stores
from autotts.evaluation import ControllerSpec, evaluate, grid
from autotts.evaluation.executors import default_jobs
from autotts.evaluation.sandbox import evaluate_sandboxed, stopped

CANDIDATE = Path(__file__).resolve().parents[1] / "tests" / "candidates" / "cmc_like.py"
BETAS = [round(0.1 * i, 1) for i in range(11)]
TARGET_SECONDS = 30.0


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--skip-trusted", action="store_true", help="Time only the sandboxed run.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    args = parser.parse_args()

    cells = grid([ControllerSpec(str(CANDIDATE), label="cmc_like.py")], BETAS, split_stores("search"), args.seeds)
    episodes = sum(c.seeds for c in cells) * 30
    print(f"{len(cells)} cells, {episodes:,} episodes, {args.jobs} jobs")

    start, cpu_start = time.perf_counter(), cpu_seconds()
    sandboxed = evaluate_sandboxed(cells, jobs=args.jobs)
    sandbox_seconds, sandbox_cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    failure = stopped(sandboxed)
    if failure is not None or any(r.failures for r in sandboxed):
        raise SystemExit(f"the candidate failed in the sandbox: {failure or sandboxed[0].failures[0]}")
    figures = {
        "episodes": episodes,
        "jobs": args.jobs,
        "sandboxed_seconds": round(sandbox_seconds, 2),
        "sandboxed_cpu_seconds": round(sandbox_cpu, 2),
        "sandboxed_idle_estimate_seconds": round(sandbox_cpu / args.jobs, 2),
        "sandboxed_episodes_per_second": round(episodes / sandbox_seconds),
        "target_seconds": TARGET_SECONDS,
    }
    print(
        f"sandboxed : {sandbox_seconds:7.2f} s wall, {sandbox_cpu:7.2f} CPU s "
        f"(idle-machine estimate {sandbox_cpu / args.jobs:.1f} s wall)"
    )

    if not args.skip_trusted:
        start, cpu_start = time.perf_counter(), cpu_seconds()
        trusted = evaluate(cells, jobs=args.jobs)
        trusted_seconds, trusted_cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
        identical = all(
            np.array_equal(a.correct, b.correct) and np.array_equal(a.tokens, b.tokens)
            for a, b in zip(sandboxed, trusted, strict=True)
        )
        figures.update(
            trusted_seconds=round(trusted_seconds, 2),
            trusted_cpu_seconds=round(trusted_cpu, 2),
            ratio=round(sandbox_seconds / trusted_seconds, 3),
            cpu_ratio=round(sandbox_cpu / trusted_cpu, 3),
            identical_results=identical,
        )
        print(f"in-process: {trusted_seconds:7.2f} s wall, {trusted_cpu:7.2f} CPU s")
        print(
            f"sandboxed / in-process: wall {sandbox_seconds / trusted_seconds:.2f}, "
            f"CPU {sandbox_cpu / trusted_cpu:.2f}; identical results: {identical}"
        )
        if not identical:
            raise SystemExit("sandboxed and in-process results differ")
    verdict = "within" if sandbox_seconds <= TARGET_SECONDS else "above"
    print(
        f"wall {sandbox_seconds:.1f} s: {verdict} the round's {TARGET_SECONDS:g} s target for a run()-only "
        "candidate (bench_round.py measures the target with run_batch too)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
