"""Held-out quality of the shipped ``evo`` controller against SC@64 and CMC, with search-set numbers beside.

    python benchmarks/bench_evo_quality.py                      # 100 seeds, 11 β, all stores
    python benchmarks/bench_evo_quality.py --seeds 20 --jobs 2  # quicker look

For each split (held-out: aime25 + hmmt25; search: aime24; all four models) and controller it prints
the mean accuracy–tokens curve over β, and:

* saving vs SC@64 at SC@64's mean accuracy: 1 − tokens(reaching SC@64's accuracy) / SC@64's tokens,
  interpolated in log-tokens between β points (docs/evaluation.md);
* peak mean accuracy over the β grid (and its β);
* 95% intervals by a bootstrap over questions, stratified by store (the same resampled questions for
  every controller and for SC@64, so the saving's interval includes SC@64's own uncertainty);
* the paired difference evo − CMC at β = 1.

Targets (issue #4): held-out saving ≥ 80% (CMC published: 69.5%), held-out peak ≥ 48.0% (CMC at
β = 1: 47.1%). Results are written to ``benchmarks/results/evo_quality.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import sys
import time
from pathlib import Path

import numpy as np

from autotts.controllers import space as space_package
from autotts.controllers.base import get_controller_class
from autotts.data.catalog import split_stores
from autotts.evaluation import CellResult, ControllerSpec, evaluate, grid, paired_difference, tokens_at_accuracy

BETAS = tuple(round(0.1 * i, 1) for i in range(11))
RESAMPLES = 1000
#: CMC's published held-out figures (AutoTTS paper; our harness reproduces its numbers exactly)
PUBLISHED_CMC = {"saving": 0.695, "peak_accuracy": 47.1}
OUT = Path(__file__).parent / "results" / "evo_quality.json"
CACHE = Path(__file__).parent / "results" / "cache"


class Split:
    """Per-question accuracy and tokens of every (controller, β) on one split, stores concatenated."""

    def __init__(self, stores: tuple[str, ...]):
        self.stores = stores
        self.acc: dict[tuple[str, float], np.ndarray] = {}
        self.tokens: dict[tuple[str, float], np.ndarray] = {}
        self.sizes: list[int] = []

    def add(self, results: list[CellResult]) -> None:
        by_key: dict[tuple[str, float], dict[str, CellResult]] = {}
        for r in results:
            by_key.setdefault((r.controller, r.beta), {})[r.store] = r
        for key, per_store in by_key.items():
            self.acc[key] = np.concatenate([per_store[s].per_question_accuracy for s in self.stores])
            self.tokens[key] = np.concatenate([per_store[s].tokens.mean(axis=0) for s in self.stores])
            self.sizes = [per_store[s].questions for s in self.stores]

    def save(self, path: Path, controller: str) -> None:
        arrays = {
            f"{kind}@{b}": table[(c, b)]
            for kind, table in (("acc", self.acc), ("tok", self.tokens))
            for c, b in table
            if c == controller
        }
        np.savez(path, sizes=np.array(self.sizes), **arrays)

    def load(self, path: Path, controller: str) -> None:
        with np.load(path) as data:
            self.sizes = [int(n) for n in data["sizes"]]
            for name in data.files:
                kind, _, beta = name.partition("@")
                if kind in ("acc", "tok"):
                    (self.acc if kind == "acc" else self.tokens)[(controller, float(beta))] = data[name]

    def resample(self, rng: np.random.Generator) -> np.ndarray:
        """Question indices resampled with replacement within each store."""
        parts, offset = [], 0
        for n in self.sizes:
            parts.append(offset + rng.integers(0, n, n))
            offset += n
        return np.concatenate(parts)

    def curve(self, controller: str, betas: tuple[float, ...], idx: np.ndarray | None = None) -> list[tuple]:
        sel = slice(None) if idx is None else idx
        return [
            (float(self.tokens[(controller, b)][sel].mean()), float(self.acc[(controller, b)][sel].mean()))
            for b in betas
        ]


def cache_path(cache: Path, controller: str, split: str, seeds: int, betas: tuple[float, ...]) -> Path:
    """Results are reused only for the same controller source, split, seeds and β grid. The source is
    the controller's whole module (a data-form controller's class is the same three lines for every
    genome) and the structured space's interpreters, which play the built-ins' lockstep form."""
    module = sys.modules[get_controller_class(controller).__module__]
    space = sorted(Path(inspect.getfile(space_package)).parent.glob("*.py"))
    source = inspect.getsource(module) + "".join(path.read_text() for path in space)
    digest = hashlib.sha256(f"{source}|{split}|{seeds}|{betas}".encode()).hexdigest()[:16]
    return cache / f"{controller}-{split}-{digest}.npz"


def collect(split: Split, split_name: str, controllers: list[str], seeds: int, jobs: int | None, cache: Path) -> None:
    """Evaluate (or load from the cache) every controller's β grid and SC@64 on one split."""
    cache.mkdir(parents=True, exist_ok=True)
    for controller, betas in [("sc", (1.0,)), *((c, BETAS) for c in controllers)]:
        path = cache_path(cache, controller, split_name, seeds, betas)
        if path.is_file():
            split.load(path, controller)
            continue
        split.add(evaluate(grid([ControllerSpec(controller)], betas, split.stores, seeds), jobs=jobs))
        split.save(path, controller)


