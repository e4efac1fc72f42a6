"""The I/O-free heart of ResponseCache: entries, single-flight bookkeeping and statistics.

Every method takes the core's lock for a few dictionary operations and never waits while
holding it, so threads and asyncio tasks (of any loop) share one core safely.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cachetools

from otel_resilience._clock import Clock
from otel_resilience.cache.options import CacheOptions

if TYPE_CHECKING:
    import asyncio

__all__ = ["CacheCore", "CacheStats", "Flight", "Miss"]

_MISSING: Any = object()


class _Counting:
    """Mixin counting capacity evictions (cachetools evicts through ``popitem``)."""

    evictions = 0

    def popitem(self) -> tuple[Any, Any]:
        item: tuple[Any, Any] = super().popitem()  # type: ignore[misc]
        self.evictions += 1
        return item


class _LRU(_Counting, cachetools.LRUCache[Any, Any]):
    pass


class _LFU(_Counting, cachetools.LFUCache[Any, Any]):
    pass


class _TTL(_Counting, cachetools.TTLCache[Any, Any]):
    pass


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of a cache's counters (see :meth:`ResponseCache.stats`)."""

    size: int
    max_size: int
    hits: int
    misses: int
    #: ``hits / (hits + misses)``, 0.0 before the first lookup.
    hit_rate: float
    sets: int
    evictions: int
    stale_served: int


class Flight:
    """One dependency call in progress for a key; identical misses wait for its outcome."""

    __slots__ = (
        "abandoned",
        "done",
        "error",
        "event",
        "followers",
        "generation",
        "loop",
        "stale",
        "value",
        "waiters",
    )

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.done = False
        self.abandoned = False  # the leader left with no outcome: followers look up again
        self.stale = False  # the value is a stale entry served on error
        self.value: Any = None
        self.error: BaseException | None = None
        # Sync followers block on it; made by the first follower (under the core's lock), as
        # most flights have none and an Event costs about as much as a JSON decode.
        self.event: threading.Event | None = None
        self.loop: Any = None  # the event loop of an async leader
        self.followers = 0  # identical misses that joined this flight
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []


class Miss:
    """What a lookup that found no fresh entry returns: the flight to lead or to join."""

    __slots__ = ("flight", "leader")

    def __init__(self, flight: Flight, leader: bool) -> None:
        self.flight = flight
        self.leader = leader


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():  # cancelled meanwhile
        fut.set_result(None)


