"""A scripted OpenAI-compatible inference server on 127.0.0.1, for the collector's tests.

It serves ``/v1/completions`` and ``/v1/chat/completions`` from a script of known branches: for each
question, each branch is a list of interval texts with their token counts, the probe replies after
each interval and the finish reason of its last interval. A request is matched to (question,
branch, interval) through its sampling seed (the collector's ``request_seed``) and checked: the
prompt must end with exactly the text the branch generated so far (plus the probe suffix for a
probe), and ``max_tokens`` must be what the interval needs. A mismatch answers HTTP 400, so a
collector that continues the wrong text fails loudly.

Faults, consumed in order by the next requests: ``"429"``, ``"500"``, ``"503"``, ``"timeout"`` (answers
after ``slow`` seconds, past the client's time-out), ``"drop"`` (closes the connection without a
reply) and ``"drop_mid"`` (sends half a reply, then closes).
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from autotts.data.collect import request_seed


@dataclass
class ScriptBranch:
    texts: list[str]  # interval texts
    tokens: list[int]  # usage.completion_tokens of each interval
    probes: list[str]  # probe reply after each interval but the last
    finish: str = "stop"  # finish reason of the last interval
    final_probe: str = "7}"
    confidence: list[float] = field(default_factory=list)  # per interval; the logprobs are built to give it


@dataclass
class Script:
    seed: int
    questions: list[list[ScriptBranch]]
    probe_suffix: str
    interval: int
    top_k: int = 3

    def lookup(self) -> dict[int, tuple[int, int, int]]:
        table = {}
        for q, branches in enumerate(self.questions):
            for b, branch in enumerate(branches):
                for k in [-1, *range(len(branch.texts))]:
                    table[request_seed(self.seed, q, b, k)] = (q, b, k)
        return table


def token_logprobs(confidence: float, top_k: int) -> list[float]:
    """Top-k log-probabilities whose DeepConf token confidence (minus their mean) is ``confidence``."""
    chosen = -0.01
    rest = (-confidence * top_k - chosen) / (top_k - 1)
    return [chosen] + [rest] * (top_k - 1)


class InferenceServer:
    def __init__(
        self,
        script: Script,
        *,
        faults: list[str] | None = None,
        slow: float = 2.0,
        delay: float = 0.0,
        echo_prefill: bool = False,
    ):
        self.script = script
        self.echo_prefill = echo_prefill  # answer a continued assistant message whole, as llama.cpp does
        self.faults = list(faults or [])
        self.slow = slow
        self.delay = delay
        self.seeds = script.lookup()
        self.served: list[tuple[str, int, int, int]] = []  # (kind, q, b, k) of every answered request
        self.faulted: list[str] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(raw) < length:  # the client died mid-request (kill -9): nobody to answer
                    self.close_connection = True
                    return
                body = json.loads(raw or b"{}")
                with server._lock:
                    fault = server.faults.pop(0) if server.faults else None
                    if fault:
                        server.faulted.append(fault)
                if fault in ("429", "500", "503"):
                    headers = {"Retry-After": "0"} if fault == "429" else {}
                    self._json(int(fault), {"error": {"message": f"scripted {fault}"}}, headers)
                    return
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "drop_mid":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b'{"choices": [')
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "timeout":
                    time.sleep(server.slow)
                if server.delay:
                    time.sleep(server.delay)
                status, payload = server.answer(self.path, body)
                self._json(status, payload)

            def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (time-out): nothing to answer

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> InferenceServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # ------------------------------------------------------------------ replies

    def _bad(self, message: str) -> tuple[int, dict]:
        self.errors.append(message)
        return 400, {"error": {"message": message}}

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict]:
        chat = path.endswith("/chat/completions")
        if chat:
            messages = body.get("messages") or []
            prompt = messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""
        else:
            prompt = body.get("prompt", "")
        where = self.seeds.get(body.get("seed"))
        if where is None:
            return self._bad(f"unknown seed {body.get('seed')!r}")
        q, b, k = where
        branch = self.script.questions[q][b]
        suffix = self.script.probe_suffix
        is_probe = body.get("temperature") == 0 and prompt.endswith(suffix)
        if is_probe:
            upto = len(branch.texts) if k == -1 else k + 1
            expected = "".join(branch.texts[:upto]) + suffix
            if not prompt.endswith(expected):
                return self._bad(f"probe q{q}/b{b}/k{k}: prompt does not end with the branch text + suffix")
            reply = branch.final_probe if k == -1 else branch.probes[k]
            kind, tokens, finish, conf = ("final_probe" if k == -1 else "probe"), max(1, len(reply) // 2), "stop", None
        else:
            if k < 0 or k >= len(branch.texts):
                return self._bad(f"interval q{q}/b{b}/k{k} is not in the script")
            expected = "".join(branch.texts[:k])
            if not prompt.endswith(expected):
                return self._bad(f"interval q{q}/b{b}/k{k}: prompt does not continue the branch text")
            if body.get("max_tokens") != self.script.interval:
                return self._bad(f"interval q{q}/b{b}/k{k}: max_tokens {body.get('max_tokens')}")
            reply, tokens = branch.texts[k], branch.tokens[k]
            last = k == len(branch.texts) - 1
            finish = branch.finish if last else "length"
            kind = "interval"
            conf = branch.confidence[k] if branch.confidence else None
        with self._lock:
            self.served.append((kind, q, b, k))
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
        wants_logprobs = body.get("logprobs") if not chat else body.get("top_logprobs")
        logprobs = None
        if wants_logprobs and conf is not None and not is_probe:
            rows = [token_logprobs(conf, self.script.top_k) for _ in range(tokens)]
            if chat:
                logprobs = {
                    "content": [
                        {
                            "token": "t",
                            "logprob": r[0],
                            "top_logprobs": [{"token": f"t{i}", "logprob": v} for i, v in enumerate(r)],
                        }
                        for r in rows
                    ]
                }
            else:
                logprobs = {"top_logprobs": [{f"t{i}": v for i, v in enumerate(r)} for r in rows]}
        if chat:
            choice["message"] = {"role": "assistant", "content": (prompt if self.echo_prefill else "") + reply}
            choice["logprobs"] = logprobs
            obj = "chat.completion"
        else:
            choice["text"] = reply
            choice["logprobs"] = logprobs
            obj = "text_completion"
        return 200, {
            "id": "cmpl-scripted",
            "object": obj,
            "created": 0,
            "model": body.get("model", "scripted"),
            "choices": [choice],
            "usage": {
                "prompt_tokens": math.ceil(len(prompt) / 4),
                "completion_tokens": tokens,
                "total_tokens": tokens + math.ceil(len(prompt) / 4),
            },
        }


def make_script(
    seed: int,
    questions: int,
    branches: int,
    interval: int,
    probe_suffix: str,
    *,
    max_intervals: int = 3,
) -> Script:
    """A deterministic script of varied branches: lengths 1..max_intervals intervals, some cut by
    length, some boxing an answer, probes that close or do not close their box, confidences."""
    qs = []
    for q in range(questions):
        bs = []
        for b in range(branches):
            n = 1 + (q + 2 * b) % max_intervals
            texts = [f" q{q}b{b} step {k} {{x}} reasoning." for k in range(n)]
            if b % 4 == 1:
                texts[0] += " Put the answer within \\boxed{}."  # an empty box is no answer
            # a branch cut by length must reach max_tokens (max_intervals intervals); others stop early
            cut = n == max_intervals and (q + b) % 2 == 0
            tokens = [interval] * (n - 1) + [interval if cut else max(1, interval // 2 + b % 3)]
            finish = "length" if cut else "stop"
            if finish == "stop" and b % 2 == 0:
                texts[-1] += f" So the answer is \\boxed{{{(q + b) % 4}}}."
            probes = []
            for k in range(n - 1):
                if (b + k) % 4 == 3:
                    probes.append(" still thinking")  # never closes the box: ERR
                elif (b + k) % 4 == 2:
                    probes.append("\\frac{1}{2}} \\]")  # equals 0.5 under math-verify
                else:
                    probes.append(f"{(q + b + k) % 3}}} \\]")
            conf = [round(1.0 + 0.25 * ((b + k) % 5), 4) for k in range(n)]
            final_probe = "0.5} \\]" if b % 3 == 1 else f"{q % 3}}}"
            bs.append(ScriptBranch(texts, tokens, probes, finish, final_probe, conf))
        qs.append(bs)
    return Script(seed=seed, questions=qs, probe_suffix=probe_suffix, interval=interval)
