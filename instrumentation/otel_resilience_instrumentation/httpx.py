"""ResilienceHttpxInstrumentor: retries, a breaker per host and a span per attempt for httpx.

``ResilienceHttpxInstrumentor().instrument(policies={"*": HttpPolicy(...)})`` (or the entry
point ``resilience_httpx`` under ``opentelemetry-instrument``). Keywords of ``instrument()``:
``tracer_provider``, ``meter_provider``, ``logger_provider``, ``policies`` (host key ->
:class:`~otel_resilience_instrumentation.policy.HttpPolicy`) and ``clock`` (a
:class:`~otel_resilience.testing.FakeClock` in tests). Where and why we patch:
:mod:`otel_resilience_instrumentation._httpx_like`; what is recorded: docs/instrumentation.md.
Importing this module does not import httpx; ``instrument()`` does.
"""

from __future__ import annotations

from otel_resilience_instrumentation._httpx_like import HttpxLikeInstrumentor

__all__ = ["ResilienceHttpxInstrumentor"]


class ResilienceHttpxInstrumentor(HttpxLikeInstrumentor):
    """Patches ``httpx.Client`` and ``httpx.AsyncClient`` (every transport, every subclass)."""

    _module_name = "httpx"
    _dependencies = ("httpx >= 0.23",)
