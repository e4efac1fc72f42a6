"""A ResponseCache's shared level (L2) on a RedisStateStore: entries, lock, lease, fencing.

An L1 miss asks Redis once (``FETCH``): the entry if there is one; else, if no process holds
the key's lock, a new fencing token (an ``INCR``) and the lock, with a short lease; else
"another process computes". The lock holder calls the dependency while a daemon thread renews
its lease, then writes the entry (``PUT``) unless a newer token was granted meanwhile (its lease
lapsed and another process took over: a stale writer is fenced off). The others poll
until the entry appears, the lock is gone (they take it), or the call's deadline would pass
(they call the dependency themselves). Every step goes through the store's bounded, failing
open ``run``: Redis slow or down means "L1 only", never a failed call.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from otel_resilience import deadline, semconv
from otel_resilience.cache._stable import stable_call_key, stable_key
from otel_resilience.cache.codec import JSON_CODEC, Codec
from otel_resilience.cache.options import CacheOptions
from otel_resilience.store.config import default_store, resolve_store

__all__ = ["L2", "L2Stats", "Lease", "shared_level"]

_MISSING: Any = object()
_POLL_MIN, _POLL_MAX = 0.005, 0.05

# KEYS: entry, lock, fence counter. ARGV: lease ms, fence ttl ms.
FETCH = """
local v = redis.call('GET', KEYS[1])
if v then return {1, v} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {0, ''} end
local f = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('SET', KEYS[2], f, 'PX', ARGV[1])
return {2, tostring(f)}
"""
# KEYS: entry, lock, fence counter. ARGV: fence (0: no lock held), data, ttl ms.
PUT = """
local f = tonumber(ARGV[1])
if f > 0 then
  if f < tonumber(redis.call('GET', KEYS[3]) or '0') then return 0 end
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if f > 0 and redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""
# KEYS: lock. ARGV: fence, lease ms (0: release).
RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""


@dataclass(frozen=True, slots=True)
class L2Stats:
    """Counters of a cache's shared level (see :meth:`ResponseCache.l2_stats`)."""

    hits: int
    misses: int
    stored: int
    too_large: int
    unencodable: int
    fenced: int
    waits: int


@dataclass(slots=True)
class Lease:
    """One L1 miss's dealings with L2: its keys, what it found, the lock it holds."""

    keys: list[str]
    value: Any = _MISSING
    fence: int = 0
    keep: Any = _MISSING  # the value to write once the call succeeded
    counts: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """Whether Redis held the entry (``value``)."""
        return self.value is not _MISSING


class _Renewer:
    """One daemon thread per L2 renewing the leases of the locks held in this process."""

    def __init__(self, l2: L2) -> None:
        self._l2 = weakref.ref(l2)
        self.held: dict[str, int] = {}
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None

    def add(self, key: str, fence: int) -> None:
        with self.lock:
            self.held[key] = fence
            if self.thread is None or self.pid != os.getpid():  # none yet, or forked
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._loop, daemon=True, name="otel-cache")
                self.thread.start()

    def remove(self, key: str) -> None:
        with self.lock:
            self.held.pop(key, None)

    def _loop(self) -> None:
        while True:
            l2 = self._l2()
            if l2 is None:
                return
            period = l2.lease / 3.0
            del l2
            # Wait first: a lock was just taken with a full lease. Renewing it at once was a
            # wasted round trip, which a thread delayed under load sent after the lock's call
            # had ended (the flaky test_l1_hit_makes_no_round_trip[async]).
            self.wake.wait(period)
            l2 = self._l2()
            if l2 is None:
                return
            with self.lock:
                held = list(self.held.items())
            if held:
                with contextlib.suppress(Exception):  # the thread outlives any surprise
                    l2.renew(held)
            del l2


