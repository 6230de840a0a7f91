"""An asynchronous client for OpenAI-compatible inference servers.

One call, :meth:`ServerClient.generate`, sends one request for one continuation (never ``n`` > 1:
some servers ignore it) and returns the text, the finish reason, the server's own ``usage`` counts
and, when asked, the top-k log-probabilities of each generated token.

Two APIs:

* ``completions`` (``/v1/completions``): the prompt is plain text, so continuing a branch is sending
  the same prefix plus what was generated so far; a server with a prefix cache (vLLM, SGLang,
  llama.cpp) then only computes the new tokens. This is the API for base models and for users who
  give their own chat template.
* ``chat`` (``/v1/chat/completions``): the server applies its chat template; a partial assistant
  message is continued (vLLM's ``continue_final_message``; llama.cpp continues a trailing assistant
  message by itself).

Retries are ours rather than the SDK's (its ``max_retries`` is set to 0) so that every retry is
counted and shown in progress lines, and so the policy is the same for every server: 429, 408, 409,
5xx, time-outs and dropped connections are retried with exponential backoff and jitter, honouring a
``Retry-After`` header; any other error is raised at once as :class:`BackendError`.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

RETRY_STATUSES = frozenset({408, 409, 429})  # plus every 5xx


class BackendError(RuntimeError):
    """A request failed for good (a non-retryable status, or retries exhausted)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed request.

    The delay before retry ``a`` (0-based) is ``min(cap, base * 2**a)`` scaled by a random factor in
    [0.5, 1] (jitter, so many branches that failed together do not come back together); a server's
    ``Retry-After`` wins when it asks for longer, up to ``cap``.
    """

    attempts: int = 8
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        wait = min(self.cap, self.base * 2**attempt) * (0.5 + 0.5 * rng.random())
        if retry_after is not None:
            wait = max(wait, min(self.cap, retry_after))
        return wait


@dataclass(frozen=True)
class Generation:
    """One server reply. ``tokens``/``prompt_tokens`` are the server's ``usage`` figures;
    ``top_logprobs`` holds, per generated token, the log-probabilities of the top-k candidates
    (None when the server sent none)."""

    text: str
    tokens: int
    prompt_tokens: int
    finish_reason: str
    top_logprobs: list[list[float]] | None = None
    cached_tokens: int | None = None


def token_confidence(top: list[float]) -> float:
    """DeepConf's token confidence: minus the mean log-probability of the top-k candidates.

    High when the model is sure (the top candidates other than the chosen one are very unlikely).
    Averaging over the candidates the server returned keeps it defined when a server sends fewer
    than k (e.g. a vocabulary tail)."""
    return -sum(top) / len(top) if top else 0.0


@dataclass
class ServerStats:
    """Counters shown in progress lines and written to the store's metadata."""

    requests: int = 0
    retries: int = 0
    failures_by_kind: dict[str, int] = field(default_factory=dict)

    def failed(self, kind: str) -> None:
        self.retries += 1
        self.failures_by_kind[kind] = self.failures_by_kind.get(kind, 0) + 1


