"""The ``anthropic`` proposer: the Messages API through the official ``anthropic`` SDK. ``--model``
chooses the model, ``--base-url`` a compatible endpoint; the key comes from ``ANTHROPIC_API_KEY``."""

from __future__ import annotations

import anthropic

from .chat import ChatProposer, Completion

MAX_OUTPUT_TOKENS = 16000


class AnthropicProposer(ChatProposer):
    name = "anthropic"
    default_model = "claude-sonnet-4-5"

    def __init__(self, options):
        super().__init__(options)
        self.client = anthropic.Anthropic(**self.client_settings("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"))

    def complete(self, system: str, messages: list[dict[str, str]]) -> Completion:
        # streaming keeps long generations within HTTP timeouts; the final message carries usage
        with self.client.messages.stream(
            model=self.model, system=system, messages=messages, max_tokens=MAX_OUTPUT_TOKENS
        ) as stream:
            message = stream.get_final_message()
        text = "".join(block.text for block in message.content if block.type == "text")
        return Completion(
            text=text,
            model=message.model or self.model,
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
        )
