"""RedisStateStore: strategies of many processes share their state through one Redis.

redis-py is imported on first use (``pip install otel-resilience[redis]``). Sync calls use a
``redis.Redis`` client, async calls a ``redis.asyncio`` client per event loop; breakers are
synced by one daemon thread per store (their success path never waits for Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

from opentelemetry.metrics import Observation

from otel_resilience import deadline
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._telemetry import Telemetry
from otel_resilience._validate import check_clock
from otel_resilience.store import _gcra, _scripts
from otel_resilience.store._budget_link import BudgetLink
from otel_resilience.store._health import StoreHealth, track_store
from otel_resilience.store._link import BreakerLink
from otel_resilience.store._protocol import Grant
from otel_resilience.store._sync import FleetWatch, sync_round
from otel_resilience.store._sync import key_error as _key_error
from otel_resilience.store.options import RedisStoreOptions

__all__ = ["RedisStateStore"]

T = TypeVar("T")

_STORES: weakref.WeakSet[RedisStateStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store._forked()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)


class RedisStateStore:
    """Shared breaker, rate-limiter and retry-budget state in Redis, failing open.

    ``RedisStateStore("redis://host:6379/0", prefix="checkout")``, then ``store=`` on a
    strategy, a registry, or :func:`~otel_resilience.store.configure_store`. Every round trip
    is bounded by ``connect_timeout`` / ``command_timeout`` (0.25 s by default) and skipped
    when the call's deadline leaves less than that; after a failure the store backs off and
    strategies decide locally (see docs/shared-state.md). Keyword options: see
    :class:`~otel_resilience.store.options.RedisStoreOptions`.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "otel-resilience",
        sync_interval: float = 0.1,
        connect_timeout: float = 0.25,
        command_timeout: float = 0.25,
        backoff: float = 0.5,
        max_backoff: float = 5.0,
        key_ttl: float = 3600.0,
        ssl_ca_certs: str | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        ssl_cert_reqs: str | None = None,
        client_options: Mapping[str, Any] | None = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
        clock: Clock | None = None,
    ) -> None:
        check_clock("clock", clock)
        self.options = RedisStoreOptions(
            url=url,
            prefix=prefix,
            sync_interval=sync_interval,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
            backoff=backoff,
            max_backoff=max_backoff,
            key_ttl=key_ttl,
            ssl_ca_certs=ssl_ca_certs,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            ssl_cert_reqs=ssl_cert_reqs,
            client_options=dict(client_options or {}),
        )
        self._clock = clock or SYSTEM_CLOCK
        telemetry = Telemetry(None, meter_provider, logger_provider)
        self.health = StoreHealth(
            prefix, self.options.safe_url, self._clock, backoff, max_backoff, telemetry
        )
        self._links: weakref.WeakSet[BreakerLink | BudgetLink] = weakref.WeakSet()
        self._closed = False
        self._fresh()
        _STORES.add(self)
        track_store(meter_provider, self)

    def _fresh(self) -> None:
        """No client, no thread, no past: at construction and in a forked child."""
        self._lock = threading.Lock()
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._aclients: weakref.WeakKeyDictionary[Any, tuple[Any, dict[str, Any]]] = (
            weakref.WeakKeyDictionary()
        )
        #: Per loop, the async generator that closes its client when the loop shuts down.
        self._closers: dict[Any, AsyncIterator[None]] = {}
        self._kick = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch = FleetWatch()
        self._round = threading.Lock()

    def _forked(self) -> None:
        # The parent's sockets and thread are not ours: new ones, lazily; counts start at 0.
        self._fresh()
        self.health.reset()
        links = list(self._links)
        for link in links:
            link.reset()
        if links and not self._closed:
            self._start()

    # -- public ---------------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """Always True: state is shared through Redis."""
        return True

    @property
    def connected(self) -> bool | None:
        """True after a command answered, False while failing open, None before any."""
        return self.health.connected

    def connected_observations(self) -> Iterator[Observation]:
        """The point of the ``resilience.state_store.connected`` gauge."""
        return self.health.observations()

    def kick(self) -> None:
        """Wake the sync thread now (a failure or a local transition to share)."""
        self._kick.set()

    def close(self) -> None:
        """Stop the sync thread and drop the connections (the store answers None after)."""
        self._closed = True
        self._kick.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing a dead connection may fail
                client.close()

    def __repr__(self) -> str:
        return f"RedisStateStore({self.options.safe_url!r}, prefix={self.options.prefix!r})"

    # -- clients ----------------------------------------------------------------------------------

    def _sync_client(self) -> tuple[Any, dict[str, Any]]:
        client = self._client
        if client is None:
            with self._lock:
                client = self._client
                if client is None:
                    import redis
                    from redis.backoff import NoBackoff
                    from redis.retry import Retry

                    # No retries inside redis-py: one bounded attempt, then the store backs off.
                    client = redis.Redis.from_url(
                        self.options.url,
                        retry=Retry(NoBackoff(), 0),
                        **self.options.client_kwargs(),
                    )
                    self._scripts = _register(client)
                    self._client = client
        return client, self._scripts

    async def _async_client(self) -> tuple[Any, dict[str, Any]]:
        loop = asyncio.get_running_loop()
        pair = self._aclients.get(loop)
        if pair is None:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            client = redis.asyncio.Redis.from_url(
                self.options.url, retry=Retry(NoBackoff(), 0), **self.options.client_kwargs()
            )
            pair = self._aclients[loop] = (client, _register(client))
            # An async generator the loop tracks: its shutdown (asyncio.run's end) finishes
            # it, which closes this loop's client. Without it every asyncio.run() that used
            # the store left a connection open (the client also kept its loop alive).
            closer = self._close_with_loop(loop, client)
            await closer.__anext__()
            self._closers[loop] = closer  # the loop holds its generators weakly
        return pair

    async def _close_with_loop(self, loop: Any, client: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            self._aclients.pop(loop, None)
            self._closers.pop(loop, None)
            with contextlib.suppress(Exception):  # a dead connection may fail to close
                await client.aclose()

    def _usable(self) -> bool:
        if self._closed or not self.health.usable():
            return False
        left = deadline.remaining()
        # A round trip may take command_timeout: if the call cannot afford it, decide locally.
        return left is None or left >= self.options.command_timeout

    def run(self, name: str, fn: Callable[[Any, dict[str, Any]], T]) -> T | None:
        """``fn(client, scripts)`` bounded and failing open: its answer, or None."""
        if not self._usable():
            return None
        try:
            client, scripts = self._sync_client()
            result = fn(client, scripts)
        except Exception as exc:  # whatever Redis does, the call goes on
            self._failed(exc, name)
            return None
        self.health.succeeded()
        return result

    async def arun(self, name: str, fn: Callable[[Any, dict[str, Any]], Awaitable[T]]) -> T | None:
        """:meth:`run` on the running loop's asyncio client."""
        if not self._usable():
            return None
        try:
            client, scripts = await self._async_client()
            # socket timeouts bound each read; this bounds a connect that hangs in between.
            limit = self.options.connect_timeout + self.options.command_timeout
            result = await asyncio.wait_for(fn(client, scripts), limit)
        except Exception as exc:
            self._failed(exc, name)
            return None
        self.health.succeeded()
        return result

    def _failed(self, exc: Exception, name: str) -> None:
        if _key_error(exc):  # the server answered: only this key decides locally
            self.health.key_error(exc, name)
        else:
            self.health.failed(exc, name)

    # -- breakers -------------------------------------------------------------------------------

    def link_breaker(self, breaker: Any) -> BreakerLink:
        """Sync ``breaker`` (by its name) with the fleet from now on."""
        link = BreakerLink(breaker, self, breaker.name)
        self._links.add(link)
        self._start()
        return link

    def link_budget(self, budget: Any) -> BudgetLink:
        """Sync token ``budget`` (by its name) with the fleet from now on."""
        link = BudgetLink(budget, self, budget.name, budget._tally)
        self._links.add(link)
        self._start()
        return link

    def probe(self, link: BreakerLink) -> int | None:
        """A fleet-wide half-open slot: 1 yes, 0 no, 2 the fleet closed, -1 stale; None: down."""
        args = _probe_args(link)
        result = self.run(link.name, lambda c, s: s["probe"](keys=link.keys, args=args))
        return None if result is None else int(result)

    async def aprobe(self, link: BreakerLink) -> int | None:
        """:meth:`probe` without blocking the loop."""
        args = _probe_args(link)
        result = await self.arun(link.name, lambda c, s: s["probe"](keys=link.keys, args=args))
        return None if result is None else int(result)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._sync_loop,
                    name=f"otel-resilience-store-{self.options.prefix}",
                    daemon=True,
                )
                self._thread.start()

    def _sync_loop(self) -> None:
        interval = self.options.sync_interval
        me = threading.current_thread()
        while not self._closed and self._thread is me:
            self._kick.wait(interval)
            self._kick.clear()
            with contextlib.suppress(Exception):  # the thread must outlive any surprise
                self.sync()

    def sync(self) -> None:
        """One round: send the linked strategies' counts and decisions, apply the fleet's news
        (an idle round is one round trip whatever the number of breakers: see ``_sync.py``)."""
        if self._closed:
            return
        with self._round:  # the thread's rounds and explicit sync() calls take turns
            sync_round(self, list(self._links), self._watch)

    # -- rate limiters and retry budgets ----------------------------------------------------------

    def acquire(
        self, key: str, per_second: float, burst: int, max_wait: float, n: int = 1
    ) -> Grant | None:
        """Take ``n`` permits of limiter ``key`` (GCRA, one Lua call), or None when down; a
        grant that reserved permits can be given back (``_gcra.release``)."""
        return _gcra.acquire(self, key, per_second, burst, max_wait, n)

    async def aacquire(
        self, key: str, per_second: float, burst: int, max_wait: float, n: int = 1
    ) -> Grant | None:
        """:meth:`acquire` without blocking the loop."""
        return await _gcra.aacquire(self, key, per_second, burst, max_wait, n)


def _register(client: Any) -> dict[str, Any]:
    return {
        "sync": client.register_script(_scripts.BREAKER_SYNC),
        "probe": client.register_script(_scripts.BREAKER_PROBE),
        "gcra": client.register_script(_scripts.GCRA),
        "gcra_release": client.register_script(_scripts.GCRA_RELEASE),
        "budget": client.register_script(_scripts.BUDGET_CHARGE),
    }


def _probe_args(link: BreakerLink) -> list[Any]:
    breaker = link.breaker
    timeout = breaker.options.half_open_probe_timeout if breaker is not None else 60.0
    limit = breaker.options.half_open_max_calls if breaker is not None else 1
    return [link.ver, limit, round(timeout * 1000)]
