"""Hedging: when an attempt is slow, start another; the first acceptable answer wins."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._responses import aclose_dropped
from otel_resilience._strategy import CallContext, Strategy, UsageError
from otel_resilience.fallback._core import split_on
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
        self._on = OnFilter(split_on(on), on is not None)

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
        order: dict[asyncio.Future[Any], int] = {}  # running attempts -> start order
        timer: asyncio.Future[Any] | None = None
        launched = 0
        last_start = clock.monotonic()
        error: BaseException | None = None
        failed_result: Any = _NOTHING
        try:
            order[asyncio.ensure_future(_attempt(nxt))] = launched
            launched = 1
            while True:
                if timer is None and launched <= self.max_hedges:
                    timer = asyncio.ensure_future(clock.asleep(self.delay))
                waiting = set(order) if timer is None else {*order, timer}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                hedge_now = False
                for task in sorted((t for t in done if t in order), key=order.__getitem__):
                    del order[task]
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
                if timer is not None and (hedge_now or timer in done):
                    if not timer.done():
                        timer.cancel()
                        await asyncio.wait((timer,))
                    timer = None
                    if launched <= self.max_hedges:
                        now = clock.monotonic()
                        record_hedge(ctx, self.strategy_name, launched, now - last_start)
                        last_start = now
                        order[asyncio.ensure_future(_attempt(nxt))] = launched
                        launched += 1
                if not order:  # every attempt failed and no hedge is left
                    if error is not None:
                        raise error
                    result, failed_result = failed_result, _NOTHING  # the caller gets it
                    return result  # type: ignore[no-any-return]
        finally:
            if failed_result is not _NOTHING:
                await aclose_dropped(failed_result)
            await _reap([*order, *((timer,) if timer is not None else ())])


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
