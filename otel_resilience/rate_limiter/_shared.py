"""A RateLimiter on a shared store: the fleet's GCRA decides, with an optional local batch.

Every acquisition is one Lua call (a round trip: the price of an exact fleet-wide rate).
With ``prefetch=k`` the limiter takes ``k`` permits in one call and hands them out locally
until they run out or ``max(k / rate, 1 s)`` passes (unused ones are lost: under-use). The
fleet charged them when they were fetched, so a process runs at most ``k - 1`` permits off the
fleet's schedule: any window admits at most ``k - 1`` per process beyond the rate. A store
that cannot answer (None) sends the call to the local bucket: during an outage each process
limits alone, at the full rate. A call cancelled while it waits for its fleet permit gives it
back if nobody was admitted after it, as the local bucket does (:meth:`give_back`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from otel_resilience.store._protocol import Grant, StateStore

if TYPE_CHECKING:
    from otel_resilience.rate_limiter.strategy import RateLimiter

__all__ = ["FleetPermits"]


class FleetPermits:
    """The fleet side of one limiter: its store and its local batch of pre-fetched permits."""

    __slots__ = ("_expires", "_left", "_lock", "_ttl", "batch", "store")

    def __init__(self, store: StateStore, prefetch: int, per_second: float) -> None:
        self.store = store
        self.batch = prefetch
        self._ttl = max(prefetch / per_second, 1.0)
        self._lock = threading.Lock()
        self._left = 0
        self._expires = 0.0

    def _local(self, now: float) -> bool:
        if self.batch <= 1:
            return False
        with self._lock:
            if self._left > 0 and now < self._expires:
                self._left -= 1
                return True
            return False

    def _keep(self, grant: Grant | None, now: float, n: int) -> Grant | None:
        if grant is not None and grant[0] and n > 1:
            with self._lock:  # this call takes one of the n
                self._left, self._expires = n - 1, now + self._ttl
        return grant

    def acquire(self, rl: RateLimiter, now: float, max_wait: float) -> Grant | None:
        """A grant for one call (sync)."""
        if self._local(now):
            return True, 0.0
        opts, name = rl.options, rl.name
        if self.batch > 1:  # a whole batch if free now, else a single permit as usual
            grant = self.store.acquire(name, opts.per_second, opts.capacity, 0.0, self.batch)
            if grant is None or grant[0]:
                return self._keep(grant, now, self.batch)
        return self.store.acquire(name, opts.per_second, opts.capacity, max_wait, 1)

    async def aacquire(self, rl: RateLimiter, now: float, max_wait: float) -> Grant | None:
        """A grant for one call, without blocking the loop."""
        if self._local(now):
            return True, 0.0
        opts, name = rl.options, rl.name
        if self.batch > 1:
            grant = await self.store.aacquire(name, opts.per_second, opts.capacity, 0.0, self.batch)
            if grant is None or grant[0]:
                return self._keep(grant, now, self.batch)
        return await self.store.aacquire(name, opts.per_second, opts.capacity, max_wait, 1)

    @staticmethod
    def give_back(grant: Grant, in_loop: bool) -> None:
        """A caller cancelled while waiting for ``grant``: return its permit if the store can
        (from a task of its own when ``in_loop``, so the cancellation is not held up)."""
        from otel_resilience.store import _gcra  # the cancel path only: keeps imports light

        if in_loop:
            _gcra.arelease(grant)
        else:
            _gcra.release(grant)
