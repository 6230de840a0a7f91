"""How a live environment talks to its inference server: the same request shapes as ``autotts collect``.

A live episode is a lazy collection: branch ``b`` of question ``q`` is generated with exactly the
requests ``autotts collect`` would send for it (prompt template, Δ-token intervals, per-request seeds
``request_seed(seed, q, b, k)``, the answer-forcing probe after every interval that does not end the
branch, the final answer from the last ``\\boxed{}`` or a final probe). So a store collected from a
deterministic server holds the very branches a live run of the same questions meets, and the replay
episode's rules, applied to what the server returned, charge exactly what replay charges.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..data.collect.answers import CLEANINGS, DYNASOR_SUFFIX
from ..data.collect.collector import DEFAULT_CHAT_TEMPLATE, DEFAULT_COMPLETION_TEMPLATE, check_request_settings

EQUIVALENCES = ("math-verify", "exact")


class LiveConfigError(ValueError):
    """A live setting that cannot work (named in the message)."""


@dataclass
class LiveConfig:
    """The backend and the sampling of branches. Fields and defaults mirror ``autotts collect``
    (``docs/collect.md``) so that a store collected with the same values replays what live meets.

    ``branches`` is the pool size: a live episode under episode seed ``s`` opens pool branches in the
    order ``branch_order(s, branches)``, as replay does; the ceiling is ``min(controller ceiling,
    branches)``. ``backend_concurrency`` caps requests in flight to the server (all episodes together).
    ``equivalence``: ``exact`` reveals answers as extracted (the published stores' rule: the branches a
    replay store holds are revealed string for string); ``math-verify`` canonicalises each episode's
    answers as collect does (gold first when known, then earlier answers in the order revealed), so
    equivalent spellings vote together as in a collected store.
    """

    base_url: str
    model: str
    api: str = "completions"
    prompt_template: str | None = None
    system: str | None = None
    branches: int = 128
    interval: int = 500
    max_tokens: int = 32768
    temperature: float = 0.7
    top_p: float = 1.0
    seed: int = 0
    probe_suffix: str = DYNASOR_SUFFIX
    probe_tokens: int = 20
    cleaning: str = "basic"
    top_logprobs: int = 0
    timeout: float = 120.0
    retries: int = 3
    backend_concurrency: int = 64
    equivalence: str = "exact"
    api_key: str | None = field(default=None, repr=False)
    extra_body: dict[str, Any] = field(default_factory=dict)

    def template(self) -> str:
        if self.prompt_template is not None:
            return self.prompt_template
        return DEFAULT_CHAT_TEMPLATE if self.api == "chat" else DEFAULT_COMPLETION_TEMPLATE

    def validate(self) -> None:
        check_request_settings(self, ("backend_concurrency",), LiveConfigError)
        if not self.probe_suffix:
            raise LiveConfigError("--probe-suffix must not be empty")
        if self.cleaning not in CLEANINGS:
            raise LiveConfigError(f"--cleaning must be one of {', '.join(CLEANINGS)}, got {self.cleaning!r}")
        if self.equivalence not in EQUIVALENCES:
            raise LiveConfigError(f"--equivalence must be one of {', '.join(EQUIVALENCES)}, got {self.equivalence!r}")
        if self.timeout <= 0:
            raise LiveConfigError(f"--timeout must be positive, got {self.timeout}")

    def public(self) -> dict[str, Any]:
        """The settings without the key (for logs, summaries and the sim-to-real check)."""
        out = asdict(self)
        out.pop("api_key", None)
        out["prompt_template"] = self.template()
        return out

    def messages(self, question: str) -> list[dict[str, str]]:
        """The chat messages before the partial assistant message (chat API), as collect builds them."""
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": self.template().replace("{question}", question)})
        return messages

    def prompt(self, question: str, partial: str) -> str:
        """What is sent as the text to continue: the whole prompt (completions) or the partial
        assistant message (chat; the question travels in :meth:`messages`)."""
        if self.api == "chat":
            return partial
        return self.template().replace("{question}", question) + partial


# the settings a store's metadata records, compared by the sim-to-real check (name in store -> here)
STORE_SETTINGS = {
    "model": "model",
    "api": "api",
    "prompt_template": "prompt_template",
    "system": "system",
    "interval": "interval",
    "branches": "branches",
}
