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


class Proposer(ABC):
    """Writes a new controller from the history."""

    name: ClassVar[str] = ""

    @abstractmethod
    def propose(self, request: ProposalRequest) -> Proposal:
        """Return a candidate controller file (it must also be left in ``request.workspace``)."""
