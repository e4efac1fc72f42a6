"""Injectable time: every strategy reads and waits through a :class:`Clock`.

asyncio is imported inside the methods that need it: ``import otel_resilience`` stays cheap
for programs that never use the async API.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import asyncio
    from contextlib import AbstractAsyncContextManager
    from types import TracebackType

__all__ = ["Clock", "SystemClock", "SYSTEM_CLOCK"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic time and the two ways to wait for it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds``."""
        ...


def check_timeout_seconds(seconds: float | None) -> None:
    """ValueError naming ``seconds`` unless it is None or a number (NaN refused)."""
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or math.isnan(seconds)
    ):
        raise ValueError(f"seconds must be a number or None, got {seconds!r}")


class TaskTimeout:
    """Base of the timeout context managers: cancels the task when armed time runs out.

    Subclasses decide how time is measured by overriding :meth:`_arm` and :meth:`_disarm`;
    :meth:`_expire` must then run on the task's loop. On exit, the cancellation this timeout
    caused becomes the builtin :class:`TimeoutError`; any other cancellation propagates.
    """

    __slots__ = ("_cancelling", "_exited", "_fired", "_loop", "_seconds", "_task")

    def __init__(self, seconds: float | None) -> None:
        check_timeout_seconds(seconds)
        self._seconds = seconds
        self._task: asyncio.Task[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancelling = 0
        self._fired = False
        self._exited = False

    async def __aenter__(self) -> TaskTimeout:
        import asyncio

        if self._task is not None:
            raise RuntimeError("a timeout context manager cannot be entered twice")
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("timeout() must be used inside a task")
        self._task = task
        self._loop = task.get_loop()
        # 3.11+: remember pending cancellations to tell ours from one coming from outside.
        cancelling = getattr(task, "cancelling", None)
        self._cancelling = cancelling() if cancelling is not None else 0
        if self._seconds is not None and self._seconds != math.inf:
            if self._seconds <= 0:
                self._loop.call_soon(self._expire)
            else:
                self._arm(self._seconds)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        import asyncio

        self._exited = True
        self._disarm()
        if not self._fired:
            return
        assert self._task is not None
        uncancel = getattr(self._task, "uncancel", None)
        # 3.11+: ours only if no other cancel is pending (what asyncio.timeout does).
        # 3.10 cannot count cancels; _expire refuses to fire over an already pending one.
        ours = uncancel is None or uncancel() <= self._cancelling
        if ours and exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            raise TimeoutError from exc

    @property
    def expired(self) -> bool:
        """True once the time ran out and the task was cancelled by this timeout."""
        return self._fired

    def _arm(self, seconds: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _disarm(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _expire(self) -> None:
        """Cancel the task (on its loop) unless the block already ended."""
        task = self._task
        if self._exited or self._fired or task is None or task.done():
            return
        if not hasattr(task, "uncancel") and _cancel_pending_py310(task):
            return  # an outside cancel got there first: let it propagate unchanged
        self._fired = True
        task.cancel()


def _cancel_pending_py310(task: asyncio.Task[object]) -> bool:
    """Python 3.10 only: whether someone already called ``task.cancel()`` (private fields)."""
    waiter = getattr(task, "_fut_waiter", None)
    return bool(getattr(task, "_must_cancel", False)) or (waiter is not None and waiter.cancelled())


class LoopTimeout(TaskTimeout):
    """The Python 3.10 stand-in for :func:`asyncio.timeout`, on the loop's own clock."""

    __slots__ = ("_handle",)

    def __init__(self, seconds: float | None) -> None:
        super().__init__(seconds)
        self._handle: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float) -> None:
        assert self._loop is not None
        self._handle = self._loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class SystemClock:
    """The real clock: :func:`time.monotonic`, :func:`time.sleep` and :func:`asyncio.sleep`."""

    __slots__ = ()

    # Bound as staticmethods so a call costs one attribute lookup, not a Python frame.
    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    async def asleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds``."""
        import asyncio

        await asyncio.sleep(seconds)

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[object]:
        """Async context manager: cancel the task after ``seconds``, then raise TimeoutError.

        ``None`` means no limit; zero or less expires at the first suspension. A cancellation
        from outside still propagates as :class:`asyncio.CancelledError`. Must be called while
        an event loop runs. :func:`asyncio.timeout` on 3.11+, an equivalent on 3.10.
        """
        if sys.version_info >= (3, 11):
            import asyncio

            check_timeout_seconds(seconds)
            return asyncio.timeout(seconds)
        return LoopTimeout(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()
