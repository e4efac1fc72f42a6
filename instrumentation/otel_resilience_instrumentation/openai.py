"""OpenAIInstrumentor: resilience and GenAI telemetry for the openai SDK (entry point
``resilience_openai``).

Managed calls (sync and async clients): chat completions, responses, embeddings. Each goes
through a Retry + CircuitBreaker pipeline per model with the SDK's own retries switched off,
falls back along ``fallbacks``, and is one GenAI CLIENT span with one HTTP span per attempt
under it. ``instrument()`` keywords: ``tracer_provider``, ``meter_provider``,
``logger_provider``, ``clock``, ``options`` (an ``LlmOptions``) or its fields (``fallbacks``,
``stall_timeout``, ``max_attempts``...). See docs/llm.md. Importing this module does not
import openai; ``instrument()`` does.
"""

from __future__ import annotations

from otel_resilience_instrumentation._llm.patch import LlmInstrumentor
from otel_resilience_instrumentation._llm.providers import OPENAI

__all__ = ["OpenAIInstrumentor"]


class OpenAIInstrumentor(LlmInstrumentor):
    """Patches ``openai``'s ``SyncAPIClient.request`` and ``AsyncAPIClient.request``."""

    _module_name = "openai"
    _dependencies = ("openai >= 1.0",)
    _provider = OPENAI
