"""``autotts serve``: an OpenAI-compatible chat-completions endpoint that answers with a policy.

FastAPI on uvicorn (see ``docs/live.md`` for why). Endpoints:

* ``POST /v1/chat/completions`` — the question is the last user message; the policy plays one live
  episode and the reply is a ``chat.completion`` whose message is the policy's answer, whose
  ``usage`` is ``prompt_tokens`` (the backend's, summed over requests) and ``completion_tokens``
  (the tokens the policy was charged, as replay charges them), and whose extension field
  ``autotts`` summarises the decisions (branches opened, intervals, prunes, waves, stop reason,
  token and wall latency, the trace). Optional request field ``autotts`` (``extra_body`` in the
  SDK): ``seed`` (episode seed: branch order), ``question_index`` (the collect question index ``q``
  of the request seeds), ``gold`` (canonicalise answers against it), ``deadline`` (seconds).
* ``GET /v1/models`` — the policy, as the one model served.
* ``GET /healthz`` — status (``ok`` or ``draining``), load, and the drift monitor's state.
* ``GET /metrics`` — Prometheus text format.

Errors are OpenAI-shaped (``{"error": {"message", "type", "code"}}``): 400 bad request, 429
overloaded (with ``Retry-After``), 502 backend failed, 503 shutting down, 504 deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .service import LiveService, Overloaded


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}}, status_code=status, headers=headers
    )


def _text(content: Any) -> str | None:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if parts and all(isinstance(p, str) for p in parts):
            return "\n".join(parts)
    return None


def parse_request(body: Any) -> tuple[str, dict[str, Any]]:
    """The question and the ``autotts`` options of a chat-completions body; ValueError names the field."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("field 'messages' must be a non-empty list")
    question = None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            question = _text(message.get("content"))
            if question is None:
                raise ValueError("field 'messages[].content' of the last user message must be text")
            break
    if not question or not question.strip():
        raise ValueError("field 'messages' needs a user message with the question")
    if body.get("stream"):
        raise ValueError("field 'stream': streaming is not supported (the answer exists only once the policy stops)")
    if body.get("n", 1) not in (1, None):
        raise ValueError("field 'n': only n=1 (the policy returns one answer)")
    options = body.get("autotts") or {}
    if not isinstance(options, dict):
        raise ValueError("field 'autotts' must be an object")
    out: dict[str, Any] = {}
    for key, kind in (("seed", int), ("question_index", int), ("gold", str), ("deadline", float)):
        if key in options and options[key] is not None:
            value = options[key]
            ok = (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                if kind is float
                else isinstance(value, kind)
            )
            if not ok or isinstance(value, bool):
                raise ValueError(f"field 'autotts.{key}' must be {'a number' if kind is float else kind.__name__}")
            if kind is int and value < 0:
                raise ValueError(f"field 'autotts.{key}' must not be negative")
            if kind is float and value <= 0:
                raise ValueError(f"field 'autotts.{key}' must be positive")
            out[key] = value
    unknown = sorted(set(options) - {"seed", "question_index", "gold", "deadline"})
    if unknown:
        raise ValueError(f"field 'autotts': unknown option(s) {', '.join(unknown)}")
    return question, out


def build_app(service: LiveService, *, default_seed: int = 0) -> FastAPI:
    """The ASGI application around ``service`` (entered and closed by the app's lifespan)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with service:
            yield
        # requests still running after the drain were failed cleanly (503)
        print(f"serve: stopped ({service.failed_at_shutdown} requests failed at shutdown)", file=sys.stderr, flush=True)

    app = FastAPI(title="autotts serve", lifespan=lifespan, docs_url=None, redoc_url=None)
    policy = service.policy_info

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        try:
            body = await request.json()
        except Exception:  # noqa: BLE001 - any undecodable body is the client's error
            return _error(400, "the body is not JSON", "invalid_request_error")
        try:
            question, options = parse_request(body)
        except ValueError as exc:
            return _error(400, str(exc), "invalid_request_error")
        request_id = request.headers.get("x-request-id") or None
        handler = asyncio.current_task()

        async def watch() -> None:  # a client that hangs up abandons its episode (and its generations)
            while True:
                await asyncio.sleep(0.25)
                if await request.is_disconnected():
                    handler.cancel()
                    return

        watcher = asyncio.create_task(watch())
        try:
            result = await service.answer(
                question,
                request_id=request_id,
                seed=options.get("seed", default_seed),
                question_index=options.get("question_index", 0),
                gold=options.get("gold"),
                deadline=options.get("deadline"),
            )
        except Overloaded as exc:
            status = 503 if service.draining else 429
            return _error(status, str(exc), "overloaded", {"Retry-After": str(int(max(1, exc.retry_after)))})
        finally:
            watcher.cancel()
        summary = result.summary(policy)
        if result.status != 200:
            kind = {504: "timeout", 502: "backend_error", 503: "unavailable"}.get(result.status, "policy_error")
            response = _error(result.status, result.error or "failed", kind)
            response.headers["x-autotts-request-id"] = result.request_id
            return response
        usage = {
            "prompt_tokens": result.usage["prompt_tokens"],
            "completion_tokens": result.tokens,
            "total_tokens": result.usage["prompt_tokens"] + result.tokens,
        }
        return JSONResponse(
            {
                "id": f"chatcmpl-{result.request_id}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": policy["policy"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.answer if result.answer is not None else ""},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": usage,
                "autotts": summary,
            },
            headers={"x-autotts-request-id": result.request_id},
        )

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": policy["policy"], "object": "model", "owned_by": "autotts"}]}

    @app.get("/healthz")
    async def healthz():
        state = {
            "status": "draining" if service.draining else "ok",
            **policy,
            "backend": service.config.base_url,
            "in_flight": len(service._episodes),
            "queued": service._queued,
            "backend_in_flight": service.backend.in_flight,
            "drift": service.drift.status(),
        }
        return JSONResponse(state, status_code=503 if service.draining else 200)

    @app.get("/metrics")
    async def metrics():
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return app


def serve(app: Any, service: LiveService, *, host: str, port: int, drain: float, on_ready=None) -> None:
    """Run ``app`` under uvicorn until SIGINT/SIGTERM. On the signal: stop accepting, refuse new
    requests with 503, let requests in flight finish for up to ``drain`` seconds, then fail the rest
    cleanly (their generations cancelled) and exit."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if not service.draining and service.loop is not None and not service.loop.is_closed():
                # after the drain, fail what is still running with a clean 503 (uvicorn waits a little
                # longer, so those answers go out before it closes the connections)
                loop = service.loop
                loop.call_soon_threadsafe(lambda: loop.call_later(drain, service.abort_all))
            service.draining = True
            super().handle_exit(sig, frame)

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if on_ready is not None and self.started:
                on_ready()

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=drain + 5, access_log=False
    )
    Server(config).run()
