"""An idle keyed breaker (``CircuitBreakerRegistry.get``, never called) costs at most 400 bytes."""

from __future__ import annotations

import pytest
from core_support import run_python

#: Per-breaker budget: 10,000 idle hosts or tenants hold under 4 MB.
MAX_BYTES = 400

# Same figure as benchmarks/bench_breaker_memory.py, in a fresh interpreter so that no other
# thread or earlier test allocates while tracemalloc counts.
_MEASURE = """
import gc, tracemalloc
from otel_resilience import CircuitBreakerRegistry
keys = 10_000
registry = CircuitBreakerRegistry(name="t", max_size=keys, window_type={window_type!r})
names = [f"tenant-{{i:06d}}" for i in range(keys)]
registry.get("warm-up")
gc.collect()
tracemalloc.start()
before = tracemalloc.get_traced_memory()[0]
for key in names:
    registry.get(key)
gc.collect()
after = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()
assert len(registry) == keys
print((after - before) / keys)
"""


@pytest.mark.parametrize("window_type", ["time", "count"])
def test_idle_keyed_breaker_memory(window_type: str):
    """10,000 idle keyed breakers cost at most 400 bytes each, windows and telemetry included."""
    per_breaker = float(run_python(_MEASURE.format(window_type=window_type)))
    assert per_breaker <= MAX_BYTES


def test_breaker_memory_measurement_sees_allocations():
    """The measurement is not vacuous: each new breaker is seen to allocate something."""
    per_breaker = float(run_python(_MEASURE.format(window_type="time")))
    assert per_breaker > 50
