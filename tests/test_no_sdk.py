"""The core works, and stays cheap, with no OpenTelemetry SDK importable."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCK_SDK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
            raise ImportError("SDK blocked for this test")
        return None
sys.meta_path.insert(0, _Block())
"""


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with the SDK blocked."""
    return subprocess.run(
        [sys.executable, "-c", BLOCK_SDK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_core_runs_without_sdk():
    """Retries and a breaker opening work with only the API installed."""
    proc = run_python(
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
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ConnectionError", "ok"]


def test_core_does_not_import_client_libraries():
    """Importing the core pulls in none of the HTTP or LLM client libraries."""
    proc = run_python(
        """
        import otel_resilience
        heavy = {"httpx", "requests", "aiohttp", "openai", "anthropic", "pytest"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_global_providers_set_later_are_picked_up():
    """A pipeline built before the SDK is configured starts recording once it is."""
    code = """
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
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['late']"
