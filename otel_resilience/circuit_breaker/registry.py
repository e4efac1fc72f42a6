"""One circuit breaker per key (host, model, tenant), created on first use."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from typing import Any

from otel_resilience.circuit_breaker.options import CircuitState
from otel_resilience.circuit_breaker.strategy import CircuitBreaker

__all__ = ["CircuitBreakerRegistry"]

# Keywords of CircuitBreaker that are not fields of its options object.
_NOT_OPTIONS = frozenset({"is_failure", "is_failure_result", "classifier", "clock"})


class CircuitBreakerRegistry:
    """Hands out one :class:`CircuitBreaker` per key, sharing the keyword ``defaults``.

    ``registry.get(key)`` creates the breaker on first use (named ``f"{name}.{key}"`` when the
    registry has a name, else ``str(key)``) and returns the same object afterwards. At most
    ``max_size`` breakers are kept; beyond that the least recently used one is forgotten (a
    later ``get`` of its key starts a fresh, closed breaker).
    """

    def __init__(self, *, name: str | None = None, max_size: int = 1024, **defaults: Any) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"max_size must be an integer >= 1, got {max_size!r}")
        if "name" in defaults:
            raise ValueError("defaults must not contain name: each breaker is named by its key")
        # Validated once (failing fast on bad defaults); every breaker shares the options object.
        self._options = CircuitBreaker(name="defaults-check", **defaults).options
        self._extras = {k: v for k, v in defaults.items() if k in _NOT_OPTIONS}
        self._name = name
        self._max_size = max_size
        self._lock = threading.Lock()
        # A plain dict in recency order, oldest first: ~21 B per key where an LRUCache took
        # ~87 B (it keeps an ordered dict and a size dict beside its data), and a hit is faster.
        self._breakers: dict[Hashable, CircuitBreaker] = {}

    def get(self, key: Hashable) -> CircuitBreaker:
        """The breaker for ``key``, created with the registry's defaults on first use."""
        with self._lock:
            breakers = self._breakers
            breaker = breakers.get(key)
            if breaker is None:
                name = f"{self._name}.{key}" if self._name else str(key)
                breaker = CircuitBreaker(name=name, _options=self._options, **self._extras)
                if len(breakers) >= self._max_size:
                    del breakers[next(iter(breakers))]  # the least recently used
            else:
                del breakers[key]  # re-inserted below as the most recent
            breakers[key] = breaker
            return breaker

    def status(self) -> Mapping[Hashable, CircuitState]:
        """A snapshot: key -> current state of its breaker."""
        with self._lock:
            items = list(self._breakers.items())
        return {key: breaker.state for key, breaker in items}

    def __len__(self) -> int:
        with self._lock:
            return len(self._breakers)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._breakers
