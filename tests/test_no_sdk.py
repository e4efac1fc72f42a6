"""The core works, and stays cheap, with no OpenTelemetry SDK importable."""

from __future__ import annotations

from core_support import run_python


def test_core_runs_without_sdk():
    """Retries and a breaker opening work with only the API installed."""
    out = run_python(
        """
        import asyncio
        from otel_resilience import CircuitBreaker, CircuitOpenError, Pipeline, Retry
        from otel_resilience.testing import FakeClock
        clock = FakeClock()
        breaker = CircuitBreaker(minimum_calls=2, window=4, window_type="count")
        p = Pipeline("p", Retry(max_attempts=2), breaker, clock=clock)
        def down():
            raise ConnectionError
        try:
            p.call(down)
        except (ConnectionError, CircuitOpenError) as exc:
            print(type(exc).__name__)
        async def ok():
            return "ok"
        print(asyncio.run(Pipeline("q", Retry()).acall(ok)))
        assert not any(m.startswith("opentelemetry.sdk") for m in sys.modules)
        """,
        block_sdk=True,
    )
    assert out.split() == ["ConnectionError", "ok"]


def test_core_does_not_import_client_libraries():
    """Importing the core pulls in none of the HTTP or LLM client libraries."""
    out = run_python(
        """
        import sys
        import otel_resilience
        heavy = {"httpx", "requests", "aiohttp", "openai", "anthropic", "pytest"}
        print(sorted(heavy & set(sys.modules)))
        """,
        block_sdk=True,
    )
    assert out == "[]"


def test_global_providers_set_later_are_picked_up():
    """A pipeline built before the SDK is configured starts recording once it is."""
    out = run_python(
        """
        from otel_resilience import Pipeline, Retry
        p = Pipeline("late", Retry())
        p.call(lambda: 1)
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        p.call(lambda: 2)
        print([s.name for s in exporter.get_finished_spans()])
        """
    )
    assert out == "['late']"