class ServerClient:
    """An OpenAI-compatible server at ``base_url`` serving ``model``.

    ``api`` is ``"completions"`` or ``"chat"``; ``extra_body`` is merged into every request (server
    specific knobs such as vLLM's ``top_k`` or llama.cpp's ``cache_prompt``).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api: str = "completions",
        api_key: str | None = None,
        timeout: float = 600.0,
        retry: RetryPolicy | None = None,
        extra_body: dict[str, Any] | None = None,
        rng_seed: int = 0,
    ) -> None:
        if api not in ("completions", "chat"):
            raise ValueError(f"api must be 'completions' or 'chat', got {api!r}")
        import openai  # imported here so the package imports without the optional dependency

        self._openai = openai
        self.base_url = base_url
        self.model = model
        self.api = api
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.extra_body = dict(extra_body or {})
        self.stats = ServerStats()
        self._rng = random.Random(rng_seed)
        # a local server needs no key, but the SDK insists on one
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=0
        )

    async def served_models(self) -> list[str] | None:
        """Model ids the server lists (``GET /models``), for the record; None if it lists none."""
        try:
            page = await self._client.models.list()
            return [m.id for m in page.data]
        except Exception:  # best effort: a server without the endpoint can still be collected from
            return None

    async def close(self) -> None:
        await self._client.close()

    async def generate(
        self,
        prompt: str,
        *,
        max_tokens: int,
        temperature: float,
        top_p: float = 1.0,
        seed: int | None = None,
        top_logprobs: int = 0,
        stop: list[str] | None = None,
        messages_prefix: list[dict[str, str]] | None = None,
    ) -> Generation:
        """Continue ``prompt``. With ``api="chat"``, ``messages_prefix`` (system and user messages)
        comes first and ``prompt`` is the partial assistant message to continue (may be empty)."""
        attempt = 0
        while True:
            self.stats.requests += 1
            try:
                if self.api == "completions":
                    return await self._completion(prompt, max_tokens, temperature, top_p, seed, top_logprobs, stop)
                return await self._chat(
                    messages_prefix or [], prompt, max_tokens, temperature, top_p, seed, top_logprobs, stop
                )
            except self._openai.APIStatusError as exc:
                status = exc.status_code
                if status not in RETRY_STATUSES and status < 500:
                    raise BackendError(f"{self.base_url}: HTTP {status}: {_message(exc)}") from None
                kind, retry_after = f"HTTP {status}", _retry_after(exc)
            except self._openai.APITimeoutError:
                kind, retry_after = "timeout", None
            except self._openai.APIConnectionError as exc:
                kind, retry_after = f"connection ({type(exc.__cause__).__name__ if exc.__cause__ else 'dropped'})", None
            except BackendError:
                raise
            if attempt + 1 >= self.retry.attempts:
                raise BackendError(f"{self.base_url}: {kind}; gave up after {self.retry.attempts} attempts")
            self.stats.failed(kind)
            await asyncio.sleep(self.retry.delay(attempt, retry_after, self._rng))
            attempt += 1

    # ------------------------------------------------------------------ the two APIs

    async def _completion(
        self,
        prompt: str,
        max_tokens: int,
        temperature: float,
        top_p: float,
        seed: int | None,
        top_logprobs: int,
        stop: list[str] | None,
    ) -> Generation:
        kwargs: dict[str, Any] = {}
        if top_logprobs:
            kwargs["logprobs"] = top_logprobs
        if seed is not None:
            kwargs["seed"] = seed
        if stop:
            kwargs["stop"] = stop
        response = await self._client.completions.create(
            model=self.model,
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            extra_body=self.extra_body or None,
            **kwargs,
        )
        raw = response.model_dump()
        choice = _only_choice(raw, self.base_url)
        top = _completion_top_logprobs(choice.get("logprobs")) if top_logprobs else None
        return self._generation(raw, choice, choice.get("text"), top)

    async def _chat(
        self,
        prefix: list[dict[str, str]],
        partial: str,
        max_tokens: int,
        temperature: float,
        top_p: float,
        seed: int | None,
        top_logprobs: int,
        stop: list[str] | None,
    ) -> Generation:
        messages = list(prefix)
        extra = dict(self.extra_body)
        if partial:
            messages.append({"role": "assistant", "content": partial})
            # vLLM and SGLang continue a trailing assistant message only when told to
            extra.setdefault("continue_final_message", True)
            extra.setdefault("add_generation_prompt", False)
        kwargs: dict[str, Any] = {}
        if top_logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = top_logprobs
        if seed is not None:
            kwargs["seed"] = seed
        if stop:
            kwargs["stop"] = stop
        response = await self._client.chat.completions.create(
            model=self.model,
            messages=messages,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            extra_body=extra or None,
            **kwargs,
        )
        raw = response.model_dump()
        choice = _only_choice(raw, self.base_url)
        message = choice.get("message") or {}
        content = message.get("content")
        if partial and isinstance(content, str) and content.startswith(partial):
            # llama.cpp answers a continued assistant message with the whole message, prefill
            # included (vLLM sends only the new text): keep only what was generated
            content = content[len(partial) :]
        top = _chat_top_logprobs(choice.get("logprobs")) if top_logprobs else None
        return self._generation(raw, choice, content, top)

    def _generation(self, raw: dict, choice: dict, text: object, top: list[list[float]] | None) -> Generation:
        usage = raw.get("usage") or {}
        tokens = usage.get("completion_tokens")
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
            # token counts must be the server's, never an estimate: a reply without them is unusable
            raise BackendError(f"{self.base_url}: reply has no usage.completion_tokens (got usage={usage!r})")
        if not isinstance(text, str):
            raise BackendError(f"{self.base_url}: reply has no text in choices[0] (got {text!r})")
        details = usage.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        return Generation(
            text=text,
            tokens=tokens,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            finish_reason=str(choice.get("finish_reason") or "unknown"),
            top_logprobs=top,
            cached_tokens=cached if isinstance(cached, int) else None,
        )


# ---------------------------------------------------------------------- reply parsing


def _only_choice(raw: dict, where: str) -> dict:
    choices = raw.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise BackendError(f"{where}: reply has no choices (got {str(raw)[:200]})")
    return choices[0]


def _completion_top_logprobs(logprobs: object) -> list[list[float]] | None:
    """Per-token top-k log-probabilities from a completions reply.

    The legacy OpenAI shape is ``{"top_logprobs": [{token: logprob, ...}, ...]}``; some servers
    (llama.cpp) answer in the chat shape ``{"content": [{"top_logprobs": [...]}, ...]}``. Both are read.
    """
    if not isinstance(logprobs, dict):
        return None
    if isinstance(logprobs.get("content"), list):
        return _chat_top_logprobs(logprobs)
    rows = logprobs.get("top_logprobs")
    if not isinstance(rows, list):
        return None
    out = []
    for row in rows:
        if isinstance(row, dict):
            out.append([float(v) for v in row.values() if isinstance(v, (int, float))])
        else:
            out.append([])
    return out


def _chat_top_logprobs(logprobs: object) -> list[list[float]] | None:
    if not isinstance(logprobs, dict) or not isinstance(logprobs.get("content"), list):
        return None
    out = []
    for entry in logprobs["content"]:
        tops = entry.get("top_logprobs") if isinstance(entry, dict) else None
        out.append(
            [
                float(t["logprob"])
                for t in tops or []
                if isinstance(t, dict) and isinstance(t.get("logprob"), (int, float))
            ]
        )
    return out


def _retry_after(exc: Exception) -> float | None:
    """Seconds a server asked us to wait (``retry-after-ms`` or ``retry-after``), if it said."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for key, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(key)
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(exc)[:300]
