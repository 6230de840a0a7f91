"""Readable forms of an episode's trace (the episode stores compact tuples on the hot path)."""

from __future__ import annotations

from typing import Any


def trace_records(trace: list[tuple]) -> list[dict[str, Any]]:
    """One dict per wave or note: ``{"wave", "action", "branches", "answers", "tokens", "latency",
    "intervals"}`` for actions (``intervals``: how far each branch advanced, 1 for spawns, advances and
    full reads), ``{"wave", "action": "note", ...fields}`` for notes (``wave`` is the number of action
    waves before it)."""
    records: list[dict[str, Any]] = []
    wave = 0
    for entry in trace:
        if entry[0] == "note":
            records.append({"wave": wave, "action": "note", **entry[1]})
            continue
        action, ids, answers, tokens, latency, took = entry
        records.append(
            {
                "wave": wave,
                "action": action,
                "branches": list(ids),
                "answers": list(answers),
                "tokens": tokens,
                "latency": latency,
                "intervals": list(took) if took else [0 if action == "prune" else 1] * len(ids),
            }
        )
        wave += 1
    return records


def compact_trace(trace: list[tuple], limit: int = 400) -> str:
    """A one-line digest of an episode: ``S8 A8x3 P2 R1 ...`` (spawn, advance count x waves, prune,
    full read); consecutive advance waves of the same size are merged."""
    parts: list[str] = []
    last_key = None
    repeat = 0
    letters = {"spawn": "S", "advance": "A", "prune": "P", "read_full": "R"}
    for entry in trace:
        if entry[0] == "note":
            continue
        key = f"{letters[entry[0]]}{len(entry[1])}"
        if key == last_key and entry[0] == "advance":
            repeat += 1
            parts[-1] = f"{key}x{repeat}"
            continue
        last_key, repeat = key, 1
        parts.append(key)
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."
