"""BreakerOptions: the probe timeout and the bound on window buckets."""

from __future__ import annotations

import pytest

from otel_resilience.circuit_breaker.options import MAX_WINDOW_BUCKETS, BreakerOptions


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), float("nan"), "60", True, None])
def test_half_open_probe_timeout_is_validated(value):
    """The probe timeout must be a finite number > 0."""
    with pytest.raises(ValueError, match="half_open_probe_timeout"):
        BreakerOptions(half_open_probe_timeout=value)  # type: ignore[arg-type]


def test_window_buckets_is_bounded():
    """At most MAX_WINDOW_BUCKETS (1000) buckets: more would only cost memory and lock time."""
    assert MAX_WINDOW_BUCKETS == 1000
    assert BreakerOptions(window_buckets=1000).window_buckets == 1000
    with pytest.raises(ValueError, match="window_buckets"):
        BreakerOptions(window_buckets=1001)
    with pytest.raises(ValueError, match="window_buckets"):
        BreakerOptions(window_buckets=10_000_000)


def test_probe_timeout_default_is_sixty_seconds():
    """The default reclaims a lost probe slot after one minute."""
    assert BreakerOptions().half_open_probe_timeout == 60.0