class L2:
    """The shared level of one cache: what the strategy asks of Redis, all failing open."""

    def __init__(
        self, store: Any, name: str, codec: Codec, max_bytes: int, ttl: float, lease: float
    ) -> None:
        self.store, self.name, self.codec = store, name, codec
        self.max_bytes, self.ttl, self.lease = max_bytes, ttl, lease
        self._scripts: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
        self._renewer = _Renewer(self)
        self.hits = self.misses = self.stored = self.too_large = 0
        self.unencodable = self.fenced = self.waits = 0
        self._args = [round(lease * 1000), round((ttl + 60.0) * 1000)]

    def stats(self) -> L2Stats:
        """A snapshot of the counters."""
        return L2Stats(
            self.hits,
            self.misses,
            self.stored,
            self.too_large,
            self.unencodable,
            self.fenced,
            self.waits,
        )

    def digest(
        self,
        custom: bool,
        key: Hashable,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> str | None:
        """The call's cross-process key (of ``key`` if the user's), or None: not shared."""
        return stable_key(key) if custom else stable_call_key(fn, args, kwargs)

    def keys(self, digest: str) -> list[str]:
        """Entry, lock and fence keys of a call's digest (one hash tag: one cluster slot)."""
        base = f"{self.store.options.prefix}:cache:{{{self.name}:{digest}}}"
        return [base, base + ":lock", base + ":fence"]

    def _s(self, client: Any) -> dict[str, Any]:
        scripts = self._scripts.get(client)
        if scripts is None:
            scripts = self._scripts[client] = {
                "fetch": client.register_script(FETCH),
                "put": client.register_script(PUT),
                "renew": client.register_script(RENEW),
            }
        return scripts

    # -- obtain: the entry, the lock, or a wait ----------------------------------------------

    def _answer(self, lease: Lease, reply: Any) -> bool:
        """Apply a FETCH reply; True when the lease is settled (a hit, or the lock)."""
        code = int(reply[0])
        if code == 1:
            try:
                lease.value = self.codec.decode(reply[1])
            except Exception:  # written by another codec: a miss, called without the lock
                lease.value = _MISSING
                self.misses += 1
                return True
            self.hits += 1
            return True
        if code == 2:
            lease.fence = int(reply[1])
            self._renewer.add(lease.keys[1], lease.fence)
            self.misses += 1
            return True
        return False

    def _got(self, lease: Lease, data: bytes | None) -> bool:
        """Apply a GET reply: True on a hit (or undecodable bytes: no lock, no wait)."""
        if data is None or not self._answer(lease, (1, data)):
            return False
        self._waited(lease, False)
        return True

    def _give_up(self, poll: float) -> bool:
        left = deadline.remaining()
        return left is not None and left <= poll + self.store.options.command_timeout

    def obtain(self, digest: str) -> Lease:
        """The entry, or the lock (``fence``), or neither (call without the fleet)."""
        lease, poll, waited = Lease(self.keys(digest)), _POLL_MIN, False
        # A plain GET first: a hit costs one cheap round trip, a miss one more (the script).
        got = self.store.run(self.name, lambda c, _: (c.get(lease.keys[0]),))
        if got is None or self._got(lease, got[0]):  # None: Redis down or skipped, L1 only
            return lease
        while True:
            reply = self.store.run(
                self.name, lambda c, _: self._s(c)["fetch"](lease.keys, self._args)
            )
            if reply is None or self._answer(lease, reply) or self._give_up(poll):
                break
            waited = True
            time.sleep(poll)  # real time: another process works on it
            poll = min(poll * 2, _POLL_MAX)
        self._waited(lease, waited)
        return lease

    async def aobtain(self, digest: str) -> Lease:
        """:meth:`obtain` without blocking the event loop."""
        import asyncio  # here: sync-only programs never import asyncio for a cache

        lease, poll, waited = Lease(self.keys(digest)), _POLL_MIN, False

        async def get(client: Any, _: Any) -> tuple[Any]:
            return (await client.get(lease.keys[0]),)

        got = await self.store.arun(self.name, get)
        if got is None or self._got(lease, got[0]):
            return lease
        while True:
            reply = await self.store.arun(
                self.name, lambda c, _: self._s(c)["fetch"](lease.keys, self._args)
            )
            if reply is None or self._answer(lease, reply) or self._give_up(poll):
                break
            waited = True
            await asyncio.sleep(poll)
            poll = min(poll * 2, _POLL_MAX)
        self._waited(lease, waited)
        return lease

    def _waited(self, lease: Lease, waited: bool) -> None:
        if waited:
            self.waits += 1
            lease.counts.append(semconv.EVENT_CACHE_L2_WAIT)
        if lease.value is not _MISSING:
            lease.counts.append(semconv.EVENT_CACHE_L2_HIT)

    # -- settle: write the entry, or let the lock go ------------------------------------------

    def _encode(self, lease: Lease) -> bytes | None:
        value, lease.keep = lease.keep, _MISSING
        if value is _MISSING:
            return None
        try:
            data = self.codec.encode(value)
            if not isinstance(data, bytes):
                raise TypeError(f"codec.encode returned {type(data).__qualname__}, not bytes")
        except Exception:  # the value stays in L1 only
            self.unencodable += 1
            lease.counts.append(semconv.EVENT_CACHE_L2_UNENCODABLE)
            return None
        if len(data) > self.max_bytes:
            self.too_large += 1
            lease.counts.append(semconv.EVENT_CACHE_L2_TOO_LARGE)
            return None
        return data

    def _settle_args(self, lease: Lease) -> tuple[str, list[str], list[Any]] | None:
        if lease.fence:  # only a lock holder has a lease being renewed (a hit has none)
            self._renewer.remove(lease.keys[1])
        data = self._encode(lease)
        if data is not None:
            return "put", lease.keys, [lease.fence, data, round(self.ttl * 1000)]
        if lease.fence:
            return "renew", [lease.keys[1]], [lease.fence, 0]
        return None

    def _settled(self, op: str, reply: Any) -> None:
        if op == "put" and reply is not None:
            if int(reply):
                self.stored += 1
            else:
                self.fenced += 1

    def settle(self, lease: Lease) -> None:
        """Write ``lease.keep`` if set (fenced), else release the lock if held."""
        todo = self._settle_args(lease)
        if todo is not None:
            op, keys, args = todo
            self._settled(op, self.store.run(self.name, lambda c, _: self._s(c)[op](keys, args)))

    async def asettle(self, lease: Lease) -> None:
        """:meth:`settle` without blocking the event loop."""
        todo = self._settle_args(lease)
        if todo is not None:
            op, keys, args = todo
            reply = await self.store.arun(self.name, lambda c, _: self._s(c)[op](keys, args))
            self._settled(op, reply)

    def renew(self, held: list[tuple[str, int]]) -> None:
        """Extend the leases of the locks this process holds (the renewer's round)."""
        lease_ms = self._args[0]

        def send(client: Any, _: Any) -> Any:
            pipe = client.pipeline(transaction=False)
            for key, fence in held:
                self._s(client)["renew"]([key], [fence, lease_ms], client=pipe)
            return pipe.execute()

        self.store.run(self.name, send)


def shared_level(options: CacheOptions, store: Any) -> L2 | None:
    """The L2 of ``store=``: None/False local only, True the default store, or that store."""
    shared = resolve_store("store", default_store() if store is True else store)
    if shared is None:  # the in-memory store: nothing to share
        return None
    if not all(hasattr(shared, a) for a in ("run", "arun", "options")):
        raise ValueError(f"store must be a RedisStateStore to back a cache, got {shared!r}")
    ttl = options.l2_ttl or options.ttl or 300.0
    codec = options.codec or JSON_CODEC
    name = options.name or "cache"
    return L2(shared, name, codec, options.max_value_bytes, ttl, options.lock_lease)
