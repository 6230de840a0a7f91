"""Speed of the full default robustness report: one policy against SC@64 and CMC (``--against sc,cmc``)
on the eight held-out stores, every default condition, the default β grid and seeds, written to
robustness.json and robustness.html — exactly what ``autotts robustness POLICY`` does.
Target: ≤ 10 minutes wall on 2 cores.

    python benchmarks/bench_robustness.py [--policy evo] [--seeds 25] [--jobs 0] [--out DIR]

A controller file as the policy runs in the sandbox (pass e.g. ``tests/candidates/cmc_like.py``).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from autotts.data import split_stores
from autotts.evaluation import default_jobs
from autotts.robustness import DEFAULT_AGAINST, DEFAULT_BETAS, DEFAULT_SEEDS, analyse, default_conditions, resolve_entry
from autotts.robustness.html import headline, render


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="evo")
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-robustness-"))
    stores = list(split_stores("heldout"))
    conditions = default_conditions()
    last = {"t": time.monotonic()}

    def progress(done: int, total: int, condition: str) -> None:
        if time.monotonic() - last["t"] > 15 or done == total:
            last["t"] = time.monotonic()
            print(f"  {done}/{total} blocks, {condition}", flush=True)

    started, cpu0 = time.monotonic(), _cpu()
    report = analyse(
        resolve_entry(args.policy),
        [resolve_entry(name) for name in DEFAULT_AGAINST],
        stores,
        conditions,
        betas=DEFAULT_BETAS,
        seeds=args.seeds,
        jobs=args.jobs or None,
        on_progress=progress,
    )
    evaluated = time.monotonic() - started
    report.write_json(out / "robustness.json")
    render(report, out)
    wall, cpu = time.monotonic() - started, _cpu() - cpu0
    replayed = sum(
        len(r.units) * report.seeds * (1 + len(report.labels) * len(report.betas))
        for r in report.results
        if not r.condition.reuses_base
        for _ in range(r.condition.replicates)
    )
    summary = {
        "policy": report.policy.label,
        "against": [e.label for e in report.against],
        "stores": len(stores),
        "conditions": len(conditions),
        "betas": list(report.betas),
        "seeds": report.seeds,
        "episodes": replayed,
        "evaluation_s": round(evaluated, 1),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "jobs": args.jobs or default_jobs(),
        "per_condition_s": {r.condition.name: round(r.seconds, 1) for r in report.results},
        "target_s": 600,
        "met": wall <= 600,
    }
    print(headline(report))
    print(json.dumps(summary, indent=1))
    print(f"report: {out / 'robustness.html'}")


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the evaluation workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
