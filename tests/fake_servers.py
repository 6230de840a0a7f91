"""Loopback HTTP servers that speak the OpenAI chat-completions and Anthropic Messages protocols.

They run on 127.0.0.1 in a thread, answer with scripted replies, record every request, and can fail
the first requests with given HTTP statuses (to exercise the clients' retries). The Anthropic server
streams (server-sent events) when asked to, as the Claude Code CLI requires, and can answer with a
tool call.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: text, and optionally one tool call ``(name, input)``."""

    text: str = ""
    tool: tuple[str, dict[str, Any]] | None = None
    input_tokens: int = 1000
    output_tokens: int = 500


Responder = Callable[[dict[str, Any], int], Reply]


@dataclass
class FakeServer:
    """``kind`` is ``"openai"`` or ``"anthropic"``; ``responder(body, n)`` makes the n-th reply (0-based)."""

    kind: str
    responder: Responder
    fail_first: list[int] = field(default_factory=list)  # HTTP statuses for the first requests
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._served = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # model listings and health checks
                self._send_json(200, {"data": [], "object": "list"})

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {}
                server.paths.append(self.path)
                if "count_tokens" in self.path:
                    self._send_json(200, {"input_tokens": 100})
                    return
                with server._lock:
                    failing = server.fail_first.pop(0) if server.fail_first else None
                    if failing is None:
                        server.requests.append(body)
                        index = server._served
                        server._served += 1
                if failing is not None:
                    self._send_json(
                        failing,
                        {"error": {"type": "overloaded_error", "message": "try again"}},
                        extra={"retry-after-ms": "10", "retry-after": "0"},
                    )
                    return
                reply = server.responder(body, index)
                if server.kind == "openai":
                    self._send_json(200, openai_completion(body, reply))
                elif body.get("stream"):
                    self._send_sse(anthropic_events(body, reply))
                else:
                    self._send_json(200, anthropic_message(body, reply))

            def _send_json(self, status: int, payload: dict, extra: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _send_sse(self, events: list[tuple[str, dict]]) -> None:
                data = "".join(f"event: {name}\ndata: {json.dumps(payload)}\n\n" for name, payload in events).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def openai_completion(body: dict, reply: Reply) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        },
    }


def _content_blocks(reply: Reply) -> list[dict]:
    blocks: list[dict] = []
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    if reply.tool:
        name, arguments = reply.tool
        blocks.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": name, "input": arguments})
    return blocks


def anthropic_message(body: dict, reply: Reply) -> dict:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "fake"),
        "content": _content_blocks(reply),
        "stop_reason": "tool_use" if reply.tool else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    }


def anthropic_events(body: dict, reply: Reply) -> list[tuple[str, dict]]:
    """The Messages API's streaming events for one reply."""
    message = anthropic_message(body, reply)
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
    }
    events: list[tuple[str, dict]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                )
            )
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            empty = {**block, "input": {}}
            events.append(
                ("content_block_start", {"type": "content_block_start", "index": index, "content_block": empty})
            )
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": reply.output_tokens},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def last_user_text(body: dict) -> str:
    """Text of the last user message (string or content blocks), for responders that branch on it."""
    messages = body.get("messages") or []
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return " ".join(str(block.get("text") or block.get("content") or "") for block in content or [])
    return ""


def has_tool_result(body: dict) -> bool:
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list) and any(block.get("type") == "tool_result" for block in content):
            return True
    return False
