"""A small pool of daemon threads for sync shadow calls.

Not :class:`concurrent.futures.ThreadPoolExecutor`: its threads are joined at interpreter exit,
so a hung candidate would hang the program's exit. The owner bounds the work in flight (it
reserves a slot before submitting), so the queue never holds more than the pool can run.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

__all__ = ["WorkerPool"]

_log = logging.getLogger(__name__)


class WorkerPool:
    """Up to ``size`` daemon threads named ``name``, started on demand, kept while idle."""

    __slots__ = ("_idle", "_lock", "_queue", "_threads", "name", "size")

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
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

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                job()
            except BaseException:  # a worker must survive anything a job lets through
                _log.debug("otel-resilience: a shadow job raised", exc_info=True)
            with self._lock:
                self._idle += 1
