"""Speed of evaluation's lockstep path for every built-in: CPU seconds of ``evaluate`` (one process,
``jobs=1``) per controller and β on one store, the figure issue 10 asks not to get worse when the
built-ins' hand-written ``run_batch`` kernels were replaced by the structured space's lockstep
interpreter playing their genomes.

    python benchmarks/bench_lockstep.py                       # 100 seeds, Qwen3-4B/aime24
    python benchmarks/bench_lockstep.py --json out.json       # also save the figures
    python benchmarks/bench_lockstep.py --compare before.json # print after/before ratios

CPU time (``time.process_time``) is used rather than wall time because the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from autotts import Cell, ControllerSpec, evaluate, load_store

CELLS = [
    ("sc", 1.0),
    ("asc", 1.0),
    ("esc", 1.0),
    ("parallel-probe", 1.0),
    ("cmc", 0.2),
    ("cmc", 0.5),
    ("cmc", 1.0),
    ("evo", 0.5),
    ("evo", 1.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="Qwen3-4B/aime24")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per cell")
    parser.add_argument("--json", type=Path, default=None, help="save {cell: cpu seconds} here")
    parser.add_argument("--compare", type=Path, default=None, help="a --json file of an earlier run")
    args = parser.parse_args()
    load_store(args.store)
    before = json.loads(args.compare.read_text()) if args.compare else {}
    figures: dict[str, float] = {}
    print(f"evaluate(), one process, {args.store}, {args.seeds} seeds x 30 questions, best of {args.repeats}")
    print(f"{'cell':<22}{'CPU s':>9}{'before s':>10}{'ratio':>8}")
    for ref, beta in CELLS:
        best = float("inf")
        for _ in range(args.repeats):
            start = time.process_time()
            evaluate([Cell(ControllerSpec(ref), beta, args.store, args.seeds)], jobs=1)
            best = min(best, time.process_time() - start)
        label = f"{ref} β={beta:g}"
        figures[label] = round(best, 3)
        old = before.get(label)
        ratio = f"{best / old:.2f}" if old else ""
        print(f"{label:<22}{best:>9.2f}{old if old else '':>10}{ratio:>8}", flush=True)
    if before:
        total_old = sum(before[k] for k in figures if k in before)
        total_new = sum(v for k, v in figures.items() if k in before)
        print(f"{'total':<22}{total_new:>9.2f}{total_old:>10.2f}{total_new / total_old:>8.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
