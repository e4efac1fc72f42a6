"""Auto-instrumentation for otel-resilience: resilient, observable HTTP clients.

Each instrumentor lives in its library's module and is imported from there (importing this
package imports no client library): ``otel_resilience_instrumentation.httpx`` and
``.httpx2``; their configuration, ``HttpPolicy``, is in ``otel_resilience_instrumentation.policy``.
See docs/instrumentation.md.
"""

__all__: list[str] = []
