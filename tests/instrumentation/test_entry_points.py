"""The instrumentors are found by opentelemetry-instrument through their entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from otel_resilience_instrumentation.httpx import ResilienceHttpxInstrumentor
from otel_resilience_instrumentation.httpx2 import ResilienceHttpx2Instrumentor


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("resilience_httpx", ResilienceHttpxInstrumentor),
        ("resilience_httpx2", ResilienceHttpx2Instrumentor),
    ],
)
def test_entry_point_loads_the_instrumentor(name, cls):
    """Group opentelemetry_instrumentor names each instrumentor class."""
    (point,) = [p for p in entry_points(group="opentelemetry_instrumentor") if p.name == name]
    assert point.load() is cls


def test_dependencies_name_the_client_library():
    """instrumentation_dependencies() names the client, which is no dependency of ours."""
    assert ResilienceHttpxInstrumentor().instrumentation_dependencies() == ("httpx >= 0.23",)
    assert ResilienceHttpx2Instrumentor().instrumentation_dependencies() == ("httpx2 >= 2.0",)
