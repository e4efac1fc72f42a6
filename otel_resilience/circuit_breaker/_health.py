"""Health probes of an open breaker: run the user's check, bounded, and tell pass from fail.

A probe passes when the check returns a truthy value without raising, within
``health_timeout``. An async check is bounded by the clock's ``timeout()`` (it is cancelled);
a sync check cannot be interrupted, so its duration is checked after it returns and a late
pass counts as a failure. In async calls a sync check runs in a worker thread
(:func:`asyncio.to_thread`) so that it never blocks the event loop.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._util import error_type

__all__ = [
    "HealthProbes",
    "Verdict",
    "is_async_check",
    "probe_async",
    "probe_sync",
]

_log = logging.getLogger(__name__)

#: ``(passed, error.type or None, seconds the probe took)``
Verdict = tuple[bool, "str | None", float]

_TIMEOUT = "TimeoutError"
_OTHER = "_OTHER"


def is_async_check(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is an ``async def`` (or an object whose ``__call__`` is one)."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - the method, not callable()
    )


def probe_sync(fn: Callable[[], Any], clock: Clock, timeout: float) -> Verdict:
    """Run a sync check in this thread; a pass that took longer than ``timeout`` fails."""
    started = clock.monotonic()
    try:
        result = fn()
        if inspect.isawaitable(result):  # an awaitable proves nothing until awaited
            close = getattr(result, "close", None)
            if callable(close):
                close()
            _log.warning("otel-resilience: a sync health check returned an awaitable")
            return False, _OTHER, clock.monotonic() - started
        passed = bool(result)
    except Exception as exc:  # a failing check is a failed probe, never the caller's error
        return False, error_type(exc), clock.monotonic() - started
    duration = clock.monotonic() - started
    if duration > timeout:
        return False, _TIMEOUT, duration
    return passed, None, duration


def _call(fn: Callable[[], Any]) -> Any:
    return fn()


async def probe_async(
    fn: Callable[[], Any], is_async: bool, clock: Clock, timeout: float
) -> Verdict:
    """Await an async check (or a sync one in a worker thread), cancelled after ``timeout``."""
    import asyncio

    limit = getattr(clock, "timeout", None) or SYSTEM_CLOCK.timeout
    started = clock.monotonic()
    try:
        async with limit(timeout):
            result = fn() if is_async else await asyncio.to_thread(_call, fn)
            if inspect.isawaitable(result):
                result = await result
        passed = bool(result)
    except Exception as exc:  # the timeout's TimeoutError included
        return False, error_type(exc), clock.monotonic() - started
    duration = clock.monotonic() - started
    if duration > timeout:  # a sync check ignores cancellation: the clock may have moved on
        return False, _TIMEOUT, duration
    return passed, None, duration


class HealthProbes:
    """A background runner probing an open breaker every ``health_interval``; :meth:`stop` it.

    Made by :meth:`CircuitBreaker.start_health_probes`: a daemon thread for a sync check, an
    asyncio task (of the loop that started it) for an async one. While the breaker is not
    open it only wakes every ``health_interval`` to look.
    """

    __slots__ = ("_interval", "_stop", "task", "thread")

    def __init__(
        self,
        clock: Clock,
        interval: float,
        tick: Callable[[], float] | None = None,
        atick: Callable[[], Awaitable[float]] | None = None,
    ) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.task: Any = None
        if atick is not None:
            import asyncio

            self.task = asyncio.get_running_loop().create_task(self._arun(clock, atick))
        elif tick is not None:
            self.thread = threading.Thread(
                target=self._run, args=(clock, tick), name="otel-resilience-health", daemon=True
            )
            self.thread.start()

    @property
    def running(self) -> bool:
        """Whether the runner is still going."""
        if self.task is not None:
            return not self.task.done()
        return self.thread is not None and self.thread.is_alive()

    def stop(self) -> None:
        """Stop probing: cancel the task, or let the thread end at its next wake-up.

        On the system clock the thread wakes at once; on another clock (a FakeClock) it ends
        when that clock next wakes it.
        """
        self._stop.set()
        if self.task is not None:
            self.task.cancel()

    def join(self, timeout: float | None = None) -> None:
        """Wait (real seconds) for the thread to end after :meth:`stop`."""
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self, clock: Clock, tick: Callable[[], float]) -> None:
        stop = self._stop
        while not stop.is_set():
            try:
                delay = tick()
            except Exception:  # never let one bad round end the runner
                _log.debug("otel-resilience: a background health probe failed", exc_info=True)
                delay = self._interval
            if clock is SYSTEM_CLOCK:
                stop.wait(delay)
            else:
                clock.sleep(delay)

    async def _arun(self, clock: Clock, atick: Callable[[], Awaitable[float]]) -> None:
        while not self._stop.is_set():
            try:
                delay = await atick()
            except Exception:  # never let one bad round end the runner
                _log.debug("otel-resilience: a background health probe failed", exc_info=True)
                delay = self._interval
            await clock.asleep(delay)
