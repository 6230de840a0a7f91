"""What ``autotts serve`` adds per wave over the backend alone.

A scripted OpenAI-compatible backend on 127.0.0.1 answers every request at once (a fixed branch per
request seed, ``--hold`` seconds of simulated generation). ``autotts serve`` runs in its own process
in front of it and is called with the official ``openai`` SDK, one request at a time and then
``--concurrency`` at a time. Each reply's ``autotts`` field reports the request's wall time inside
the server and the backend's critical path (per wave, the slowest branch's requests, summed over
waves). Two figures per policy:

* **server overhead per wave** = (server wall − backend critical path) / waves: everything autotts
  does inside ``serve`` (episode accounting, the controller, thread hand-offs, answer extraction,
  decision log, metrics), the target being < 5 ms;
* **end-to-end overhead per wave** = (client wall − backend critical path) / waves: the same plus the
  client ↔ serve HTTP round trip (once per request, spread over its waves);
* **serve CPU per wave** (and per backend request): the serve process's CPU seconds over the run,
  which includes the ``openai`` client's own work for every backend request — the figure that does
  not depend on the neighbours. Under concurrency the wall-time overheads measure how long a wave
  waits for this one process's event loop (and the GIL) on a shared 2-core machine, not work done.

The backend's own time per request (SDK → backend → SDK) is measured alone as the reference.

    python benchmarks/bench_serve.py --out benchmarks/results/bench_serve.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from autotts.data.collect import DYNASOR_SUFFIX, request_seed

DELTA = 64
POOL = 64
INTERVALS = 6  # intervals per branch (the last ends it with a boxed answer)


class Backend:
    """Every (question 0, branch b, interval k) request seed maps to a scripted reply."""

    def __init__(self, hold: float):
        self.hold = hold
        self.requests = 0
        self.table = {}
        for b in range(POOL):
            for k in [-1, *range(INTERVALS)]:
                self.table[request_seed(0, 0, b, k)] = (b, k)
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers and body wait on the client's delayed ACK (~40 ms)

            def log_message(self, *args):
                pass

            def do_GET(self):
                self._send({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                b, k = backend.table[body["seed"]]
                backend.requests += 1
                if backend.hold:
                    time.sleep(backend.hold)
                prompt = body.get("prompt", "")
                if body.get("temperature") == 0 and prompt.endswith(DYNASOR_SUFFIX):
                    text, tokens, finish = f"{(b + k) % 4}}} \\]", 4, "stop"
                elif k == INTERVALS - 1:
                    text, tokens, finish = f" done \\boxed{{{b % 3}}}.", DELTA // 2, "stop"
                else:
                    text, tokens, finish = f" b{b} step {k}.", body["max_tokens"], "length"
                self._send(
                    {
                        "id": "x",
                        "object": "text_completion",
                        "created": 0,
                        "model": "scripted",
                        "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": tokens + 10},
                    }
                )

            def _send(self, payload):
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(policy: str, beta: float, backend: str, folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "autotts.cli", "serve", policy, "--allow-unapproved", "--beta", str(beta),
         "--backend", backend, "--model", "scripted", "--branches", str(POOL), "--interval", str(DELTA),
         "--max-tokens", str(DELTA * INTERVALS), "--port", str(port), "--max-concurrent", "64",
         "--backend-concurrency", "1024",
         "--decision-log", str(folder / f"{policy}.jsonl")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc, url + "/v1"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"serve {policy} did not start")


async def call(client, i: int) -> dict:
    started = time.perf_counter()
    reply = await client.chat.completions.create(
        model="policy",
        messages=[{"role": "user", "content": "question"}],
        extra_body={"autotts": {"seed": i}},
    )
    wall = time.perf_counter() - started
    s = reply.model_extra["autotts"]
    return {"client": wall, "server": s["wall_seconds"], "backend": s["backend_seconds"], "waves": s["waves"]}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(url: str, requests: int, concurrency: int) -> list[dict]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key="-", max_retries=0, timeout=300)
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> dict:
        async with slots:
            return await call(client, i)

    try:
        await one(10_000)  # warm-up
        return await asyncio.gather(*(one(i) for i in range(1, requests + 1)))
    finally:
        await client.close()


async def backend_alone(url: str, requests: int) -> list[float]:
    from autotts.backends import ServerClient

    client = ServerClient(url, "scripted", timeout=60)
    times = []
    try:
        for i in range(requests):
            started = time.perf_counter()
            await client.generate("p", max_tokens=DELTA, temperature=0.7, seed=request_seed(0, 0, i % POOL, 0))
            times.append(time.perf_counter() - started)
    finally:
        await client.close()
    return times


def ms(x: float) -> float:
    return round(1000 * x, 3)


def summarise(rows: list[dict], cpu: float, backend_requests: int) -> dict:
    server = [(r["server"] - r["backend"]) / r["waves"] for r in rows]
    client = [(r["client"] - r["backend"]) / r["waves"] for r in rows]
    return {
        "requests": len(rows),
        "waves_per_request": statistics.mean(r["waves"] for r in rows),
        "server_overhead_ms_per_wave": {"median": ms(statistics.median(server)), "p95": ms(_p95(server))},
        "end_to_end_overhead_ms_per_wave": {"median": ms(statistics.median(client)), "p95": ms(_p95(client))},
        "serve_cpu_ms_per_wave": ms(cpu / sum(r["waves"] for r in rows)),
        "serve_cpu_ms_per_backend_request": ms(cpu / backend_requests),
        "backend_critical_path_s": round(statistics.median(r["backend"] for r in rows), 4),
        "client_wall_s": round(statistics.median(r["client"] for r in rows), 4),
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--hold", type=float, default=0.005, help="simulated seconds per backend request")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    backend = Backend(args.hold)
    alone = asyncio.run(backend_alone(backend.url, 50))
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "settings": {"delta": DELTA, "pool": POOL, "intervals": INTERVALS, "hold_s": args.hold},
        "backend_alone_ms_per_request": {"median": ms(statistics.median(alone)), "p95": ms(_p95(alone))},
        "policies": {},
    }
    print(f"backend alone (SDK -> backend -> SDK): {result['backend_alone_ms_per_request']} ms per request")
    with tempfile.TemporaryDirectory() as tmp:
        for policy, beta in (("sc", 0.5), ("cmc", 0.5), ("esc", 0.5)):
            proc, url = start_serve(policy, beta, backend.url, Path(tmp))
            try:
                entry = {}
                for label, conc in (("sequential", 1), (f"concurrent {args.concurrency}", args.concurrency)):
                    cpu0, asked0 = cpu_seconds(proc.pid), backend.requests
                    rows = asyncio.run(measure(url, args.requests, conc))
                    cpu, asked = cpu_seconds(proc.pid) - cpu0, backend.requests - asked0
                    entry[label] = summarise(rows, cpu, asked)
                    s = entry[label]
                    print(
                        f"{policy}@{beta:g} {label:>14}: {s['waves_per_request']:.1f} waves/request, server overhead "
                        f"{s['server_overhead_ms_per_wave']['median']:.2f} ms/wave (p95 "
                        f"{s['server_overhead_ms_per_wave']['p95']:.2f}), end to end "
                        f"{s['end_to_end_overhead_ms_per_wave']['median']:.2f} ms/wave; backend critical path "
                        f"{s['backend_critical_path_s']:.3f} s of {s['client_wall_s']:.3f} s; serve CPU "
                        f"{s['serve_cpu_ms_per_wave']:.1f} ms/wave, "
                        f"{s['serve_cpu_ms_per_backend_request']:.2f} ms/backend request"
                    )
                result["policies"][f"{policy}@{beta:g}"] = entry
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
    backend.httpd.shutdown()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"-> {args.out}")


if __name__ == "__main__":
    main()
