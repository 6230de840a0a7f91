"""The ``openai`` proposer: any OpenAI-compatible chat-completions server through the official SDK
(OpenAI, vLLM, Ollama, OpenRouter, ...). ``--base-url`` and ``--model`` choose it; the key comes from
``OPENAI_API_KEY`` (a placeholder is sent to local servers that need none)."""

from __future__ import annotations

import openai

from .chat import ChatProposer, Completion


class OpenAIProposer(ChatProposer):
    name = "openai"
    default_model = "gpt-4.1"

    def __init__(self, options):
        super().__init__(options)
        self.client = openai.OpenAI(**self.client_settings("OPENAI_API_KEY", "OPENAI_BASE_URL"))

    def complete(self, system: str, messages: list[dict[str, str]]) -> Completion:
        response = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": system}, *messages],
        )
        usage = response.usage
        # some gateways (e.g. OpenRouter) report what the call cost
        reported = (getattr(usage, "model_extra", None) or {}).get("cost") if usage is not None else None
        return Completion(
            text=(response.choices[0].message.content or "") if response.choices else "",
            model=response.model or self.model,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            cost_usd=float(reported) if isinstance(reported, int | float) else None,
        )
