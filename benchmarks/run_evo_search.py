"""Run the evolve search at full size on the search stores and save its result as JSON.

    python benchmarks/run_evo_search.py --minutes 25 --out benchmarks/results/evo_search.json
    python benchmarks/run_evo_search.py --cpu-minutes 30 --init benchmarks/results/evo_search.progress.json
    python benchmarks/run_evo_search.py --render src/autotts/controllers/evo.py   # ship the result

The first form searches (search stores only; never a held-out store) and writes the ranked finalists,
the configuration, the seed and the cost in CPU-minutes. ``--render`` turns a saved result into the
registered ``evo`` controller file, with its provenance in the docstring.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from autotts.discovery.evolve import EvolveConfig, cpu_seconds, evolve, render_controller, seed_genomes
from autotts.discovery.evolve.render import EVO_TITLE

DEFAULT_OUT = Path(__file__).parent / "results" / "evo_search.json"


def search(args: argparse.Namespace) -> None:
    config = EvolveConfig(
        betas=tuple(float(b) for b in args.betas.split(",")),
        population=args.population,
        generations=args.generations,
        seeds=args.seeds,
        finalist_seeds=args.finalist_seeds,
        finalists=args.finalists,
        seed=args.seed,
        time_limit_s=args.minutes * 60,
        cpu_limit_s=args.cpu_minutes * 60 if args.cpu_minutes else None,
    )
    initial = None
    if args.init:  # continue from a saved result or progress file: its genomes first, then the baselines
        saved = json.loads(args.init.read_text())
        initial = [entry["genome"] for entry in saved.get("top", saved.get("finalists", []))] + seed_genomes()
    started = time.monotonic()
    checkpoint = args.out.with_suffix(".progress.json")
    args.out.parent.mkdir(parents=True, exist_ok=True)

    cpu_start = cpu_seconds()

    def report(gen: int, ranked: list) -> None:
        best = ranked[0].score
        print(
            f"gen {gen:2d}  {time.monotonic() - started:6.0f}s  {(cpu_seconds() - cpu_start) / 60:5.1f} CPU-min  "
            f"best fitness {best.fitness:7.3f}  "
            f"peak {best.peak:5.2f}  saving {best.saving:6.3f}  auc {best.auc:5.2f}",
            flush=True,
        )
        top = [{"genome": i.genome, "score": i.score.to_json()} for i in ranked[:5]]
        checkpoint.write_text(json.dumps({"generation": gen, "top": top}, indent=1))

    result = evolve(config, initial, jobs=args.jobs, on_generation=report)
    payload = result.to_json()
    payload["command"] = " ".join(sys.argv)
    payload["prior_cpu_minutes"] = args.prior_cpu_minutes
    payload["total_cpu_minutes"] = round(payload["cpu_minutes"] + args.prior_cpu_minutes, 2)
    args.out.write_text(json.dumps(payload, indent=1))
    best = result.best.score
    print(
        f"done: {result.evaluations} genomes scored, {result.cpu_seconds / 60:.1f} CPU-min "
        f"(+{args.prior_cpu_minutes} before), "
        f"{result.wall_seconds / 60:.1f} wall-min; best on {config.finalist_seeds} seeds: "
        f"peak {best.peak:.2f}, saving {best.saving:.3f} -> {args.out}"
    )


def render(args: argparse.Namespace) -> None:
    payload = json.loads(args.out.read_text())
    provenance = {
        "command": payload.get("command", ""),
        "config": payload["config"],
        "cpu_minutes": payload.get("total_cpu_minutes", payload["cpu_minutes"]),
        "wall_minutes": payload["wall_minutes"],
        "evaluations": payload["evaluations"],
        "search_score": payload["finalists"][0]["score"],
    }
    if args.note:
        provenance["note"] = args.note
    source = render_controller(
        payload["finalists"][0]["genome"],
        class_name="EvolvedController",
        builtin=True,
        provenance=provenance,
        title=EVO_TITLE,
    )
    args.render.write_text(source)
    print(f"wrote {args.render}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=25.0, help="wall-clock limit of the generations")
    parser.add_argument("--cpu-minutes", type=float, default=None, help="CPU limit of the generations (all workers)")
    parser.add_argument("--finalists", type=int, default=4)
    parser.add_argument("--betas", default="0,0.25,0.5,0.75,1", help="β grid of the population's fitness")
    parser.add_argument(
        "--init", type=Path, default=None, help="start from the genomes of a saved result/progress file"
    )
    parser.add_argument("--prior-cpu-minutes", type=float, default=0.0, help="CPU spent by the search --init continues")
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--generations", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=8, help="seeds per genome during the search")
    parser.add_argument("--finalist-seeds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--note", default="", help="with --render: a provenance note for the docstring")
    parser.add_argument("--render", type=Path, default=None, help="render a saved result as the evo controller")
    args = parser.parse_args()
    if args.render:
        render(args)
    else:
        search(args)


if __name__ == "__main__":
    main()
