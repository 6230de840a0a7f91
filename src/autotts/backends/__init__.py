"""Clients for live inference servers.

Only OpenAI-compatible servers for now (vLLM, SGLang, llama.cpp's server, hosted APIs), spoken to
through the official ``openai`` SDK. The client knows nothing about stores or questions: it turns
one prompt into one :class:`Generation` with the server's own token counts and, when asked, the top-k
log-probabilities of every generated token. ``autotts.data.collect`` builds on it.
"""

from .openai_server import (
    BackendError,
    Generation,
    RetryPolicy,
    ServerClient,
    token_confidence,
)

__all__ = ["BackendError", "Generation", "RetryPolicy", "ServerClient", "token_confidence"]