def saving(curve: list[tuple], ref_accuracy: float, ref_tokens: float) -> float | None:
    reached = tokens_at_accuracy(curve, ref_accuracy)
    return None if reached is None else 1.0 - reached / ref_tokens


def summarise(split: Split, controller: str, betas: tuple[float, ...], seed: int = 0) -> dict:
    curve = split.curve(controller, betas)
    ref_acc, ref_tokens = split.curve("sc", (1.0,))[0][1], split.curve("sc", (1.0,))[0][0]
    peak_at = int(np.argmax([a for _, a in curve]))
    rng = np.random.default_rng(seed)
    savings, peaks = [], []
    for _ in range(RESAMPLES):
        idx = split.resample(rng)
        boot = split.curve(controller, betas, idx)
        ref = split.curve("sc", (1.0,), idx)[0]
        savings.append(saving(boot, ref[1], ref[0]))
        peaks.append(boot[peak_at][1])
    reached = [s for s in savings if s is not None]
    point = saving(curve, ref_acc, ref_tokens)
    return {
        "controller": controller,
        "curve": [
            {"beta": b, "tokens": round(t, 1), "accuracy": round(a, 3)} for b, (t, a) in zip(betas, curve, strict=True)
        ],
        "sc64_accuracy": round(ref_acc, 3),
        "sc64_tokens": round(ref_tokens, 1),
        "saving": None if point is None else round(point, 4),
        "saving_ci": [round(float(np.percentile(reached, q)), 4) for q in (2.5, 97.5)] if reached else None,
        "saving_reached_share": round(len(reached) / RESAMPLES, 3),
        "peak_accuracy": round(curve[peak_at][1], 3),
        "peak_beta": betas[peak_at],
        "peak_ci": [round(float(np.percentile(peaks, q)), 3) for q in (2.5, 97.5)],
        "peak_tokens": round(curve[peak_at][0], 1),
    }


def fmt_ci(value, ci, pct: bool = False) -> str:
    if value is None:
        return "not reached"
    scale = 100 if pct else 1
    text = f"{scale * value:.1f}"
    return text + (f" [{scale * ci[0]:.1f}, {scale * ci[1]:.1f}]" if ci else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--controllers", default="evo,cmc", help="compared with SC@64 (always evaluated)")
    parser.add_argument("--splits", default="heldout,search")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cache", type=Path, default=CACHE, help="per-controller results, reused while unchanged")
    args = parser.parse_args()
    controllers = [c for c in args.controllers.split(",") if c]
    report: dict = {"seeds": args.seeds, "betas": list(BETAS), "splits": {}}
    for split_name in args.splits.split(","):
        stores = split_stores(split_name)
        started = time.monotonic()
        split = Split(stores)
        collect(split, split_name, controllers, args.seeds, args.jobs, args.cache)
        rows = [summarise(split, c, BETAS) for c in controllers]
        paired = {}
        if "evo" in controllers and "cmc" in controllers:
            mean, low, high = paired_difference(split.acc[("evo", 1.0)], split.acc[("cmc", 1.0)])
            paired = {"evo_minus_cmc_at_beta_1": [round(mean, 3), round(low, 3), round(high, 3)]}
        report["splits"][split_name] = {"stores": list(stores), "rows": rows, **paired}
        print(f"\n{split_name} ({len(stores)} stores, {args.seeds} seeds, {time.monotonic() - started:.0f} s)")
        print(f"  SC@64: {rows[0]['sc64_accuracy']:.2f}% at {rows[0]['sc64_tokens'] / 1e3:.1f}k tokens")
        for row in rows:
            print(
                f"  {row['controller']:<6} saving vs SC@64 {fmt_ci(row['saving'], row['saving_ci'], pct=True)}%  "
                f"(reached in {100 * row['saving_reached_share']:.0f}% of resamples)  "
                f"peak {fmt_ci(row['peak_accuracy'], row['peak_ci'])}% at β={row['peak_beta']:g} "
                f"({row['peak_tokens'] / 1e3:.1f}k tokens)"
            )
        if split_name == "heldout":
            print(
                f"  published CMC: saving {100 * PUBLISHED_CMC['saving']:.1f}%, "
                f"peak {PUBLISHED_CMC['peak_accuracy']:.1f}%; targets: saving ≥ 80%, peak ≥ 48.0%"
            )
        if paired:
            m, lo, hi = paired["evo_minus_cmc_at_beta_1"]
            print(f"  evo − CMC at β=1: {m:+.2f} points [{lo:+.2f}, {hi:+.2f}] (paired over questions)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
