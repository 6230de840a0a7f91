"""Helpers for the live tests: a scripted backend whose branches come from a replay store, the replay
questions holding exactly those branches, and ``autotts serve`` started as a user starts it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autotts.data.collect import DYNASOR_SUFFIX
from autotts.data.collect.answers import boxed_answer, clean, probe_answer
from autotts.data.collect.collector import request_seed
from autotts.data.lookup import load_store
from autotts.data.store import Branch, Question
from fake_inference import InferenceServer, Script, ScriptBranch

AUTOTTS = [sys.executable, "-m", "autotts.cli"]
DELTA = 32


def script_from_store(store: str, questions: int, branches: int, max_probes: int, *, delta: int = DELTA) -> Script:
    """A script whose branches are the store's (their probe answers and final answers), cut to at
    most ``max_probes`` probes, each interval Δ tokens but the last (a store's own lengths, scaled)."""
    qs = []
    for q in load_store(store).questions[:questions]:
        bs = []
        for b, branch in enumerate(q.branches[:branches]):
            probes = min(branch.probes, max_probes)
            answers = list(branch.steps[:probes])
            last = 1 + branch.tokens % delta  # 1..Δ tokens: a branch's length, never a multiple of Δ by design
            texts = [f" q{q.index}b{b}k{k} thinking." for k in range(probes + 1)]
            texts[-1] += f" The answer is \\boxed{{{branch.final}}}."
            replies = [f"{a}}} \\]" for a in answers]
            confidence = [round(0.5 + ((b * 7 + k) % 11) / 10, 4) for k in range(probes + 1)]
            bs.append(ScriptBranch(texts, [delta] * probes + [last], replies, "stop", "0}", confidence))
        qs.append(bs)
    return Script(seed=0, questions=qs, probe_suffix=DYNASOR_SUFFIX, interval=delta)


def replay_questions(script: Script, golds: list[str | None] | None = None) -> list[Question]:
    """The replay questions holding exactly the script's branches (what collect would store)."""
    out = []
    for q, branches in enumerate(script.questions):
        pool = []
        for branch in branches:
            probes = [probe_answer(reply) for reply in branch.probes]
            boxed = boxed_answer("".join(branch.texts))
            final = clean(boxed) if boxed is not None else probe_answer(branch.final_probe)
            steps = (*probes, final)
            pool.append(Branch(len(probes), sum(branch.tokens), final, steps, tuple(branch.confidence)))
        gold = golds[q] if golds else None
        out.append(Question(q, f"question {q}", gold, script.interval, tuple(pool)))
    return out


class TrackingServer(InferenceServer):
    """The scripted server, also counting requests in flight, remembering when each (question,
    branch) was last asked for, and failing chosen branches for good or holding requests."""

    def __init__(
        self,
        script: Script,
        *,
        broken: set[tuple[int, int]] | dict[tuple[int, int], str] | None = None,
        hold: float = 0.0,
        **kw: Any,
    ):
        super().__init__(script, **kw)
        # (question, branch) -> how its every request fails: "500", "hang" (answers after ``slow``
        # seconds, past the client's time-out) or "drop" (closes the connection without a reply)
        self.broken = dict.fromkeys(broken, "500") if isinstance(broken, set) else dict(broken or {})
        self._httpd.handle_error = lambda *args: None  # a dropped connection is the point, not news
        self.hold = hold
        self.in_flight = 0
        self.peak = 0
        self.requests = 0
        self.log: list[tuple[int, int, float]] = []  # (question, pool branch, time.time()) of every request
        self._count = threading.Lock()

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict]:
        where = self.seeds.get(body.get("seed"))
        with self._count:
            self.in_flight += 1
            self.requests += 1
            self.peak = max(self.peak, self.in_flight)
            if where is not None:
                self.log.append((where[0], where[1], time.time()))
        try:
            if self.hold:
                time.sleep(self.hold)
            fault = self.broken.get(where[:2]) if where is not None else None
            if fault == "500":
                return 500, {"error": {"message": f"scripted failure of branch {where[:2]}"}}
            if fault == "hang":
                time.sleep(self.slow)
            if fault == "drop":
                raise ConnectionAbortedError("scripted drop")
            return super().answer(path, body)
        finally:
            with self._count:
                self.in_flight -= 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@contextmanager
def serve(
    *args: str, cwd: Path, env: dict[str, str] | None = None, wait: float = 120
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``autotts serve ARGS --port P`` in a process of its own; yields its base URL (…/v1)."""
    port = free_port()
    log = (cwd / f"serve-{port}.log").open("w")
    proc = subprocess.Popen(
        [*AUTOTTS, "serve", *args, "--port", str(port)],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                if get(base + "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not come up: {(cwd / f'serve-{port}.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield base + "/v1", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def serve_log(cwd: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(cwd.glob("serve-*.log")))


def post(url: str, body: dict | bytes, timeout: float = 60) -> tuple[int, dict[str, str], dict]:
    """POST JSON (or raw bytes); returns status, headers (lower-case names) and the JSON reply."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, json.loads(exc.read() or b"{}")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def metric(text: str, name: str, labels: str = "") -> float:
    """A sample's value from Prometheus text (``name{labels}``); 0 when absent."""
    key = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    return 0.0


def seeds_of(script: Script, q: int, b: int) -> set[int]:
    return {request_seed(script.seed, q, b, k) for k in range(-1, len(script.questions[q][b].texts))}
