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

from collections.abc import Mapping
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_resilience_instrumentation._llm.official import Coexistence
from otel_resilience_instrumentation._llm.patch import LlmInstrumentor
from otel_resilience_instrumentation._llm.providers import OPENAI

__all__ = ["OpenAIInstrumentor"]


class OpenAIInstrumentor(LlmInstrumentor):
    """Patches ``openai``'s ``SyncAPIClient.request`` and ``AsyncAPIClient.request``.

    With the official instrumentor (``opentelemetry-instrumentation-openai-v2``) also active,
    in either order, its span is skipped for the calls we manage (ours is the GenAI span).
    """

    _module_name = "openai"
    _dependencies = ("openai >= 1.0",)
    _provider = OPENAI
    _official: Coexistence | None = None

    def _manages(self, kwargs: Mapping[str, Any]) -> bool:
        """Whether ``request`` will manage a resource call with these keywords."""
        model = kwargs.get("model")
        return (
            self.runner is not None
            and isinstance(model, str)
            and bool(model)
            and is_instrumentation_enabled()
        )

    def _patched(self, module: Any) -> None:
        self._official = Coexistence(self._manages)
        self._official.install()

    def _unpatched(self, module: Any) -> None:
        if self._official is not None:
            self._official.uninstall()
            self._official = None
