"""Proposers by name. Each lives in its own module, imported only when chosen (so a missing optional
dependency of one proposer never breaks another)."""

from __future__ import annotations

from ...registry import Registry, RegistryError
from .base import Proposal, ProposalRequest, Proposer, ProposerOptions, RoundRecord

#: the built-in proposers; a user's package adds more through the ``autotts.proposers`` entry-point group
PROPOSERS: Registry[type[Proposer]] = Registry(
    "proposer",
    "autotts.proposers",
    {
        "evolve": "autotts.discovery.proposers.evolve:EvolveProposer",
        "claude-code": "autotts.discovery.proposers.claude_code:ClaudeCodeProposer",
        "openai": "autotts.discovery.proposers.openai_proposer:OpenAIProposer",
        "anthropic": "autotts.discovery.proposers.anthropic_proposer:AnthropicProposer",
        "command": "autotts.discovery.proposers.command:CommandProposer",
    },
)
DEFAULT_PROPOSER = "evolve"


class ProposerUnavailable(RuntimeError):
    """The proposer name is unknown, or its module (or a dependency) is not installed."""


def proposer_class(name: str) -> type[Proposer]:
    try:
        return PROPOSERS.get(name)
    except RegistryError as exc:
        hint = " (pip install 'autotts[llm]')" if "needs the Python package" in str(exc) else ""
        raise ProposerUnavailable(f"{exc}{hint}") from None


def create_proposer(name: str, options: ProposerOptions) -> Proposer:
    """The proposer ``name`` built from the command line's options."""
    return proposer_class(name).from_options(options)


__all__ = [
    "DEFAULT_PROPOSER",
    "PROPOSERS",
    "Proposal",
    "ProposalRequest",
    "Proposer",
    "ProposerOptions",
    "ProposerUnavailable",
    "RoundRecord",
    "create_proposer",
    "proposer_class",
]
