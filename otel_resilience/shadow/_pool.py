"""A small pool of daemon threads for sync shadow calls.

Not :class:`concurrent.futures.ThreadPoolExecutor`: its threads are joined at interpreter exit,
so a hung candidate would hang the program's exit. The owner bounds the work in flight (it
reserves a slot before submitting), so the queue never holds more than the pool can run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["WorkerPool", "off_loop", "renew_after_fork"]

T = TypeVar("T")

_log = logging.getLogger(__name__)
_OWNERS: weakref.WeakSet[Any] = weakref.WeakSet()


def renew_after_fork(owner: Any) -> None:
    """Call ``owner._forked()`` in a forked child: the parent's worker threads stay behind."""
    _OWNERS.add(owner)


def _after_fork_in_child() -> None:
    for owner in list(_OWNERS):
        owner._forked()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)


class WorkerPool:
    """Up to ``size`` daemon threads named ``name``, started on demand; a thread idle for
    ``linger`` seconds ends (a Shadow per short-lived pipeline must not leak threads)."""

    __slots__ = ("_idle", "_lock", "_queue", "_threads", "linger", "name", "size")

    def __init__(self, size: int, name: str, *, linger: float = 30.0) -> None:
        self.size = size
        self.name = name
        self.linger = linger
        self._queue: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, job: Callable[[], object]) -> None:
        """Run ``job`` on a worker; it must not raise (exceptions are logged at debug level)."""
        with self._lock:
            start = self._idle == 0 and self._threads < self.size
            if start:
                self._threads += 1
            else:
                self._idle -= 1  # this job takes an idle worker
        self._queue.put(job)
        if start:
            thread = threading.Thread(target=self._work, name=self.name, daemon=True)
            thread.start()

    @property
    def threads(self) -> int:
        """Worker threads alive now."""
        return self._threads

    def _work(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=self.linger)
            except queue.Empty:
                with self._lock:
                    # Leave only if no job was handed to an idle worker meanwhile: ``_idle``
                    # counts the waiting workers no submitted job has claimed.
                    if self._idle > 0:
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue
            try:
                job()
            except BaseException:  # a worker must survive anything a job lets through
                _log.debug("otel-resilience: a shadow job raised", exc_info=True)
            with self._lock:
                self._idle += 1


async def off_loop(pool: WorkerPool, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` (which must not raise) on one of ``pool``'s daemon threads, awaited.

    Not ``asyncio.to_thread``: ``asyncio.run`` waits for the default executor's threads at
    exit, so a compare function that hangs would hang the program's exit.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: T) -> None:
        if not future.done():  # the awaiting task may have been cancelled
            future.set_result(value)

    def job() -> None:
        value = fn(*args)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, value)

    pool.submit(job)
    return await future
