"""Adapter that lets controllers written for the published harness run unchanged.

Those controllers are objects with ``solve(question)`` (or are callables) and talk to a question
object through ``probe_new()``, ``probe_more(i)``, ``get_new_branch_final_answer()`` and
``get_seq_and_total_tokens()``. :class:`UpstreamQuestion` offers exactly that interface on top of an
:class:`~autotts.env.core.Episode`, so every call is charged and traced by the episode.

Differences from the published harness, all on paths its own controllers never take:
the whole pool is the ceiling (asking beyond it raises ``ValueError`` as there); advancing a branch
that was never opened, or one already finished, raises ``ValueError`` instead of re-charging it;
``get_seq_and_total_tokens`` returns the latency in its first slot (always 0 there). Each call is
its own wave, since the interface cannot express parallel waves.
"""

from __future__ import annotations

from typing import Any

from .core import Episode, EpisodeError


class UpstreamQuestion:
    """The published harness's question interface over an :class:`Episode`."""

    def __init__(self, episode: Episode):
        self._episode = episode
        self.probe_freq = episode.probe_freq

    def probe_new(self) -> tuple[str, int, bool]:
        """Open the next branch and advance it one interval: ``(answer, branch_index, finished)``."""
        try:
            (i,) = self._episode.spawn(1)
        except EpisodeError as exc:
            raise ValueError("Index out of range for branches.") from exc
        return self._episode.answer(i), i, self._episode.is_finished(i)

    def probe_more(self, index: int) -> tuple[str, bool]:
        """Advance an opened branch one interval: ``(answer, finished)``."""
        try:
            (answer,) = self._episode.advance([index])
        except EpisodeError as exc:
            raise ValueError(str(exc)) from exc
        return answer, self._episode.is_finished(index)

    def get_new_branch_final_answer(self) -> str:
        """Read the next branch whole and return its final answer."""
        try:
            (answer,) = self._episode.read_full(1)
        except EpisodeError as exc:
            raise ValueError("Index out of range for branches.") from exc
        return answer

    def get_seq_and_total_tokens(self) -> tuple[int, int]:
        return self._episode.latency_tokens, self._episode.tokens

    def get_cost_per_branch_active(self) -> list[int]:
        return [self._episode.branch_tokens(i) for i in range(self._episode.opened)]


def solve_upstream(method: Any, episode: Episode) -> str | None:
    """Run an upstream-style method (``solve(question)`` or a callable) on an episode."""
    question = UpstreamQuestion(episode)
    solve = getattr(method, "solve", None) or method
    return solve(question)
