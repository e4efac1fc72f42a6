"""A bounded, thread-safe map of one object per key, created on first use (LRU eviction).

Shared by the per-key registries (:class:`CircuitBreakerRegistry`, :class:`RateLimiterRegistry`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from otel_resilience._validate import check_count

__all__ = ["BoundedRegistry"]

V = TypeVar("V")


class BoundedRegistry(Generic[V]):
    """Hands out ``factory(key)`` once per key, keeping at most ``max_size`` of them.

    Beyond ``max_size`` the least recently got value is forgotten (a later ``get`` of its key
    makes a fresh one). Only :meth:`get` refreshes recency.
    """

    __slots__ = ("_factory", "_lock", "_max_size", "_values")

    def __init__(self, factory: Callable[[Hashable], V], max_size: int) -> None:
        check_count("max_size", max_size)
        self._factory = factory
        self._max_size = max_size
        self._lock = threading.Lock()
        # A plain dict in recency order, oldest first: ~21 B per key where an LRUCache took
        # ~87 B (it keeps an ordered dict and a size dict beside its data), and a hit is faster.
        self._values: dict[Hashable, V] = {}

    def get(self, key: Hashable) -> V:
        """The value for ``key``, made by the factory on first use."""
        with self._lock:
            values = self._values
            value = values.get(key)
            if value is None:
                value = self._factory(key)
                if len(values) >= self._max_size:
                    del values[next(iter(values))]  # the least recently used
            else:
                del values[key]  # re-inserted below as the most recent
            values[key] = value
            return value

    def items(self) -> list[tuple[Hashable, V]]:
        """A snapshot of ``(key, value)`` pairs, least recently used first."""
        with self._lock:
            return list(self._values.items())

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._values
