"""ResponseCache: answer repeated calls from memory, one dependency call per concurrent miss."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Awaitable, Callable, Hashable, Iterator
from types import CoroutineType, FunctionType
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.metrics import Observation

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._strategy import NO_ANSWER, CallContext, Strategy, UsageError
from otel_resilience._telemetry import Telemetry, track_cache
from otel_resilience.cache._core import _MISSING, CacheCore, CacheStats, Flight, Miss
from otel_resilience.cache._keys import CALL_KEY, call_key, frozen_call_key, key_matcher
from otel_resilience.cache.codec import Codec
from otel_resilience.cache.options import CacheOptions

if TYPE_CHECKING:  # the shared level is imported only by caches that use one
    from otel_resilience.cache import _l2

__all__ = ["ResponseCache"]

_log = logging.getLogger(__name__)
T = TypeVar("T")
_BYPASS: Any = object()  # the lookup's answer for a call that is not cached


class ResponseCache(Strategy):
    """Serve repeated calls from a cachetools cache; identical concurrent misses call once.

    ``policy`` is ``"lru"`` (default), ``"lfu"`` or ``"ttl"`` (needs ``ttl`` seconds, read on
    the pipeline's clock); at most ``max_size`` entries are kept. The key of a call is its
    function (code and captured values) and its arguments (keyword order aside; lists, dicts
    and sets made hashable) unless ``key(*args, **kwargs)`` is given: any hashable, or ``None`` for
    "do not cache this call". Only successful results are stored, and only those ``cache_if``
    accepts. With ``stale_if_error`` (``policy="ttl"``) an entry expired less than that many
    seconds ago is served when the call fails (outcome ``fallback``).

    With ``store=`` (a :class:`~otel_resilience.store.RedisStateStore`, or ``True`` for the
    default of :func:`~otel_resilience.store.configure_store`) the local cache is backed by a
    shared one in Redis: see docs/shared-state.md (values leave the process only then).
    """

    __slots__ = ("__weakref__", "_cache_if", "_core", "_custom_key", "_l2", "_name", "options")

    strategy_name = semconv.STRATEGY_CACHE

    def __init__(
        self,
        *,
        policy: str = "lru",
        max_size: int = 1000,
        ttl: float | None = None,
        key: Callable[..., Hashable | None] | None = None,
        cache_if: Callable[[Any], bool] | None = None,
        stale_if_error: float | None = None,
        name: str | None = None,
        store: Any = None,
        codec: Codec | None = None,
        max_value_bytes: int = 512 * 1024,
        l2_ttl: float | None = None,
        lock_lease: float = 2.0,
        clock: Clock | None = None,
    ) -> None:
        self.options = CacheOptions(
            policy=policy,
            max_size=max_size,
            ttl=ttl,
            key=key,
            cache_if=cache_if,
            stale_if_error=stale_if_error,
            name=name,
            codec=codec,
            max_value_bytes=max_value_bytes,
            l2_ttl=l2_ttl,
            lock_lease=lock_lease,
        )
        self._l2 = None
        if store is not None and store is not False:
            from otel_resilience.cache._l2 import shared_level

            self._l2 = shared_level(self.options, store)
        super().__init__(clock=clock)
        self._core = CacheCore(self.options, self._clock)
        self._custom_key = key
        self._cache_if = cache_if
        self._name = name

    # -- public control ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The cache's name (its pipeline's name when none was given)."""
        return self._name or "cache"

    def invalidate(self, pattern: str | re.Pattern[str] | Callable[[Hashable], bool]) -> int:
        """Remove the entries whose key matches; return how many were removed.

        ``pattern`` is a regex searched in string keys and in the qualified name of the
        function of default keys, or a predicate called with each key. Calls in progress when
        this runs store nothing (their result may predate the change that made you invalidate).
        """
        return self._core.invalidate(key_matcher(pattern))

    def invalidate_all(self) -> int:
        """Remove every entry; return how many there were."""
        return self._core.invalidate_all()

    def cleanup(self) -> int:
        """Drop the expired entries now (cachetools otherwise drops them as it goes)."""
        return self._core.cleanup()

    def stats(self) -> CacheStats:
        """Size, max_size, hits, misses, hit_rate, sets, evictions and stale_served."""
        return self._core.stats(self.options.max_size)

    def l2_stats(self) -> _l2.L2Stats | None:
        """Counters of the shared level (None without ``store=``)."""
        return None if self._l2 is None else self._l2.stats()

    def size_observations(self) -> Iterator[Observation]:
        """The observation of the ``resilience.cache.size`` gauge."""
        yield Observation(self._core.size(), {semconv.CACHE_NAME: self.name})

    def __repr__(self) -> str:
        o = self.options
        return f"ResponseCache(name={self.name!r}, policy={o.policy!r}, max_size={o.max_size})"

    def _bind(self, pipeline_name: str, clock: Clock, telemetry: Telemetry) -> bool:
        if not super()._bind(pipeline_name, clock, telemetry):
            return False
        self._core.set_clock(self._clock)
        if self._name is None:
            self._name = pipeline_name
        if self._l2 is not None:
            self._l2.name = self.name
        track_cache(telemetry.providers[1], self)
        return True

    # -- the call (thin adapters over the core) ------------------------------------------------

    def _peek(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A hit answered before the pipeline builds the call (telemetry off), else NO_ANSWER."""
        if self._custom_key is not None:
            return NO_ANSWER  # user code: called once per call, on the full path
        try:
            if kwargs or (type(fn) is FunctionType and fn.__closure__ is not None):
                found = self._core.peek(call_key(fn, args, kwargs))
            else:  # the common case, inlined
                found = self._core.peek((CALL_KEY, fn, args, ()))
        except Exception:  # unhashable arguments: the full path normalises them
            return NO_ANSWER
        return NO_ANSWER if found is _MISSING else found

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        fn = ctx.fn
        if (
            self._custom_key is None
            and not ctx.kwargs
            and (type(fn) is not FunctionType or fn.__closure__ is None)
        ):  # the common case, inlined: a hit costs one key tuple and one locked lookup
            key: Hashable = (CALL_KEY, fn, ctx.args, ())
            try:
                found = self._core.lookup(key)
            except Exception:  # unhashable arguments: the general path normalises them
                key, found = self._start(ctx)
            else:
                if type(found) is not Miss and found is not _BYPASS:  # a hit
                    if ctx.span is not None or ctx.inst.events is not None:
                        self._report(ctx, semconv.CACHE_STATUS_HIT, semconv.EVENT_CACHE_HIT)
                    return found  # type: ignore[no-any-return]
        else:
            key, found = self._start(ctx)
        while True:
            if type(found) is not Miss:
                return self._served(nxt, ctx, found)  # type: ignore[no-any-return]
            flight = found.flight
            if found.leader:
                return self._lead(nxt, ctx, key, flight)
            if flight.loop is not None and _running_loop() is flight.loop:
                # Led by a task of the loop this thread runs: waiting would deadlock it.
                self._report(ctx, semconv.CACHE_STATUS_BYPASS, None)
                return nxt()
            event = flight.event
            assert event is not None  # lookup() made it for this follower
            event.wait()
            if not flight.abandoned:
                return self._followed(ctx, flight)  # type: ignore[no-any-return]
            found = self._core.lookup(key)  # the leader left with nothing: look again

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        key, found = self._start(ctx)
        core = self._core
        while True:
            if type(found) is not Miss:
                if found is _BYPASS:
                    self._report(ctx, semconv.CACHE_STATUS_BYPASS, None)
                    return await nxt()
                self._report(ctx, semconv.CACHE_STATUS_HIT, semconv.EVENT_CACHE_HIT)
                return found  # type: ignore[no-any-return]
            flight = found.flight
            if found.leader:
                flight.loop = _running_loop()
                return await self._alead(nxt, ctx, key, flight)
            fut = core.join_async(flight)
            if fut is not None:
                try:
                    await fut
                except BaseException:  # cancelled while waiting: leave nothing behind
                    core.leave_async(flight, fut)
                    raise
            if not flight.abandoned:
                return self._followed(ctx, flight)  # type: ignore[no-any-return]
            found = core.lookup(key)

    def _start(self, ctx: CallContext) -> tuple[Hashable, Any]:
        """The call's key and what the cache holds for it (a value, a Miss, or _BYPASS)."""
        custom = self._custom_key
        if custom is None:
            key = call_key(ctx.fn, ctx.args, ctx.kwargs)
        else:
            try:
                key = custom(*ctx.args, **ctx.kwargs)
            except Exception:  # a broken key function must not break the call: don't cache it
                _log.debug("otel-resilience: the cache key function raised", exc_info=True)
                return None, _BYPASS
            if key is None:
                return None, _BYPASS
        try:
            return key, self._core.lookup(key)
        except Exception:  # unhashable (or a raising __hash__/__eq__)
            if custom is not None:
                return None, _BYPASS
        try:
            key = frozen_call_key(ctx.fn, ctx.args, ctx.kwargs)
            return key, self._core.lookup(key)
        except Exception:
            return None, _BYPASS

    def _served(self, nxt: Callable[[], Any], ctx: CallContext, found: Any) -> Any:
        if found is _BYPASS:
            self._report(ctx, semconv.CACHE_STATUS_BYPASS, None)
            return nxt()
        self._report(ctx, semconv.CACHE_STATUS_HIT, semconv.EVENT_CACHE_HIT)
        return found

    def _lead(self, nxt: Callable[[], T], ctx: CallContext, key: Hashable, flight: Flight) -> T:
        lease = None
        try:  # the finally also covers an interrupted L2 lookup: followers are never stranded
            digest = self._digest(ctx, key)
            if digest is not None:
                lease = self._l2.obtain(digest)  # type: ignore[union-attr]
                if lease.found:
                    return self._l2_hit(ctx, key, flight, lease)  # type: ignore[no-any-return]
            try:
                result = nxt()
            except Exception as exc:
                return self._failed(ctx, key, flight, exc)  # type: ignore[no-any-return]
            if type(result) is CoroutineType:  # an async function through call(): refused later
                self._core.abandon(key, flight)
                return result
            return self._succeeded(ctx, key, flight, result, lease)  # type: ignore[no-any-return]
        finally:
            if not flight.done:  # cancelled, interrupted, or a hook raised: wake the followers
                self._core.abandon(key, flight)
            if lease is not None:
                self._l2.settle(lease)  # type: ignore[union-attr]
                self._count_l2(ctx, lease)

    async def _alead(
        self, nxt: Callable[[], Awaitable[T]], ctx: CallContext, key: Hashable, flight: Flight
    ) -> T:
        lease = None
        try:
            digest = self._digest(ctx, key)
            if digest is not None:
                lease = await self._l2.aobtain(digest)  # type: ignore[union-attr]
                if lease.found:
                    return self._l2_hit(ctx, key, flight, lease)  # type: ignore[no-any-return]
            try:
                result = await nxt()
            except Exception as exc:
                return self._failed(ctx, key, flight, exc)  # type: ignore[no-any-return]
            return self._succeeded(ctx, key, flight, result, lease)  # type: ignore[no-any-return]
        finally:
            if not flight.done:
                self._core.abandon(key, flight)
            if lease is not None:
                await self._l2.asettle(lease)  # type: ignore[union-attr]
                self._count_l2(ctx, lease)

    def _digest(self, ctx: CallContext, key: Hashable) -> str | None:
        """The call's cross-process key, or None (no shared level, or no stable key)."""
        if self._l2 is None:
            return None
        return self._l2.digest(self._custom_key is not None, key, ctx.fn, ctx.args, ctx.kwargs)

    def _l2_hit(self, ctx: CallContext, key: Hashable, flight: Flight, lease: _l2.Lease) -> Any:
        """Another process's entry: kept in L1 too, and a hit."""
        self._core.resolve(key, flight, value=lease.value, store=True, hit=True)
        self._report(ctx, semconv.CACHE_STATUS_HIT, semconv.EVENT_CACHE_HIT)
        self._count_l2(ctx, lease)
        return lease.value

    def _count_l2(self, ctx: CallContext, lease: _l2.Lease) -> None:
        if ctx.inst.events is not None:
            for event in lease.counts:
                ctx.inst.count(ctx.pipeline, self.strategy_name, event)
        lease.counts.clear()

    def _succeeded(
        self,
        ctx: CallContext,
        key: Hashable,
        flight: Flight,
        result: Any,
        lease: _l2.Lease | None = None,
    ) -> Any:
        failed = ctx.result_failed(result)
        if failed:  # an error response: never stored, and a reason to serve stale
            stale = self._core.stale(key)
            if stale is not _MISSING:
                return self._serve_stale(ctx, key, flight, stale)
        store = failed is False and self._accepts(result)
        if store and lease is not None:
            lease.keep = result
        self._core.resolve(key, flight, value=result, store=store)
        self._report(ctx, semconv.CACHE_STATUS_MISS, semconv.EVENT_CACHE_MISS)
        return result

    def _failed(self, ctx: CallContext, key: Hashable, flight: Flight, exc: Exception) -> Any:
        if not isinstance(exc, UsageError):  # misuse is no failure of the dependency
            stale = self._core.stale(key)
            if stale is not _MISSING:
                return self._serve_stale(ctx, key, flight, stale)
        self._core.resolve(key, flight, error=exc)
        self._report(ctx, semconv.CACHE_STATUS_MISS, semconv.EVENT_CACHE_MISS)
        raise exc

    def _serve_stale(self, ctx: CallContext, key: Hashable, flight: Flight, stale: Any) -> Any:
        self._core.resolve(key, flight, value=stale, stale=True)
        self._report_stale(ctx)
        return stale

    def _followed(self, ctx: CallContext, flight: Flight) -> Any:
        """A follower gets the flight's value (a hit) or its error (a miss)."""
        error = flight.error
        self._core.follow(flight, flight.stale, error is not None)
        if error is not None:
            self._report(ctx, semconv.CACHE_STATUS_MISS, semconv.EVENT_CACHE_MISS)
            raise error
        if flight.stale:
            self._report_stale(ctx)
        else:
            self._report(ctx, semconv.CACHE_STATUS_HIT, semconv.EVENT_CACHE_HIT)
        return flight.value

    def _accepts(self, result: Any) -> bool:
        cache_if = self._cache_if
        if cache_if is None:
            return True
        try:
            return bool(cache_if(result))
        except Exception:  # a broken predicate stores nothing and fails nothing
            _log.debug("otel-resilience: cache_if raised", exc_info=True)
            return False

    def _report(self, ctx: CallContext, status: str, event: str | None) -> None:
        if ctx.span is not None:
            ctx.span.set_attribute(semconv.CACHE_STATUS, status)
        if event is not None and ctx.inst.events is not None:
            ctx.inst.count(ctx.pipeline, self.strategy_name, event)

    def _report_stale(self, ctx: CallContext) -> None:
        ctx.set_outcome(semconv.OUTCOME_FALLBACK)
        self._report(ctx, semconv.CACHE_STATUS_STALE, semconv.EVENT_CACHE_MISS)
        if ctx.inst.events is not None:
            ctx.inst.count(ctx.pipeline, self.strategy_name, semconv.EVENT_CACHE_STALE_SERVED)


def _running_loop() -> Any:
    """The event loop running in this thread, or ``None`` (without importing asyncio)."""
    asyncio = sys.modules.get("asyncio")
    return None if asyncio is None else asyncio._get_running_loop()
