"""The default store: what strategies use when given no ``store=``.

``configure_store(store)`` sets it for the process; without that, ``OTEL_RESILIENCE_REDIS_URL``
(read at the first strategy that asks) makes it a :class:`RedisStateStore` on that URL (with
``OTEL_RESILIENCE_REDIS_PREFIX`` as its prefix when set); else it is the in-memory store.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from otel_resilience.store._protocol import StateStore
from otel_resilience.store.memory import MemoryStateStore

__all__ = ["ENV_PREFIX", "ENV_URL", "configure_store", "default_store", "resolve_store"]

ENV_URL = "OTEL_RESILIENCE_REDIS_URL"
ENV_PREFIX = "OTEL_RESILIENCE_REDIS_PREFIX"

MEMORY = MemoryStateStore()
_lock = threading.Lock()
_default: StateStore | None = None


def configure_store(
    store: StateStore | None = None, *, url: str | None = None, **options: Any
) -> StateStore:
    """Set the process's default store: ``store``, or a RedisStateStore on ``url``; returns it.

    ``configure_store()`` with neither goes back to the in-memory store. Strategies built
    before the call keep the store they were given.
    """
    global _default
    if store is not None and (url is not None or options):
        raise ValueError("configure_store takes a store or a url (with options), not both")
    if store is None and url is not None:
        from otel_resilience.store.redis_store import RedisStateStore

        store = RedisStateStore(url, **options)
    elif store is None and options:
        raise ValueError(f"options without url: {sorted(options)}")
    if store is not None and not isinstance(store, StateStore):
        raise ValueError(f"store must be a StateStore, got {store!r}")
    with _lock:
        _default = store if store is not None else MEMORY
        return _default


def default_store() -> StateStore:
    """The store of strategies given none (see the module docstring)."""
    global _default
    current = _default
    if current is not None:
        return current
    with _lock:
        if _default is None:
            url = os.environ.get(ENV_URL, "").strip()
            if url:
                from otel_resilience.store.redis_store import RedisStateStore

                prefix = os.environ.get(ENV_PREFIX, "").strip() or "otel-resilience"
                _default = RedisStateStore(url, prefix=prefix)
            else:
                _default = MEMORY
        return _default


def resolve_store(field: str, store: object) -> StateStore | None:
    """A strategy's ``store=`` argument: the store to use, or None for "local only"."""
    if store is None:
        store = default_store()
    if not isinstance(store, StateStore):
        raise ValueError(f"{field} must be a StateStore (or None), got {store!r}")
    return store if store.shared else None
