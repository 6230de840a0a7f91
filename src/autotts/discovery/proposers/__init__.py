"""Proposers by name. Each lives in its own module, imported only when chosen (so a missing optional
dependency of one proposer never breaks another)."""

from __future__ import annotations

import importlib

from .base import Proposal, ProposalRequest, Proposer, ProposerOptions, RoundRecord

PROPOSERS: dict[str, str] = {
    "evolve": "autotts.discovery.proposers.evolve:EvolveProposer",
    "claude-code": "autotts.discovery.proposers.claude_code:ClaudeCodeProposer",
    "openai": "autotts.discovery.proposers.openai_proposer:OpenAIProposer",
    "anthropic": "autotts.discovery.proposers.anthropic_proposer:AnthropicProposer",
    "command": "autotts.discovery.proposers.command:CommandProposer",
}
DEFAULT_PROPOSER = "evolve"


class ProposerUnavailable(RuntimeError):
    """The proposer name is unknown, or its module (or a dependency) is not installed."""


def proposer_class(name: str) -> type[Proposer]:
    if name not in PROPOSERS:
        raise ProposerUnavailable(f"unknown proposer {name!r}; choose one of {', '.join(PROPOSERS)}")
    module_name, _, class_name = PROPOSERS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ProposerUnavailable(f"the {name!r} proposer is not built into this version of autotts") from None
        raise ProposerUnavailable(
            f"the {name!r} proposer needs the Python package {exc.name!r}: pip install 'autotts[llm]'"
        ) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ProposerUnavailable(f"{module_name} defines no {class_name}")
    return cls


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
