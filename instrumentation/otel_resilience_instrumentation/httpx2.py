"""ResilienceHttpx2Instrumentor: the httpx instrumentor for httpx2, the fork openai and
anthropic use (same API, so the same code: :mod:`otel_resilience_instrumentation._httpx_like`).

Keywords of ``instrument()`` as for :mod:`otel_resilience_instrumentation.httpx`; entry point
``resilience_httpx2``. Importing this module does not import httpx2; ``instrument()`` does.
"""

from __future__ import annotations

from otel_resilience_instrumentation._httpx_like import HttpxLikeInstrumentor

__all__ = ["ResilienceHttpx2Instrumentor"]


class ResilienceHttpx2Instrumentor(HttpxLikeInstrumentor):
    """Patches ``httpx2.Client`` and ``httpx2.AsyncClient`` (every transport, every subclass)."""

    _module_name = "httpx2"
    _dependencies = ("httpx2 >= 2.0",)
