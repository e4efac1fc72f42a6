"""The provider-neutral LLM runner behind the openai and anthropic instrumentors.

:class:`LlmRunner` runs one logical call (an :class:`LlmRequest`) through its model's pipeline
and its fallbacks; :mod:`.providers` knows each API's shapes; :mod:`.patch` is the SDK patch.
"""

from otel_resilience_instrumentation._llm.options import LlmOptions
from otel_resilience_instrumentation._llm.request import LlmRequest, Reported, Usage
from otel_resilience_instrumentation._llm.runner import LlmRunner

__all__ = ["LlmOptions", "LlmRequest", "LlmRunner", "Reported", "Usage"]
