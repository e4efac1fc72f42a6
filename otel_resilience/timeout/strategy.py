"""Timeout: bound the time of what it wraps, and publish the deadline to code called inside."""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from otel_resilience import deadline as _deadline
from otel_resilience import semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._responses import close_dropped
from otel_resilience._strategy import CallContext, Strategy
from otel_resilience.timeout._core import converts, is_late, timed_out
from otel_resilience.timeout.options import TimeoutMode, TimeoutOptions

__all__ = ["Timeout"]

T = TypeVar("T")

#: Real seconds between two reads of a clock other than the system's while a worker runs.
_POLL = 0.005


class Timeout(Strategy):
    """Bound a call to ``seconds``: outside a Retry the whole call, inside it each attempt.

    While the call runs, its deadline is published (:mod:`otel_resilience.deadline`), so a
    Retry inside never starts an attempt or a sleep that would end past it, and instrumented
    clients can cap their own timeouts at :func:`~otel_resilience.deadline.remaining`.

    Async calls are cancelled when time is up and :class:`ResilienceTimeoutError` is raised; a
    cancellation from outside still propagates as cancellation. A thread cannot be
    pre-empted: in the default ``mode="publish"`` a sync call runs to its end, and if it ended
    past the deadline :class:`ResilienceTimeoutError` is raised (a result is kept in its
    ``late_result``; an exception becomes its ``__cause__``). ``mode="thread"`` runs sync calls
    in a worker thread (a bounded pool) and stops waiting at the deadline, leaving the worker to
    finish on its own (see docs/timeout.md for the risks).
    """

    __slots__ = ("_lock", "_pool", "mode", "options", "seconds")

    strategy_name = semconv.STRATEGY_TIMEOUT

    def __init__(
        self,
        *,
        seconds: float,
        mode: TimeoutMode = "publish",
        max_workers: int = 8,
        clock: Clock | None = None,
    ) -> None:
        self.options = TimeoutOptions(seconds=seconds, mode=mode, max_workers=max_workers)
        super().__init__(clock=clock)
        self.seconds = float(seconds)
        self.mode = mode
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Timeout(seconds={self.seconds:g}, mode={self.mode!r})"

    # -- sync ----------------------------------------------------------------------------------

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        clock = self._clock
        at = clock.monotonic() + self.seconds
        token = _deadline.tighten(at, clock)
        try:
            if self.mode == "thread":
                return self._in_worker(nxt, ctx, at)
            try:
                result = nxt()
            except BaseException as exc:
                if converts(exc) and is_late(at, clock.monotonic()):
                    raise timed_out(ctx, self.strategy_name, self.seconds) from exc
                raise
        finally:
            _deadline.restore(token)
        if is_late(at, clock.monotonic()):
            raise timed_out(ctx, self.strategy_name, self.seconds, result)
        return result

    def _in_worker(self, nxt: Callable[[], T], ctx: CallContext, at: float) -> T:
        """Run ``nxt`` in a worker, in this context (deadline, span); wait for it until ``at``."""
        future = self._executor().submit(contextvars.copy_context().run, nxt)
        clock = self._clock
        if clock is SYSTEM_CLOCK:  # one wait on the future's own condition: the cheapest
            try:
                return future.result(timeout=max(at - clock.monotonic(), 0.0))
            except TimeoutError:  # concurrent.futures.TimeoutError is TimeoutError (3.11+)
                if future.done():
                    raise  # the call's own TimeoutError
            except concurrent.futures.TimeoutError:  # pragma: no cover - Python 3.10
                if future.done():
                    raise
        else:
            while not future.done():
                left = at - clock.monotonic()
                if left <= 0:
                    break
                # Another clock (a FakeClock) moves on its own: re-read it every few ms.
                concurrent.futures.wait((future,), timeout=min(left, _POLL))
            else:
                return future.result()
        if not future.cancel():  # running: let it finish, drop what it returns
            future.add_done_callback(_drop_result)
        raise timed_out(ctx, self.strategy_name, self.seconds)

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._pool
                if pool is None:
                    pool = self._pool = concurrent.futures.ThreadPoolExecutor(
                        self.options.max_workers, thread_name_prefix="otel-resilience-timeout"
                    )
        return pool

    # -- async ---------------------------------------------------------------------------------

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        clock = self._clock
        at = clock.monotonic() + self.seconds
        make = getattr(clock, "timeout", None)
        if not callable(make):  # not in the Clock protocol: a custom clock may lack it
            make = SYSTEM_CLOCK.timeout
        token = _deadline.tighten(at, clock)
        try:
            cm = make(self.seconds)
            try:
                async with cm:
                    result = await nxt()
            except TimeoutError as exc:
                if _expired(cm):
                    raise timed_out(ctx, self.strategy_name, self.seconds) from exc
                if is_late(at, clock.monotonic()):
                    raise timed_out(ctx, self.strategy_name, self.seconds) from exc
                raise
            except Exception as exc:  # failed late without yielding: the same as a sync call
                if converts(exc) and is_late(at, clock.monotonic()):
                    raise timed_out(ctx, self.strategy_name, self.seconds) from exc
                raise
        finally:
            _deadline.restore(token)
        if is_late(at, clock.monotonic()):  # blocked without ever yielding to the loop
            raise timed_out(ctx, self.strategy_name, self.seconds, result)
        return result


def _expired(cm: Any) -> bool:
    """Whether the timeout context manager fired (``expired`` is a method on asyncio's)."""
    expired = getattr(cm, "expired", False)
    return bool(expired() if callable(expired) else expired)


def _drop_result(future: concurrent.futures.Future[Any]) -> None:
    """An abandoned call finished: free a response it returned, ignore anything else."""
    if not future.cancelled() and future.exception() is None:
        close_dropped(future.result())
