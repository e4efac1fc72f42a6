"""AnthropicInstrumentor: resilience and GenAI telemetry for the anthropic SDK (entry point
``resilience_anthropic``).

Managed calls (sync and async clients): messages and count_tokens; keywords as for
:mod:`otel_resilience_instrumentation.openai`. Recent anthropic releases trace their own calls
when a tracer provider exists; for the calls we manage that span is switched off (ours is the
GenAI span), other calls keep it. Importing this module does not import anthropic.
"""

from __future__ import annotations

from typing import Any

from otel_resilience_instrumentation._http.managed import managed_attempt
from otel_resilience_instrumentation._llm.patch import LlmInstrumentor
from otel_resilience_instrumentation._llm.providers import ANTHROPIC

__all__ = ["AnthropicInstrumentor"]


class AnthropicInstrumentor(LlmInstrumentor):
    """Patches ``anthropic``'s ``SyncAPIClient.request`` and ``AsyncAPIClient.request``."""

    _module_name = "anthropic"
    _dependencies = ("anthropic >= 0.30",)
    _provider = ANTHROPIC
    _tracer: Any = None

    def _patched(self, module: Any) -> None:
        # The client's `_tracer` property: None inside our attempts, so `request()` sends
        # without its own span (there is one GenAI span per call: ours).
        original = module.BaseClient.__dict__.get("_tracer")
        if not isinstance(original, property) or original.fget is None:
            return
        fget = original.fget

        def _tracer(client: Any) -> Any:
            return None if managed_attempt() is not None else fget(client)

        self._tracer = original
        module.BaseClient._tracer = property(_tracer)

    def _unpatched(self, module: Any) -> None:
        if self._tracer is not None:
            module.BaseClient._tracer = self._tracer
            self._tracer = None
