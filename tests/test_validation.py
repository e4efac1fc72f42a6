"""Bad configuration fails fast with a ValueError naming the field."""

from __future__ import annotations

import pytest

from otel_resilience import CircuitBreaker, Retry, RetryPolicy


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 1.5}, "max_attempts"),
        ({"max_attempts": True}, "max_attempts"),
        ({"backoff": "fibonacci"}, "backoff"),
        ({"base_delay": -1}, "base_delay"),
        ({"max_delay": -0.1}, "max_delay"),
        ({"max_delay": float("inf")}, "max_delay"),
        ({"base_delay": "1"}, "base_delay"),
        ({"jitter": 1.5}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
        ({"deadline": 0}, "deadline"),
        ({"deadline": -5}, "deadline"),
        ({"on_exhausted": "ignore"}, "on_exhausted"),
        ({"retry_on": [42]}, "retry_on"),
        ({"policies": {"rate_limited": {"max_attempts": 2}}}, "policies"),
    ],
)
def test_retry_rejects(kwargs, field):
    """Retry validates every argument."""
    with pytest.raises(ValueError, match=field):
        Retry(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"backoff": "nope"}, "backoff"),
        ({"base_delay": -2}, "base_delay"),
        ({"max_delay": -2}, "max_delay"),
        ({"jitter": 3}, "jitter"),
    ],
)
def test_retry_policy_rejects(kwargs, field):
    """RetryPolicy validates every argument."""
    with pytest.raises(ValueError, match=field):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"failure_ratio": 0}, "failure_ratio"),
        ({"failure_ratio": 1.01}, "failure_ratio"),
        ({"failure_ratio": -0.5}, "failure_ratio"),
        ({"minimum_calls": 0}, "minimum_calls"),
        ({"window": 0}, "window"),
        ({"window": -1.0}, "window"),
        ({"window_type": "sliding"}, "window_type"),
        ({"window": 2.5, "window_type": "count"}, "window"),
        ({"break_duration": -1}, "break_duration"),
        ({"break_duration": 0}, "break_duration"),
        ({"half_open_max_calls": 0}, "half_open_max_calls"),
        ({"slow_call_duration": -1}, "slow_call_duration"),
        ({"slow_call_ratio": 0}, "slow_call_ratio"),
        ({"break_duration_multiplier": 0.5}, "break_duration_multiplier"),
        ({"max_break_duration": 0}, "max_break_duration"),
        ({"window_buckets": 0}, "window_buckets"),
        ({"name": ""}, "name"),
        ({"failure_categories": "timeout"}, "failure_categories"),
    ],
)
def test_circuit_breaker_rejects(kwargs, field):
    """CircuitBreaker validates every argument."""
    with pytest.raises(ValueError, match=field):
        CircuitBreaker(**kwargs)


def test_fake_clock_rejects_going_back():
    """FakeClock.advance refuses negative steps."""
    from otel_resilience.testing import FakeClock

    with pytest.raises(ValueError, match="seconds"):
        FakeClock().advance(-1)
