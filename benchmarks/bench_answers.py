"""Answer types cost nothing on the replay hot path: canonical strings are made when a store is
built or loaded, so votes and grades stay string equality.

Measured, on one core:

1. **load**: Qwen3-4B/aime24 as published (upstream format, no type: exact as published) against the
   same answers written as an extended ``choice`` store (answers mapped to letters A–J, the rest ERR)
   and as an upstream file holding those same letters: what the load-time canonicalisation costs;
2. **eval**: SC and CMC (β 0.5 and 1, 100 seeds, ``evaluate(jobs=1)``) on the typed choice store
   against the untyped file with identical strings (the results must be identical);
3. **this tree against another** (``--baseline-src``, e.g. ``/work/main/src``): the same evaluation of
   the published store with each tree's code in a fresh process, best of ``--repeat``.

    python benchmarks/bench_answers.py --baseline-src /work/main/src --out benchmarks/results/bench_answers.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autotts.data import load_store
from autotts.data.store import load_store_file
from autotts.evaluation import Cell, ControllerSpec, evaluate

STORE = "Qwen3-4B/aime24"
CELLS = [("sc", 0.5), ("sc", 1.0), ("cmc", 0.5), ("cmc", 1.0)]
SEEDS = 100

EVAL_SNIPPET = """
import sys, time
from autotts.evaluation import Cell, ControllerSpec, evaluate
from autotts.data import load_store
load_store(sys.argv[1])
cells = [Cell(ControllerSpec(c), b, sys.argv[1], int(sys.argv[2])) for c, b in {cells!r}]
evaluate(cells[:1], jobs=1)  # warm: imports and tables
start = time.perf_counter()
evaluate(cells, jobs=1)
print(time.perf_counter() - start)
"""


def lettered(raw: list) -> list:
    """The published questions with each question's ten commonest answers as letters A-J, others ERR."""
    out = []
    for obj in raw:
        counts: dict[str, int] = {}
        for probes, _tokens, final in obj["each_branch"]:
            for answer in (*probes, final):
                counts[answer] = counts.get(answer, 0) + 1
        ranked = [a for a in sorted(counts, key=lambda a: -counts[a]) if a != "ERR"][:10]
        table = {a: "ABCDEFGHIJ"[i] for i, a in enumerate(ranked)}

        def letter(answer: str, table: dict = table) -> str:
            return table.get(answer, "ERR")

        gold = table.get(obj["gold_answer"], "A")
        branches = [[[letter(a) for a in p], t, letter(f)] for p, t, f in obj["each_branch"]]
        finals = [b[2] for b in branches]
        out.append({**obj, "gold_answer": gold, "each_branch": branches, "final_answers_trace": finals})
    return out


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def eval_time(store: str, repeat: int) -> tuple[float, list]:
    cells = [Cell(ControllerSpec(c), b, store, SEEDS) for c, b in CELLS]
    evaluate(cells[:1], jobs=1)
    results = []

    def run() -> None:
        results[:] = evaluate(cells, jobs=1)

    seconds = timed(run, repeat)
    return seconds, [(r.accuracy, r.mean_tokens) for r in results]


def tree_time(src: str, repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": src}
    code = EVAL_SNIPPET.format(cells=CELLS)
    times = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", code, STORE, str(SEEDS)], env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(done.stderr)
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-src", default=None, help="Another tree's src/ to compare with (e.g. main's).")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    published = load_store(STORE)
    raw = json.loads(gzip.decompress(Path(published.source).read_bytes()))
    letters = lettered(raw)
    report: dict = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "m" / "plain.json.gz"
        typed = Path(tmp) / "m" / "typed.json.gz"
        plain.parent.mkdir()
        plain.write_bytes(gzip.compress(json.dumps(letters).encode()))
        meta = {"name": "m/typed", "answer_type": {"name": "choice", "options": 10}}
        typed.write_bytes(gzip.compress(json.dumps({"format": "autotts-store/1", "metadata": meta,
                                                     "questions": letters}).encode()))  # fmt: skip
        loads = {
            "published (upstream, exact as published)": timed(lambda: load_store_file(published.source), args.repeat),
            "letters, upstream file (no type)": timed(lambda: load_store_file(plain), args.repeat),
            "letters, choice store (canonicalised at load)": timed(lambda: load_store_file(typed), args.repeat),
        }
        print(f"load (best of {args.repeat}):", flush=True)
        for label, seconds in loads.items():
            print(f"  {label:48s} {seconds * 1000:8.1f} ms", flush=True)
        ratio_load = loads["letters, choice store (canonicalised at load)"] / loads["letters, upstream file (no type)"]
        print(f"  typed / untyped: {ratio_load:.2f}x", flush=True)
        t_plain, r_plain = eval_time(str(plain), args.repeat)
        t_typed, r_typed = eval_time(str(typed), args.repeat)
        assert r_plain == r_typed, "a typed store must play exactly as the untyped one with the same strings"
        episodes = len(CELLS) * SEEDS * len(letters)
        print(f"eval {len(CELLS)} cells x {SEEDS} seeds x {len(letters)} questions ({episodes:,} episodes):")
        print(f"  untyped {t_plain:.2f} s ({episodes / t_plain:,.0f} episodes/s), typed choice {t_typed:.2f} s "
              f"({episodes / t_typed:,.0f} episodes/s): ratio {t_typed / t_plain:.3f}; results identical")  # fmt: skip
        report.update(
            load_ms={k: round(v * 1000, 1) for k, v in loads.items()},
            load_ratio_typed=round(ratio_load, 3),
            eval_s={"untyped": round(t_plain, 3), "typed_choice": round(t_typed, 3)},
            eval_ratio_typed=round(t_typed / t_plain, 3),
            episodes=episodes,
        )
    if args.baseline_src:
        here = str(Path(__file__).resolve().parents[1] / "src")
        t_here, t_base = tree_time(here, args.repeat), tree_time(args.baseline_src, args.repeat)
        print(f"published {STORE}, fresh process each: this tree {t_here:.2f} s, {args.baseline_src} {t_base:.2f} s: "
              f"ratio {t_here / t_base:.3f}")  # fmt: skip
        report["tree_vs_baseline_s"] = {"this": round(t_here, 3), "baseline": round(t_base, 3),
                                        "ratio": round(t_here / t_base, 3)}  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
