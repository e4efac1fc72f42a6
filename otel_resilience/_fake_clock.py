"""The fake clock of :mod:`otel_resilience.testing` (imported only from there)."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from otel_resilience._clock import TaskTimeout

__all__ = ["FakeClock"]


class _Timer:
    """Something due at fake time ``wake``; ``seq`` keeps equal wake times in arrival order."""

    __slots__ = ("done", "on_fire", "seq", "sleeper", "task", "wake")

    def __init__(
        self,
        wake: float,
        seq: int,
        on_fire: Callable[[], object] | None,
        *,
        sleeper: bool,
        task: asyncio.Task[Any] | None = None,
    ) -> None:
        self.wake = wake
        self.seq = seq
        self.on_fire = on_fire
        self.sleeper = sleeper  # a parked sleep (counted by wait_for_sleepers), not a timeout
        self.task = task
        self.done = False

    def __lt__(self, other: _Timer) -> bool:
        return (self.wake, self.seq) < (other.wake, other.seq)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():  # it may have been cancelled meanwhile
        fut.set_result(None)


def _on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: Any) -> None:
    """Run ``fn`` on ``loop`` from any thread; a closed loop has nobody left to wake."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)


class _FakeTimeout(TaskTimeout):
    """A timeout whose deadline is in the FakeClock's time."""

    __slots__ = ("_clock", "_timer")

    def __init__(self, clock: FakeClock, seconds: float | None) -> None:
        super().__init__(seconds)
        self._clock = clock
        self._timer: _Timer | None = None

    def _arm(self, seconds: float) -> None:
        assert self._loop is not None
        self._timer = self._clock._add_timer(
            seconds, partial(_on_loop, self._loop, self._expire), sleeper=False, task=self._task
        )
        if self._timer is None:  # too small to move the clock: already due
            self._loop.call_soon(self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._clock._drop_timer(self._timer)
            self._timer = None


class FakeClock:
    """A clock that starts at ``start`` and only moves when told to, or when slept on.

    With ``auto_advance=True`` (the default) a sleep advances time at once. With
    ``auto_advance=False`` a sleeping thread or task is parked until :meth:`advance` passes its
    wake time. ``sleeps`` records every requested sleep, in order, for assertions.
    """

    def __init__(self, start: float = 0.0, *, auto_advance: bool = True) -> None:
        if not math.isfinite(start):
            raise ValueError(f"start must be a finite number, got {start!r}")
        if not isinstance(auto_advance, bool):
            raise ValueError(f"auto_advance must be a bool, got {auto_advance!r}")
        self._now = float(start)
        self._auto = auto_advance
        self._cond = threading.Condition()  # guards everything below; woken sleepers wait on it
        self._timers: list[_Timer] = []  # a heap
        self._seq = itertools.count()
        self._parked = 0
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.sleeps: list[float] = []

    @property
    def auto_advance(self) -> bool:
        """Whether sleeping advances time at once (True) or parks until advanced (False)."""
        return self._auto

    @property
    def parked(self) -> int:
        """How many threads and tasks are parked in a sleep right now."""
        return self._parked

    def monotonic(self) -> float:
        """The current fake time in seconds."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (which must not be negative), waking who is due.

        Parked sleepers and timeouts fire in wake-time order. Thread-safe: may be called
        from any thread or task.
        """
        if not seconds >= 0 or not math.isfinite(seconds):  # also refuses NaN
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        with self._cond:
            self._advance_to(self._now + seconds)

    def sleep(self, seconds: float) -> None:
        """Record the sleep; advance time at once, or park the thread until advanced past it."""
        _check_sleep(seconds)
        with self._cond:
            self.sleeps.append(seconds)
            if self._auto:
                self._advance_to(self._now + max(seconds, 0.0))
                return
            timer = self._add_timer(seconds, None, sleeper=True)
            if timer is not None:
                self._cond.wait_for(lambda: timer.done)

    async def asleep(self, seconds: float) -> None:
        """Record the sleep; advance time at once, or park the task until advanced past it.

        Either way the task yields to the event loop at least once. With ``auto_advance``,
        time stops at the deadline of a pending :meth:`timeout` of this task, if earlier.
        """
        _check_sleep(seconds)
        loop = asyncio.get_running_loop()
        with self._cond:
            self.sleeps.append(seconds)
            timer = None
            if self._auto:
                target = self._now + max(seconds, 0.0)
                task = asyncio.current_task()
                deadlines = [t.wake for t in self._timers if t.task is task and t.task is not None]
                self._advance_to(min(target, *deadlines) if deadlines else target)
            else:
                fut: asyncio.Future[None] = loop.create_future()
                timer = self._add_timer(
                    seconds, partial(_on_loop, loop, _resolve, fut), sleeper=True
                )
        if timer is None:
            await asyncio.sleep(0)
            return
        try:
            await fut
        finally:
            self._drop_timer(timer)  # cancelled while parked: leave no timer behind

    def timeout(self, seconds: float | None) -> TaskTimeout:
        """Async context manager: cancel the task once fake time passes ``seconds`` from now.

        On exit the cancellation becomes the builtin :class:`TimeoutError`; one coming from
        outside propagates as :class:`asyncio.CancelledError`. ``None`` means no limit.
        """
        return _FakeTimeout(self, seconds)

    def call_later(self, seconds: float, fn: Callable[[], object]) -> Callable[[], None]:
        """Call ``fn`` once fake time passes ``seconds`` from now; returns a cancel function.

        ``fn`` runs in the thread that advances the clock, with the clock's lock held: it must
        be quick and must not touch this clock (setting a :class:`threading.Event` is fine).
        Used by synchronous waits with a deadline on this clock (a queued Bulkhead call). A
        delay too small to move the clock calls ``fn`` at once.
        """
        _check_sleep(seconds)
        timer = self._add_timer(seconds, fn, sleeper=False)
        if timer is None:
            fn()
            return _nothing
        return partial(self._drop_timer, timer)

    def wait_for_sleepers(self, n: int, *, timeout: float | None = 5.0) -> None:
        """Block until ``n`` sleepers are parked; TimeoutError after ``timeout`` real seconds.

        For sleepers in other threads (or another thread's event loop). Inside the event
        loop the tasks run on, use :meth:`wait_for_sleepers_async`.
        """
        _check_wait(n, timeout)
        with self._cond:
            if not self._cond.wait_for(lambda: self._parked >= n, timeout):
                raise TimeoutError(f"{self._parked} sleepers parked after {timeout}s, wanted {n}")

    async def wait_for_sleepers_async(self, n: int, *, timeout: float | None = 5.0) -> None:
        """Suspend until ``n`` sleepers are parked; TimeoutError after ``timeout`` real seconds."""
        _check_wait(n, timeout)
        loop = asyncio.get_running_loop()
        with self._cond:
            if self._parked >= n:
                return
            waiter = (n, loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter[2], timeout)
        except asyncio.TimeoutError:  # distinct from TimeoutError on 3.10
            raise TimeoutError(
                f"{self._parked} sleepers parked after {timeout}s, wanted {n}"
            ) from None
        finally:
            with self._cond:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _advance_to(self, target: float) -> None:
        """Fire every timer due by ``target`` in order, then set the time (lock held)."""
        while self._timers and self._timers[0].wake <= target:
            timer = heapq.heappop(self._timers)
            timer.done = True
            if timer.sleeper:
                self._parked -= 1
            if timer.on_fire is not None:
                timer.on_fire()
        self._now = target
        self._cond.notify_all()

    def _add_timer(
        self,
        seconds: float,
        on_fire: Callable[[], object] | None,
        *,
        sleeper: bool,
        task: asyncio.Task[Any] | None = None,
    ) -> _Timer | None:
        """Schedule ``on_fire`` at now + ``seconds``; None if that does not move the clock."""
        with self._cond:
            wake = self._now + seconds
            if not wake > self._now:
                return None
            timer = _Timer(wake, next(self._seq), on_fire, sleeper=sleeper, task=task)
            heapq.heappush(self._timers, timer)
            if sleeper:
                self._parked += 1
                self._cond.notify_all()
                for waiter in [w for w in self._waiters if w[0] <= self._parked]:
                    self._waiters.remove(waiter)
                    _on_loop(waiter[1], _resolve, waiter[2])
            return timer

    def _drop_timer(self, timer: _Timer) -> None:
        """Remove a timer that has not fired (no-op once it has)."""
        with self._cond:
            if timer.done:
                return
            timer.done = True
            self._timers.remove(timer)
            heapq.heapify(self._timers)
            if timer.sleeper:
                self._parked -= 1

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r})"


def _nothing() -> None:
    return None


def _check_sleep(seconds: float) -> None:
    if not isinstance(seconds, (int, float)) or math.isnan(seconds) or seconds == math.inf:
        raise ValueError(f"seconds must be a number below infinity, got {seconds!r}")


def _check_wait(n: int, timeout: float | None) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    if timeout is not None and not timeout >= 0:
        raise ValueError(f"timeout must be None or a number >= 0, got {timeout!r}")
