"""Governance: provenance manifests for every number, ``autotts verify``, and the policy registry with
its approval gate and hash-chained audit log. The top layer: it may import everything below it
(data → env → controllers → evaluation → discovery → report); nothing below imports it.

Live commands run a policy only through :func:`resolve_policy`.
"""

from __future__ import annotations

from pathlib import Path

from .registry import Registry, RegistryError, ResolvedPolicy, UnapprovedPolicy


def resolve_policy(
    ref: str, allow_unapproved: bool = False, *, registry: Path | str | None = None, by: str = ""
) -> ResolvedPolicy:
    """``NAME@production``, ``NAME@ALIAS`` or ``NAME@VERSION`` → the controller source (and class
    reference), β and the version record. Raises :class:`UnapprovedPolicy` for a version without a
    standing approval unless ``allow_unapproved``, which is then recorded in the audit log."""
    with Registry.open(registry) as reg:
        return reg.resolve(ref, allow_unapproved=allow_unapproved, by=by)


__all__ = ["Registry", "RegistryError", "ResolvedPolicy", "UnapprovedPolicy", "resolve_policy"]
