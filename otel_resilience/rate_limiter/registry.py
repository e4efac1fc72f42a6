"""One rate limiter per key (tenant, API key, host), created on first use."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from otel_resilience._clock import Clock
from otel_resilience._registry import BoundedRegistry
from otel_resilience._validate import check_clock, check_count
from otel_resilience.rate_limiter.options import RateLimiterOptions
from otel_resilience.rate_limiter.strategy import RateLimiter
from otel_resilience.store.config import MEMORY, resolve_store

__all__ = ["RateLimiterRegistry"]


class RateLimiterRegistry:
    """Hands out one :class:`RateLimiter` per key, all with the same options.

    ``registry.get(key)`` creates the limiter on first use (named ``f"{name}.{key}"`` when the
    registry has a name, else ``str(key)``; its bucket starts full) and returns the same object
    afterwards. At most ``max_size`` limiters are kept; beyond that the least recently used one
    is forgotten, and a later ``get`` of its key starts a fresh, full bucket: keep ``max_size``
    above the number of keys active at once, or evicted keys get a new burst. With ``store=``
    every limiter shares its budget with the limiters of the same name in other processes.
    """

    __slots__ = ("_clock", "_name", "_options", "_prefetch", "_registry", "_store")

    def __init__(
        self,
        *,
        rate: float,
        per: float = 1.0,
        burst: int | None = None,
        max_wait: float = 0.0,
        name: str | None = None,
        max_size: int = 1024,
        clock: Clock | None = None,
        store: Any = None,
        prefetch: int = 1,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name must be a non-empty string or None, got {name!r}")
        check_clock("clock", clock)
        # Validated once (failing fast); every limiter shares the options object.
        self._options = RateLimiterOptions(rate=rate, per=per, burst=burst, max_wait=max_wait)
        self._name = name
        self._clock = clock
        check_count("prefetch", prefetch, maximum=self._options.capacity)
        self._store = resolve_store("store", store) or MEMORY
        self._prefetch = prefetch
        self._registry: BoundedRegistry[RateLimiter] = BoundedRegistry(self._make, max_size)

    def _make(self, key: Hashable) -> RateLimiter:
        name = f"{self._name}.{key}" if self._name else str(key)
        return RateLimiter(
            rate=self._options.rate,
            name=name,
            clock=self._clock,
            store=self._store,
            prefetch=self._prefetch,
            _options=self._options,
        )

    @property
    def options(self) -> RateLimiterOptions:
        """The options every limiter of this registry shares."""
        return self._options

    def get(self, key: Hashable) -> RateLimiter:
        """The limiter for ``key``, created on first use."""
        return self._registry.get(key)

    def __len__(self) -> int:
        return len(self._registry)

    def __contains__(self, key: object) -> bool:
        return key in self._registry

    def __repr__(self) -> str:
        return f"RateLimiterRegistry(name={self._name!r}, size={len(self)})"
