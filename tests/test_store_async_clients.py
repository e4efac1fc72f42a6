"""The store's asyncio clients, one per event loop, against a real redis-server."""

from __future__ import annotations

import asyncio

from otel_resilience.store import RedisStateStore
from tests import store_support

# Fixture of the real redis-server.
redis_server = store_support.redis_server


def test_async_connections_close_with_their_event_loop(redis_server):
    """Each asyncio.run() that used the store closes its connection as its loop shuts down:
    the server's client count does not grow with the loops (it grew by one per loop)."""
    admin = redis_server.client()
    before = admin.info("clients")["connected_clients"]
    store = RedisStateStore(redis_server.url, sync_interval=60)

    async def ping() -> object:
        return await store.arun("ping", lambda client, scripts: client.ping())

    assert [asyncio.run(ping()) for _ in range(5)] == [True] * 5
    store_support.until(
        lambda: admin.info("clients")["connected_clients"] == before, "connections closed"
    )
    store.close()
