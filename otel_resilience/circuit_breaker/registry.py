"""One circuit breaker per key (host, model, tenant), created on first use."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from otel_resilience._registry import BoundedRegistry
from otel_resilience.circuit_breaker.options import CircuitState
from otel_resilience.circuit_breaker.strategy import CircuitBreaker
from otel_resilience.store.config import MEMORY, resolve_store

__all__ = ["CircuitBreakerRegistry"]

# Keywords of CircuitBreaker that are not fields of its options object.
_NOT_OPTIONS = frozenset({"is_failure", "is_failure_result", "classifier", "clock", "health_check"})


class CircuitBreakerRegistry:
    """Hands out one :class:`CircuitBreaker` per key, sharing the keyword ``defaults``.

    ``registry.get(key)`` creates the breaker on first use (named ``f"{name}.{key}"`` when the
    registry has a name, else ``str(key)``) and returns the same object afterwards. At most
    ``max_size`` breakers are kept; beyond that the least recently used one is forgotten (a
    later ``get`` of its key starts a fresh, closed breaker). With ``store=`` every breaker
    handed out shares its state through that store (its keys expire once unused).
    """

    def __init__(
        self, *, name: str | None = None, max_size: int = 1024, store: Any = None, **defaults: Any
    ) -> None:
        if "name" in defaults:
            raise ValueError("defaults must not contain name: each breaker is named by its key")
        # Validated once (failing fast on bad defaults); every breaker shares the options object.
        self._options = CircuitBreaker(name="defaults-check", store=MEMORY, **defaults).options
        self._extras = {k: v for k, v in defaults.items() if k in _NOT_OPTIONS}
        self._name = name
        self._store = resolve_store("store", store)
        self._registry: BoundedRegistry[CircuitBreaker] = BoundedRegistry(self._make, max_size)

    def _make(self, key: Hashable) -> CircuitBreaker:
        name = f"{self._name}.{key}" if self._name else str(key)
        return CircuitBreaker(
            name=name,
            _options=self._options,
            store=self._store or MEMORY,
            **self._extras,
        )

    def get(self, key: Hashable) -> CircuitBreaker:
        """The breaker for ``key``, created with the registry's defaults on first use."""
        return self._registry.get(key)

    def status(self) -> Mapping[Hashable, CircuitState]:
        """A snapshot: key -> current state of its breaker."""
        return {key: breaker.state for key, breaker in self._registry.items()}

    def __len__(self) -> int:
        return len(self._registry)

    def __contains__(self, key: object) -> bool:
        return key in self._registry
