"""ResponseCache options, validated at construction."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from otel_resilience._validate import check_callable, check_choice, check_count, check_seconds
from otel_resilience.cache.codec import Codec

__all__ = ["POLICIES", "CacheOptions"]

#: The eviction policies: least recently used, least frequently used, time to live (LRU order).
POLICIES = ("lru", "lfu", "ttl")


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheOptions:
    """Every tunable of a ResponseCache; see :class:`~otel_resilience.cache.ResponseCache`."""

    policy: str = "lru"
    max_size: int = 1000
    ttl: float | None = None
    key: Callable[..., Hashable | None] | None = None
    cache_if: Callable[[Any], bool] | None = None
    stale_if_error: float | None = None
    name: str | None = None
    #: Shared level (with ``store=``): how values become bytes, the largest value shared,
    #: how long entries live in Redis (default: ``ttl``, else 300 s), the lock's lease.
    codec: Codec | None = None
    max_value_bytes: int = 512 * 1024
    l2_ttl: float | None = None
    lock_lease: float = 2.0

    def __post_init__(self) -> None:
        check_choice("policy", self.policy, POLICIES)
        check_count("max_size", self.max_size)
        check_seconds("ttl", self.ttl, positive=True, optional=True)
        if self.policy == "ttl" and self.ttl is None:
            raise ValueError("ttl must be a number of seconds > 0 with policy='ttl', got None")
        if self.policy != "ttl" and self.ttl is not None:
            raise ValueError(
                f"ttl must be None unless policy='ttl' (policy is {self.policy!r}), "
                f"got {self.ttl!r}"
            )
        check_seconds("stale_if_error", self.stale_if_error, positive=True, optional=True)
        if self.stale_if_error is not None and self.policy != "ttl":
            raise ValueError(
                "stale_if_error must be None unless policy='ttl' (nothing expires otherwise), "
                f"got {self.stale_if_error!r}"
            )
        check_callable("key", self.key)
        check_callable("cache_if", self.cache_if)
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"name must be a non-empty string or None, got {self.name!r}")
        if self.codec is not None and not isinstance(self.codec, Codec):
            raise ValueError(f"codec must have encode() and decode() (a Codec), got {self.codec!r}")
        check_count("max_value_bytes", self.max_value_bytes)
        check_seconds("l2_ttl", self.l2_ttl, positive=True, optional=True)
        check_seconds("lock_lease", self.lock_lease, positive=True)
