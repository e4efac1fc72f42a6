"""RateLimiterRegistry: one limiter per key on the shared bounded registry."""

from __future__ import annotations

import pytest

from otel_resilience import Pipeline
from otel_resilience.errors import RateLimitedError
from otel_resilience.rate_limiter import RateLimiter, RateLimiterRegistry


def test_one_limiter_per_key_sharing_options(fake_clock):
    """get() creates a named limiter once per key; all share one validated options object."""
    registry = RateLimiterRegistry(rate=5, per=60, name="tenant", clock=fake_clock)
    a = registry.get("acme")
    assert isinstance(a, RateLimiter)
    assert registry.get("acme") is a
    b = registry.get("globex")
    assert b is not a
    assert a.name == "tenant.acme"
    assert a.options is b.options is registry.options
    assert a.options.capacity == 5


def test_keys_are_limited_independently(fake_clock):
    """Spending one tenant's permits leaves another tenant's bucket full."""
    registry = RateLimiterRegistry(rate=1, burst=2, clock=fake_clock)
    acme = Pipeline("acme", registry.get("acme"))
    globex = Pipeline("globex", registry.get("globex"))
    acme.call(lambda: 1)
    acme.call(lambda: 1)
    with pytest.raises(RateLimitedError) as info:
        acme.call(lambda: 1)
    assert info.value.limiter_name == "acme"
    assert globex.call(lambda: "ok") == "ok"


def test_bounded_least_recently_used_first():
    """Beyond max_size the least recently got limiter is forgotten."""
    registry = RateLimiterRegistry(rate=1, max_size=2)
    first = registry.get(1)
    registry.get(2)
    registry.get(1)
    registry.get(3)
    assert len(registry) == 2
    assert 2 not in registry
    assert registry.get(1) is first


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": 1, "max_size": 0}, "max_size"),
        ({"rate": 1, "burst": -1}, "burst"),
        ({"rate": 1, "name": 3}, "name"),
        ({"rate": 1, "clock": "now"}, "clock"),
    ],
)
def test_bad_options_fail_fast(kwargs, field):
    """Invalid registry options raise ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        RateLimiterRegistry(**kwargs)
