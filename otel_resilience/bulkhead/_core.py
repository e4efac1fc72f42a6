"""The bulkhead's permit pool: I/O-free, thread-safe, shared by threads and asyncio tasks.

Permits are counted under one lock. A caller that finds no free permit may queue (FIFO); a
released permit is handed straight to the oldest waiter, so a newcomer can never overtake the
queue. A waiter is woken through the callable it queued with (set a thread's event, resolve a
task's future); how it waits, and for how long, is the adapter's business.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable

__all__ = ["ADMITTED", "FULL", "QUEUED", "BulkheadCore", "Waiter"]

ADMITTED = 0  # a permit was free: the caller holds it
QUEUED = 1  # the caller waits in the queue
FULL = 2  # no permit and no queue slot: refuse


class Waiter:
    """One queued caller; ``granted`` turns True (under the pool's lock) when it gets a permit."""

    __slots__ = ("granted", "wake")

    def __init__(self, wake: Callable[[], object]) -> None:
        self.wake = wake
        self.granted = False


class BulkheadCore:
    """At most ``max_concurrent`` permits out, at most ``max_queue`` callers waiting (FIFO)."""

    __slots__ = ("_lock", "_queue", "active", "max_concurrent", "max_queue")

    def __init__(self, max_concurrent: int, max_queue: int) -> None:
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.active = 0
        self._queue: deque[Waiter] = deque()
        self._lock = threading.Lock()

    @property
    def queued(self) -> int:
        """How many callers wait for a permit."""
        return len(self._queue)

    def try_acquire(self) -> bool:
        """Take a permit if one is free and nobody queues before us."""
        with self._lock:
            if self.active < self.max_concurrent and not self._queue:
                self.active += 1
                return True
            return False

    def enqueue(self, waiter: Waiter) -> int:
        """Take a free permit (ADMITTED), else queue ``waiter`` (QUEUED), else FULL."""
        with self._lock:
            if self.active < self.max_concurrent and not self._queue:
                self.active += 1
                return ADMITTED
            if len(self._queue) >= self.max_queue:
                return FULL
            self._queue.append(waiter)
            return QUEUED

    def release(self) -> None:
        """Give a permit back: to the oldest waiter that can still be woken, else to the pool."""
        with self._lock:
            queue = self._queue
            while queue:
                waiter = queue.popleft()
                waiter.granted = True
                try:
                    waiter.wake()
                except Exception:  # its event loop is closed: nobody will ever run it
                    waiter.granted = False
                    continue
                return  # handed over: ``active`` is unchanged
            self.active -= 1

    def leave(self, waiter: Waiter) -> bool:
        """``waiter`` stops waiting: True if it was granted a permit (it now holds it)."""
        with self._lock:
            if waiter.granted:
                return True
            # Absent only when release() skipped it because its wake failed.
            with contextlib.suppress(ValueError):
                self._queue.remove(waiter)
            return False
