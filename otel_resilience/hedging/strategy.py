"""Hedging: when an attempt is slow, start another; the first acceptable answer wins."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from otel_resilience import semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._filter import ExceptionFilter
from otel_resilience._responses import aclose_dropped
from otel_resilience._strategy import CallContext, Strategy, UsageError
from otel_resilience.hedging._core import OnFilter, record_hedge
from otel_resilience.hedging.options import HedgingOptions

__all__ = ["Hedging"]

T = TypeVar("T")

_NOTHING: Any = object()


class Hedging(Strategy):
    """Race attempts of an idempotent async call: the first acceptable answer wins.

    The first attempt starts at once; each time ``delay`` seconds pass without an answer, and
    at once when an attempt fails (an exception ``on`` accepts, or a failing result), another
    starts, up to ``max_hedges`` extra attempts. The first result that is not a failure is
    returned; the other attempts are cancelled and awaited. An exception ``on`` does not
    accept ends the call at once. When every attempt fails, the last failure is raised (or,
    for a failing result, returned).

    Async calls only: a running thread cannot be cancelled, so a sync call through a Hedging
    raises :class:`~otel_resilience.UsageError` (see docs/hedging.md).
    """

    __slots__ = ("_on", "delay", "max_hedges", "options")

    strategy_name = semconv.STRATEGY_HEDGING

    def __init__(
        self,
        *,
        max_hedges: int = 1,
        delay: float = 0.1,
        on: Any = None,
        clock: Clock | None = None,
    ) -> None:
        self.options = HedgingOptions(max_hedges=max_hedges, delay=delay, on=on)
        super().__init__(clock=clock)
        self.max_hedges = max_hedges
        self.delay = float(delay)
        self._on = OnFilter(ExceptionFilter("on", on))

    def __repr__(self) -> str:
        return f"Hedging(max_hedges={self.max_hedges}, delay={self.delay:g})"

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        raise UsageError(
            "Hedging serves async calls only (pipeline.acall or an async def): a sync attempt "
            "runs in a thread that cannot be cancelled, so losers would keep running; use a "
            "Pipeline without Hedging for sync calls"
        )

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        clock = self._clock
        loop = asyncio.get_running_loop()
        race = _Race(loop)
        running: list[asyncio.Future[Any]] = []  # in start order
        launched = 0
        last_start = clock.monotonic()
        error: BaseException | None = None
        failed_result: Any = _NOTHING
        try:
            running.append(race.start(nxt))
            launched = 1
            while True:
                if race.timer is None and launched <= self.max_hedges:
                    race.arm(clock, self.delay)
                await race.wait(running)
                hedge_now = False
                for task in [t for t in running if t.done()]:
                    running.remove(task)
                    exc = task.exception()
                    if exc is not None:
                        if not self._on.wants(ctx, exc):
                            raise exc
                        error, hedge_now = exc, True
                        continue
                    result = task.result()
                    if not ctx.result_failed(result):
                        return result  # type: ignore[no-any-return]
                    if failed_result is not _NOTHING:
                        await aclose_dropped(failed_result)
                    error, failed_result, hedge_now = None, result, True
                if race.timer is not None and (hedge_now or race.fired):
                    await race.disarm()
                    if launched <= self.max_hedges:
                        now = clock.monotonic()
                        record_hedge(ctx, self.strategy_name, launched, now - last_start)
                        last_start = now
                        running.append(race.start(nxt))
                        launched += 1
                if not running:  # every attempt failed and no hedge is left
                    if error is not None:
                        raise error
                    result, failed_result = failed_result, _NOTHING  # the caller gets it
                    return result  # type: ignore[no-any-return]
        finally:
            # One reap for all: a cancellation during it must not skip the rest.
            timer = race.detach()
            try:
                await _reap(running if timer is None else [*running, timer])
            finally:
                if failed_result is not _NOTHING:
                    await aclose_dropped(failed_result)


class _Race:
    """One hedged call's wake-up machinery: attempts and the delay timer poke one future.

    On the system clock the delay is a loop timer (``loop.call_later``: no task to create);
    on any other clock (a FakeClock) it is a task sleeping on that clock.
    """

    __slots__ = ("fired", "loop", "timer", "wake")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.timer: asyncio.TimerHandle | asyncio.Future[Any] | None = None
        self.fired = False
        self.wake: asyncio.Future[None] | None = None

    def poke(self, _: object = None) -> None:
        wake = self.wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def fire(self, timer: object = None) -> None:
        if isinstance(timer, asyncio.Future) and (timer is not self.timer or timer.cancelled()):
            return  # a disarmed timer task whose callback runs late: it did not run out
        self.fired = True
        self.poke()

    def start(self, nxt: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
        """Start one attempt as a task (in a copy of this context: span, deadline)."""
        task = self.loop.create_task(_attempt(nxt))
        task.add_done_callback(self.poke)
        return task

    def arm(self, clock: Clock, delay: float) -> None:
        self.fired = False
        if clock is SYSTEM_CLOCK:
            self.timer = self.loop.call_later(delay, self.fire)
        else:
            timer = self.loop.create_task(clock.asleep(delay))
            timer.add_done_callback(self.fire)
            self.timer = timer

    def detach(self) -> asyncio.Future[Any] | None:
        """Stop the delay; return its task (to reap) on a clock other than the system's."""
        timer, self.timer, self.fired = self.timer, None, False
        if isinstance(timer, asyncio.TimerHandle):
            timer.cancel()
            return None
        return timer

    async def disarm(self) -> None:
        """Stop the delay, and wait until its task (if any) is gone."""
        timer = self.detach()
        if timer is not None:
            await _reap([timer])

    async def wait(self, running: list[asyncio.Future[Any]]) -> None:
        """Until an attempt is done or the delay ran out (at once if one already is)."""
        if self.fired or any(t.done() for t in running):
            return
        self.wake = self.loop.create_future()
        try:
            await self.wake
        finally:
            self.wake = None


async def _attempt(nxt: Callable[[], Awaitable[T]]) -> T:
    """One attempt as a coroutine a task can run (``nxt`` may return any awaitable)."""
    return await nxt()


async def _reap(tasks: list[asyncio.Future[Any]]) -> None:
    """Cancel the losers and wait until they are gone, even if we are cancelled meanwhile."""
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    cancelled = False
    while True:
        pending = [t for t in tasks if not t.done()]
        if not pending:
            break
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError:
            cancelled = True  # finish reaping first, then let the cancellation through
    for task in tasks:
        if task.cancelled():
            continue
        if task.exception() is None:  # finished before its cancellation landed: drop it
            await aclose_dropped(task.result())
    if cancelled:
        raise asyncio.CancelledError
