"""Bulkhead: bound how many calls run at once, queue a few, refuse the rest."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from otel_resilience import semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._strategy import CallContext, Strategy
from otel_resilience._telemetry import Telemetry
from otel_resilience.bulkhead._core import ADMITTED, FULL, BulkheadCore, Waiter
from otel_resilience.bulkhead.options import BulkheadOptions
from otel_resilience.errors import BulkheadFullError

if TYPE_CHECKING:
    import asyncio

    from opentelemetry.metrics import UpDownCounter

__all__ = ["Bulkhead"]

T = TypeVar("T")

#: Real seconds between two readings of a clock that offers no timer (neither the system clock
#: nor a FakeClock): a queued thread notices that clock's deadline this late at most.
_POLL = 0.01


class Bulkhead(Strategy):
    """At most ``max_concurrent`` calls run at once; up to ``max_queue`` more wait their turn.

    Waiters are served first come, first served, for at most ``queue_timeout`` seconds on the
    strategy's clock (``None``: as long as it takes). A call that finds no permit and no queue
    slot, or whose wait runs out, gets :class:`~otel_resilience.BulkheadFullError` (a refusal:
    outcome ``rejected``, not retried by Retry, not a breaker failure). Threads and asyncio
    tasks share the same permits, so one bulkhead bounds sync and async callers together.
    A permit is always given back: on return, exception, cancellation and interrupt, and a
    cancelled waiter leaves the queue.
    """

    __slots__ = ("_attrs", "_core", "_name", "options")

    strategy_name = semconv.STRATEGY_BULKHEAD

    def __init__(
        self,
        *,
        max_concurrent: int,
        max_queue: int = 0,
        queue_timeout: float | None = None,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.options = BulkheadOptions(
            max_concurrent=max_concurrent,
            max_queue=max_queue,
            queue_timeout=queue_timeout,
            name=name,
        )
        super().__init__(clock=clock)
        self._core = BulkheadCore(max_concurrent, max_queue)
        self._name = name
        self._attrs = {semconv.BULKHEAD_NAME: self.name}

    @property
    def name(self) -> str:
        """The bulkhead's name (its first pipeline's name when none was given)."""
        return self._name or "bulkhead"

    @property
    def active(self) -> int:
        """How many calls hold a permit right now."""
        return self._core.active

    @property
    def queued(self) -> int:
        """How many calls wait for a permit right now."""
        return self._core.queued

    def __repr__(self) -> str:
        o = self.options
        return (
            f"Bulkhead(name={self.name!r}, max_concurrent={o.max_concurrent}, "
            f"max_queue={o.max_queue})"
        )

    def _bind(self, pipeline_name: str, clock: Clock, telemetry: Telemetry) -> bool:
        if not super()._bind(pipeline_name, clock, telemetry):
            return False
        if self._name is None:
            self._name = pipeline_name
            self._attrs = {semconv.BULKHEAD_NAME: pipeline_name}
        return True

    # -- sync ----------------------------------------------------------------------------------

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        core = self._core
        if not core.try_acquire():
            self._wait(ctx)
        active = ctx.inst.bulkhead_active
        if active is not None:
            _add(active, 1, self._attrs)
        try:
            return nxt()
        finally:
            core.release()
            if active is not None:
                _add(active, -1, self._attrs)

    def _wait(self, ctx: CallContext) -> None:
        """Queue for a permit (blocking the thread) or raise BulkheadFullError."""
        event = threading.Event()
        waiter = Waiter(event.set)
        status = self._core.enqueue(waiter)
        if status == ADMITTED:
            return
        if status == FULL:
            raise self._rejected(ctx, None)
        started = self._clock.monotonic()
        queued = self._queued(ctx, 1)
        try:
            _park(self._clock, event, self._patience(ctx))
            granted = self._core.leave(waiter)
        except BaseException:  # an interrupt while queued: leave, handing on a late permit
            if self._core.leave(waiter):
                self._core.release()
            raise
        finally:
            if queued is not None:
                _add(queued, -1, self._attrs)
        self._waited(ctx, started, granted)

    # -- async ---------------------------------------------------------------------------------

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        core = self._core
        if not core.try_acquire():
            await self._await(ctx)
        active = ctx.inst.bulkhead_active
        if active is not None:
            _add(active, 1, self._attrs)
        try:
            return await nxt()
        finally:
            core.release()
            if active is not None:
                _add(active, -1, self._attrs)

    async def _await(self, ctx: CallContext) -> None:
        """Queue for a permit (suspending the task) or raise BulkheadFullError."""
        import asyncio

        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        waiter = Waiter(partial(loop.call_soon_threadsafe, _resolve, fut))
        status = self._core.enqueue(waiter)
        if status == ADMITTED:
            return
        if status == FULL:
            raise self._rejected(ctx, None)
        started = self._clock.monotonic()
        queued = self._queued(ctx, 1)
        seconds = self._patience(ctx)
        try:
            if seconds is None:
                await fut
            else:
                timeout = getattr(self._clock, "timeout", None) or SYSTEM_CLOCK.timeout
                try:
                    async with timeout(seconds):
                        await fut
                except TimeoutError:
                    pass  # leave() below tells whether a permit arrived meanwhile
            granted = self._core.leave(waiter)
        except BaseException:  # cancelled while queued: leave, handing on a late permit
            if self._core.leave(waiter):
                self._core.release()
            raise
        finally:
            if queued is not None:
                _add(queued, -1, self._attrs)
        self._waited(ctx, started, granted)

    def _patience(self, ctx: CallContext) -> float | None:
        """How long a call may queue: ``queue_timeout``, cut short by the call's deadline."""
        limit = self.options.queue_timeout
        left = ctx.time_left()
        if left is not None and (limit is None or left < limit):
            return max(left, 0.0)  # no point waiting for a permit past the deadline
        return limit

    # -- telemetry -----------------------------------------------------------------------------

    def _queued(self, ctx: CallContext, delta: int) -> UpDownCounter | None:
        counter = ctx.inst.bulkhead_queued
        if counter is not None:
            _add(counter, delta, self._attrs)
        return counter

    def _waited(self, ctx: CallContext, started: float, granted: bool) -> None:
        """After a wait: record it, and refuse the call if no permit came in time."""
        waited = self._clock.monotonic() - started
        if not granted:
            raise self._rejected(ctx, waited)
        if ctx.span is not None:
            ctx.span.add_event(
                semconv.SPAN_EVENT_BULKHEAD_QUEUED,
                {semconv.BULKHEAD_NAME: self.name, semconv.BULKHEAD_WAIT: waited},
            )

    def _rejected(self, ctx: CallContext, waited: float | None) -> BulkheadFullError:
        ctx.set_outcome(semconv.OUTCOME_REJECTED)
        if ctx.span is not None:
            attrs: dict[str, Any] = {semconv.BULKHEAD_NAME: self.name}
            if waited is not None:
                attrs[semconv.BULKHEAD_WAIT] = waited
            ctx.span.add_event(semconv.SPAN_EVENT_BULKHEAD_REJECTED, attrs)
        ctx.inst.count(ctx.pipeline, self.strategy_name, semconv.EVENT_BULKHEAD_REJECTED)
        return BulkheadFullError(self.name, self.options.max_concurrent)


def _add(counter: UpDownCounter, delta: int, attrs: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):  # telemetry never fails the call (nor leaks a permit)
        counter.add(delta, attrs)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():  # cancelled meanwhile: the waiter's own handler gives the permit back
        fut.set_result(None)


def _park(clock: Clock, event: threading.Event, seconds: float | None) -> None:
    """Block until ``event`` is set or ``seconds`` pass on ``clock`` (``None``: no limit)."""
    if seconds is None:
        event.wait()
        return
    call_later = getattr(clock, "call_later", None)
    if call_later is not None:  # a FakeClock: its own timer wakes us when its time passes
        cancel = call_later(seconds, event.set)
        try:
            event.wait()
        finally:
            cancel()
        return
    deadline = clock.monotonic() + seconds
    system = clock is SYSTEM_CLOCK
    while not event.is_set():
        left = deadline - clock.monotonic()
        if left <= 0:
            return
        event.wait(left if system else min(left, _POLL))
