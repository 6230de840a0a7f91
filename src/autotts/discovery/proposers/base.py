"""The proposer interface: what every proposer (claude-code, openai, anthropic, command, evolve) gets
and returns. Each proposer lives in its own module under ``autotts.discovery.proposers``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass
class RoundRecord:
    """What the history holds of one earlier round (search stores only; never held-out results).

    ``results`` has one dict per (β, store): beta, store, accuracy, accuracy_ci, tokens, latency_tokens.
    """

    round: int
    source: str
    valid: bool
    reason: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)
    proposer: str = ""
    folder: Path | None = None


@dataclass
class ProposalRequest:
    """One request for a candidate controller file."""

    round: int  # 1-based
    workspace: Path  # all the proposer may see; the candidate is written to workspace / "candidate.py"
    prompt: str  # task statement and history digest, as an LLM proposer sends it
    history: list[RoundRecord]  # earlier rounds, oldest first (for proposers that read code directly)
    seed: int = 0  # for proposers with randomness
    feedback: str | None = None  # why the previous attempt at this round failed validation


@dataclass
class Proposal:
    """A candidate and what producing it cost."""

    source: str
    log: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    error: str = ""  # why there is no usable candidate (empty reply, agent error, ...); "" otherwise
    summary: str = ""  # what the candidate changes, in one line (printed on the round's line); optional


@dataclass
class ProposerOptions:
    """What ``autotts discover`` knows that a proposer may need; each proposer reads what it uses."""

    model: str | None = None
    base_url: str | None = None
    command: str | None = None
    max_turns: int = 30
    timeout: float = 600.0  # seconds per API call or agent run
    retries: int = 4  # transient API errors (429, 5xx, timeouts) are retried with back-off
    prices: Path | None = None  # JSON price table overriding the built-in one
    sandbox: str = "auto"  # claude-code: "bwrap", "none" or "auto" (bwrap when installed)
    # the run's evaluation setting (for proposers that evaluate on their own, like evolve)
    search_stores: tuple[str, ...] = ()
    betas: tuple[float, ...] = ()
    seeds: int = 100
    jobs: int | None = None
    beta_rule: bool = True
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Proposer(ABC):
    """Writes a new controller from the history."""

    name: ClassVar[str] = ""

    @classmethod
    def from_options(cls, options: ProposerOptions) -> Proposer:
        """Build from the command line's options (override to read them)."""
        return cls()

    @abstractmethod
    def propose(self, request: ProposalRequest) -> Proposal:
        """Return a candidate controller file (it must also be left in ``request.workspace``)."""
