"""Turning token usage into US dollars when an API does not report its own cost.

Prices are USD per million tokens (input, output). The user overrides or extends the table with a
JSON file ``{"model-name": [input, output], ...}`` (``--prices FILE``); a model not in the table costs
0 and the run says so once in the proposer log.
"""

from __future__ import annotations

import json
from pathlib import Path

# USD per 1M tokens (input, output); public list prices, matched by longest prefix of the model name.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "claude-haiku-4": (1.0, 5.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4o": (2.5, 10.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1": (2.0, 8.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5": (1.25, 10.0),
    "o3": (2.0, 8.0),
    "o4-mini": (1.1, 4.4),
}


class PriceTable:
    def __init__(self, prices: dict[str, tuple[float, float]] | None = None):
        self.prices = dict(DEFAULT_PRICES if prices is None else prices)

    @classmethod
    def load(cls, path: Path | None) -> PriceTable:
        table = cls()
        if path is not None:
            try:
                extra = json.loads(Path(path).read_text(encoding="utf-8"))
                table.prices.update({str(k): (float(v[0]), float(v[1])) for k, v in extra.items()})
            except (OSError, ValueError, TypeError, IndexError, AttributeError) as exc:
                raise ValueError(f"{path}: not a price table {{model: [input, output] USD per 1M}}: {exc}") from exc
        return table

    def lookup(self, model: str) -> tuple[float, float] | None:
        matches = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(matches, key=len)] if matches else None

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        """USD for the usage, or None when the model has no price."""
        price = self.lookup(model)
        if price is None:
            return None
        return (input_tokens * price[0] + output_tokens * price[1]) / 1e6
