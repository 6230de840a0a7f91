"""What the two chat-API proposers (openai, anthropic) share: the conversation with repair turns,
extracting the file from the reply, logging, and cost.

A round starts a fresh conversation with the prompt (task, API, history digest). When the loop asks
again for the same round with ``feedback`` (the validator's reason), the previous reply and a repair
request are appended, so the model fixes its own file. Transient errors (429, 5xx, timeouts) are
retried by the official SDKs with exponential back-off (``max_retries``).
"""

from __future__ import annotations

import os
import re
import socket
import time
from abc import abstractmethod
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..pricing import PriceTable
from ..prompt import SYSTEM_PROMPT
from .base import Proposal, ProposalRequest, Proposer, ProposerOptions


def fenced_blocks(reply: str) -> list[tuple[str, str]]:
    """``(language, code)`` of every fenced block, fences read line by line."""
    blocks: list[tuple[str, str]] = []
    language, lines = None, []
    for line in reply.splitlines():
        stripped = line.strip()
        if language is None and stripped.startswith("```"):
            language, lines = stripped[3:].strip().lower(), []
        elif language is not None and stripped == "```":
            blocks.append((language, "\n".join(lines).strip("\n") + "\n"))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def extract_python(reply: str) -> str | None:
    """The longest Python (or untagged) fenced block that defines a class, else the longest such block."""
    blocks = [code for language, code in fenced_blocks(reply) if language in ("python", "py", "python3", "")]
    if not blocks:
        return None
    with_class = [b for b in blocks if re.search(r"^class\s", b, re.MULTILINE)]
    return max(with_class or blocks, key=len)


@dataclass
class Completion:
    text: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = None  # the API's own figure, when it gives one


class ChatProposer(Proposer):
    """Base of the chat-API proposers; subclasses implement :meth:`complete`."""

    default_model = ""

    def __init__(self, options: ProposerOptions):
        self.options = options
        self.model = options.model or self.default_model
        self.prices = PriceTable.load(options.prices)
        self._round = -1
        self._messages: list[dict[str, str]] = []
        self._last_reply = ""

    @classmethod
    def from_options(cls, options: ProposerOptions) -> ChatProposer:
        return cls(options)

    def client_settings(self, key_variable: str, url_variable: str) -> dict:
        """SDK client arguments: endpoint, key (a placeholder for local servers that need none),
        the SDK's own retries with exponential back-off (429, 5xx, timeouts), and the timeout."""
        return {
            "base_url": self.options.base_url or os.environ.get(url_variable) or None,
            "api_key": os.environ.get(key_variable) or "not-needed",
            "max_retries": self.options.retries,
            "timeout": self.options.timeout,
        }

    def endpoint(self) -> str:
        """The API address this proposer talks to."""
        client = getattr(self, "client", None)
        return str(getattr(client, "base_url", "") or self.options.base_url or "")

    def check_endpoint(self, timeout: float = 5.0) -> None:
        """Fail fast, before any evaluation, when nothing accepts a connection at the endpoint
        (:class:`~autotts.discovery.proposers.ProposerUnavailable` naming it)."""
        from . import ProposerUnavailable

        url = urlsplit(self.endpoint())
        if not url.hostname:
            return
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            with socket.create_connection((url.hostname, port), timeout=timeout):
                pass
        except OSError as exc:
            raise ProposerUnavailable(
                f"{self.name} proposer: nothing answers at {self.endpoint()} ({exc.strerror or exc}); "
                "start the server or pass --base-url"
            ) from None

    @abstractmethod
    def complete(self, system: str, messages: list[dict[str, str]]) -> Completion:
        """One call of the API (retries included)."""

    def propose(self, request: ProposalRequest) -> Proposal:
        if request.round != self._round or not request.feedback:
            self._round = request.round
            self._messages = [{"role": "user", "content": request.prompt}]
        else:
            self._messages += [
                {"role": "assistant", "content": self._last_reply},
                {"role": "user", "content": repair_message(request.feedback)},
            ]
        started = time.monotonic()
        try:
            completion = self.complete(SYSTEM_PROMPT, self._messages)
        except Exception as exc:  # the API failed after its retries: a failed attempt, not a crash
            if _unreachable(exc):  # ...unless nothing answers at all: repairs cannot help, so stop the run
                from . import ProposerUnavailable

                raise ProposerUnavailable(
                    f"{self.name} proposer: cannot reach {self.endpoint()}: {type(exc).__name__}: {exc}"
                ) from None
            return Proposal(
                source="",
                log=self._log_text(f"API error: {type(exc).__name__}: {exc}"),
                model=self.model,
                seconds=time.monotonic() - started,
                error=f"{self.name} API error after retries: {type(exc).__name__}: {str(exc)[:300]}",
            )
        self._last_reply = completion.text
        cost = completion.cost_usd
        note = ""
        if cost is None:
            cost = self.prices.cost(completion.model or self.model, completion.input_tokens, completion.output_tokens)
            if cost is None:
                cost = 0.0
                note = f"\n[no price known for model {completion.model or self.model!r}; cost counted as 0]"
        source = extract_python(completion.text)
        if source is not None:
            (request.workspace / "candidate.py").write_text(source, encoding="utf-8")
        return Proposal(
            source=source or "",
            log=self._log_text(completion.text + note),
            model=completion.model or self.model,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cost_usd=float(cost),
            seconds=time.monotonic() - started,
            error="" if source is not None else "the reply contained no fenced ```python block with the file",
        )

    def _log_text(self, reply: str) -> str:
        sent = "\n\n".join(f"=== {m['role']} ===\n{m['content']}" for m in self._messages)
        return f"{sent}\n\n=== assistant reply ===\n{reply}\n"


def repair_message(feedback: str) -> str:
    return (
        "The file was rejected before evaluation:\n\n"
        f"{feedback}\n\n"
        "Fix it and answer again with the complete corrected file in one fenced ```python block."
    )


def _unreachable(exc: BaseException) -> bool:
    """An SDK error that means no server answered (refused, unresolvable, timed out after retries)."""
    return isinstance(exc, ConnectionError) or type(exc).__name__ in ("APIConnectionError", "APITimeoutError")
