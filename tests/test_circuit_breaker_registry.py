"""CircuitBreakerRegistry: one breaker per key, shared defaults, bounded size, status."""

from __future__ import annotations

import pytest

from otel_resilience import CircuitBreaker, CircuitBreakerRegistry, CircuitState, Pipeline


def test_get_returns_the_same_breaker_per_key(fake_clock):
    """The first get creates the breaker with the defaults; later gets return it."""
    registry = CircuitBreakerRegistry(name="llm", minimum_calls=3, clock=fake_clock)
    a = registry.get("gpt")
    assert isinstance(a, CircuitBreaker)
    assert registry.get("gpt") is a
    assert registry.get("claude") is not a
    assert a.name == "llm.gpt"
    assert a.options.minimum_calls == 3


def test_status_maps_keys_to_states(fake_clock):
    """status() reports each key's current state."""
    registry = CircuitBreakerRegistry(clock=fake_clock)
    registry.get("a")
    registry.get("b").isolate()
    assert registry.status() == {"a": CircuitState.CLOSED, "b": CircuitState.OPEN}


def test_registry_is_bounded():
    """Beyond max_size the least recently used breaker is forgotten."""
    registry = CircuitBreakerRegistry(max_size=2)
    first = registry.get(1)
    registry.get(2)
    registry.get(1)
    registry.get(3)
    assert len(registry) == 2
    assert 2 not in registry
    assert registry.get(1) is first


def test_per_key_breakers_in_pipelines(fake_clock):
    """Breakers from the registry isolate one key without touching another."""
    registry = CircuitBreakerRegistry(
        minimum_calls=1, window=5, window_type="count", clock=fake_clock
    )

    def down() -> None:
        raise ConnectionError

    with pytest.raises(ConnectionError):
        Pipeline("host-a", registry.get("a")).call(down)
    assert registry.status() == {"a": CircuitState.OPEN}
    assert Pipeline("host-b", registry.get("b")).call(lambda: "ok") == "ok"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_size": 0}, "max_size"),
        ({"failure_ratio": 2}, "failure_ratio"),
        ({"window_type": "x"}, "window_type"),
    ],
)
def test_bad_defaults_fail_fast(kwargs, field):
    """Invalid defaults are rejected when the registry is built, naming the field."""
    with pytest.raises(ValueError, match=field):
        CircuitBreakerRegistry(**kwargs)


def test_only_get_refreshes_recency():
    """A get makes its key the most recent; `in`, len() and status() leave the order alone."""
    registry = CircuitBreakerRegistry(max_size=3)
    for key in ("a", "b", "c"):
        registry.get(key)
    registry.get("a")  # order now b, c, a
    assert "b" in registry
    registry.status()
    registry.get("d")  # evicts b, the least recently got
    assert "b" not in registry
    registry.get("e")  # evicts c
    assert sorted(registry.status()) == ["a", "d", "e"]


def test_breakers_share_one_options_object():
    """The registry validates its defaults once; every breaker it makes shares that object."""
    registry = CircuitBreakerRegistry(minimum_calls=3, failure_categories=["timeout"])
    assert registry.get("a").options is registry.get("b").options
