"""Helpers for the stream tests: a counting source and one driver for sync and async streams."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from otel_resilience.testing import FakeClock


def Source(items: list[Any], mode: str, *args: Any, **kwargs: Any) -> Any:
    """A counting source of ``items``: sync or async after ``mode``."""
    return (AsyncSource if mode == "async" else SyncSource)(items, mode, *args, **kwargs)


class SyncSource:
    """Yields ``items``, counting reads and closes; ``steps[i]`` advances the clock first."""

    def __init__(
        self,
        items: list[Any],
        mode: str,
        clock: FakeClock | None = None,
        steps: list[float] | None = None,
        error_at: int | None = None,
    ) -> None:
        self.items = items
        self.mode = mode
        self.clock = clock
        self.steps = steps or []
        self.error_at = error_at
        self.reads = 0
        self.closed = 0

    def _read(self) -> Any:
        i = self.reads
        if self.clock is not None and i < len(self.steps):
            self.clock.advance(self.steps[i])
        if i == self.error_at:
            self.reads += 1
            raise ConnectionResetError("peer went away")
        if i >= len(self.items):
            return _END
        self.reads += 1
        return self.items[i]

    def __iter__(self) -> Any:
        return self._sync()

    def _sync(self) -> Any:
        try:
            while (item := self._read()) is not _END:
                yield item
        finally:
            self.closed += 1


class AsyncSource(SyncSource):
    """The same, as an async iterable."""

    __iter__ = None  # type: ignore[assignment]

    def __aiter__(self) -> Any:
        return self._async()

    async def _async(self) -> Any:
        try:
            while (item := self._read()) is not _END:
                yield item
        finally:
            self.closed += 1


_END = object()


class Driver:
    """Drives a stream from the test's thread whatever its kind: one test body for both."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.loop = asyncio.new_event_loop() if mode == "async" else None

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        assert self.loop is not None
        return self.loop.run_until_complete(coro)

    def next(self, stream: Any) -> Any:
        """The next item, or the StopIteration/StopAsyncIteration class when the stream ended."""
        if self.loop is None:
            try:
                return next(stream)
            except StopIteration:
                return StopIteration
        try:
            return self.run(stream.__anext__())
        except StopAsyncIteration:
            return StopIteration

    def drain(self, stream: Any) -> list[Any]:
        """Every remaining item."""
        items = []
        while (item := self.next(stream)) is not StopIteration:
            items.append(item)
        return items

    def close(self, stream: Any) -> None:
        """close() (sync) or aclose() (async)."""
        if self.loop is None:
            stream.close()
        else:
            self.run(stream.aclose())

    def start_next(self, stream: Any) -> Any:
        """Begin a read that may block: a thread (sync) or a task (async)."""
        box: dict[str, Any] = {}
        if self.loop is None:

            def read() -> None:
                box["item"] = self.next(stream)

            thread = threading.Thread(target=read, daemon=True)
            thread.start()
            return (thread, box)
        task = self.loop.create_task(stream.__anext__())
        self.settle()
        return (task, box)

    def settle(self, condition: Callable[[], bool] | None = None) -> None:
        """Let other threads/tasks run until ``condition`` holds (async: a few loop turns)."""
        if self.loop is not None:
            for _ in range(20):
                self.run(asyncio.sleep(0))
                if condition is not None and condition():
                    return
            assert condition is None or condition(), "condition never held"
            return
        if condition is not None:
            deadline = threading.Event()
            for _ in range(50_000):
                if condition():
                    return
                deadline.wait(0.0001)
            raise AssertionError("condition never held")

    def finish(self, handle: Any) -> Any:
        """Wait for a read begun by :meth:`start_next` and return its item."""
        worker, box = handle
        if self.loop is None:
            worker.join(10)
            assert not worker.is_alive(), "the read never returned"
            return box["item"]
        try:
            return self.run(worker)
        except StopAsyncIteration:
            return StopIteration

    def blocked(self, handle: Any) -> bool:
        """Whether a read begun by :meth:`start_next` is still waiting."""
        worker, _ = handle
        return worker.is_alive() if self.loop is None else not worker.done()

    def shutdown(self) -> None:
        if self.loop is not None:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()


def waiting(stream: Any) -> int:
    """Threads waiting on a sync stream's condition (a read parked by pause or backpressure)."""
    return len(stream._shared.cond._waiters)
