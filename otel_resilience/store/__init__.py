"""Shared state for a fleet of processes: the StateStore protocol, in-memory and Redis stores.

See docs/shared-state.md. ``RedisStateStore`` imports redis-py only when it first talks to
Redis (``pip install otel-resilience[redis]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_resilience.store._protocol import Grant, StateStore
from otel_resilience.store.config import configure_store, default_store
from otel_resilience.store.memory import MemoryStateStore

if TYPE_CHECKING:
    from otel_resilience.store.redis_store import RedisStateStore

__all__ = [
    "Grant",
    "MemoryStateStore",
    "RedisStateStore",
    "StateStore",
    "configure_store",
    "default_store",
]


def __getattr__(name: str) -> Any:
    if name == "RedisStateStore":
        from otel_resilience.store.redis_store import RedisStateStore

        return RedisStateStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