class CacheCore:
    """Entries in a cachetools cache, the flights in progress and the counters, under one lock."""

    __slots__ = (
        "_cache",
        "_clock",
        "_flights",
        "_fresh",
        "_generation",
        "_lock",
        "_stale_window",
        "hits",
        "misses",
        "sets",
        "stale_served",
    )

    def __init__(self, options: CacheOptions, clock: Clock) -> None:
        self._clock = [clock]  # a holder: the TTL timer reads the clock bound last
        self._stale_window = options.stale_if_error
        self._fresh = options.ttl
        self._cache: _LRU | _LFU | _TTL
        if options.policy == "lru":
            self._cache = _LRU(options.max_size)
        elif options.policy == "lfu":
            self._cache = _LFU(options.max_size)
        else:
            assert options.ttl is not None
            holder = self._clock

            def now() -> float:
                return holder[0].monotonic()

            # Entries outlive their ttl by the stale window: stale-if-error can still serve them.
            self._cache = _TTL(options.max_size, options.ttl + (self._stale_window or 0.0), now)
        self._flights: dict[Hashable, Flight] = {}
        self._generation = 0  # bumped by invalidation: a flight started before stores nothing
        self._lock = threading.Lock()
        self.hits = self.misses = self.sets = self.stale_served = 0

    def set_clock(self, clock: Clock) -> None:
        """Read time from ``clock`` from now on (the pipeline's, once bound)."""
        self._clock[0] = clock

    # -- the call path -------------------------------------------------------------------------

    def peek(self, key: Hashable) -> Any:
        """A fresh cached value (counted as a hit), else ``_MISSING``; nothing else changes."""
        lock = self._lock
        lock.acquire()
        try:
            try:
                entry = self._cache[key]
            except KeyError:
                return _MISSING
            if self._stale_window is None:
                self.hits += 1
                return entry
            value, fresh_until = entry
            if self._clock[0].monotonic() < fresh_until:
                self.hits += 1
                return value
            return _MISSING
        finally:
            lock.release()

    def lookup(self, key: Hashable) -> Any:
        """A fresh cached value (counted as a hit), or a :class:`Miss`. TypeError if unhashable."""
        lock = self._lock
        lock.acquire()  # not `with`: measurably cheaper on the hit path
        try:
            try:
                entry = self._cache[key]  # not .get(): one Python frame less on a hit
            except KeyError:
                entry = _MISSING
            if entry is not _MISSING:
                if self._stale_window is None:
                    self.hits += 1
                    return entry
                value, fresh_until = entry
                if self._clock[0].monotonic() < fresh_until:
                    self.hits += 1
                    return value
            flight = self._flights.get(key)
            if flight is not None:
                flight.followers += 1
                if flight.event is None:
                    flight.event = threading.Event()
                return Miss(flight, False)
            flight = self._flights[key] = Flight(self._generation)
            return Miss(flight, True)
        finally:
            lock.release()

    def stale(self, key: Hashable) -> Any:
        """The entry kept for stale-if-error, if still within its window, else ``_MISSING``."""
        if self._stale_window is None:
            return _MISSING
        with self._lock:
            entry = self._cache.get(key, _MISSING)
        return entry if entry is _MISSING else entry[0]

    def resolve(
        self,
        key: Hashable,
        flight: Flight,
        *,
        value: Any = None,
        error: BaseException | None = None,
        store: bool = False,
        stale: bool = False,
        hit: bool = False,
    ) -> None:
        """End ``flight`` with its outcome (storing ``value`` if asked); wake its followers."""
        with self._lock:
            if store and flight.generation == self._generation:
                if self._stale_window is None:
                    self._cache[key] = value
                else:
                    assert self._fresh is not None
                    self._cache[key] = (value, self._clock[0].monotonic() + self._fresh)
                self.sets += 1
            if hit:  # found in the shared level
                self.hits += 1
            else:
                self.misses += 1
            if stale:
                self.stale_served += 1
            flight.value, flight.error, flight.stale = value, error, stale
            self._finish(key, flight)

    def abandon(self, key: Hashable, flight: Flight) -> None:
        """The leader left with no outcome (cancelled, interrupted): followers look up again."""
        with self._lock:
            flight.abandoned = True
            self._finish(key, flight)

    def _finish(self, key: Hashable, flight: Flight) -> None:
        """Mark ``flight`` done and wake who waits (lock held; waking never blocks)."""
        flight.done = True
        if self._flights.get(key) is flight:
            del self._flights[key]
        if flight.event is not None:  # followers joined (under this lock): wake them
            flight.event.set()
        for loop, fut in flight.waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop has nobody left to wake
                loop.call_soon_threadsafe(_wake, fut)
        flight.waiters.clear()

    def follow(self, flight: Flight, stale: bool, failed: bool) -> None:
        """Count a follower's outcome: a hit when it got a fresh value, else a miss."""
        with self._lock:
            if failed or stale:
                self.misses += 1
                if stale:
                    self.stale_served += 1
            else:
                self.hits += 1

    def join_async(self, flight: Flight) -> asyncio.Future[None] | None:
        """A future resolved when ``flight`` ends, or ``None`` if it already has."""
        import asyncio  # here: sync-only programs never import asyncio for a cache

        loop = asyncio.get_running_loop()
        with self._lock:
            if flight.done:
                return None
            fut: asyncio.Future[None] = loop.create_future()
            flight.waiters.append((loop, fut))
            return fut

    def leave_async(self, flight: Flight, fut: asyncio.Future[None]) -> None:
        """A follower was cancelled while waiting: forget its future."""
        with self._lock, contextlib.suppress(ValueError):
            flight.waiters.remove((fut.get_loop(), fut))

    # -- management ----------------------------------------------------------------------------

    def invalidate(self, match: Callable[[Hashable], bool]) -> int:
        """Remove every entry whose key ``match`` accepts; how many were removed."""
        with self._lock:
            doomed = [k for k in list(self._cache.keys()) if match(k)]
            for k in doomed:
                self._cache.pop(k, None)
            self._generation += 1
            return len(doomed)

    def invalidate_all(self) -> int:
        """Remove every entry; how many there were."""
        with self._lock:
            size = len(self._cache)
            self._cache.clear()
            self._generation += 1
            return size

    def cleanup(self) -> int:
        """Drop entries past ttl (and past the stale window); how many were dropped."""
        with self._lock:
            if isinstance(self._cache, _TTL):
                return len(self._cache.expire())
            return 0

    def in_flight(self) -> int:
        """How many keys have a dependency call in progress."""
        with self._lock:
            return len(self._flights)

    def joined(self) -> int:
        """How many followers (sync or async) joined the flights in progress."""
        with self._lock:
            return sum(f.followers for f in self._flights.values())

    def waiting(self) -> int:
        """How many async followers wait on flights in progress."""
        with self._lock:
            return sum(len(f.waiters) for f in self._flights.values())

    def size(self) -> int:
        """Entries held now (a TTL cache drops the expired ones first)."""
        with self._lock:
            return len(self._cache)

    def stats(self, max_size: int) -> CacheStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            lookups = self.hits + self.misses
            return CacheStats(
                size=len(self._cache),
                max_size=max_size,
                hits=self.hits,
                misses=self.misses,
                hit_rate=self.hits / lookups if lookups else 0.0,
                sets=self.sets,
                evictions=self._cache.evictions,
                stale_served=self.stale_served,
            )
