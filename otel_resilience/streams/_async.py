"""The asynchronous monitored stream: an async iterator over a source, measured and controllable.

Controls are plain methods called on the loop's thread; a consumer awaiting a paused stream
waits until it is resumed or cancelled. With ``buffer=N`` a reader task stays at most N chunks
ahead. ``cancel()`` cannot await: the source is closed by the consumer's next step, by
``await stream.aclose()``, or, for an abandoned stream, by the garbage collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from otel_resilience.streams._core import StreamCore, StreamState
from otel_resilience.streams._metrics import StreamMetrics

__all__ = ["AsyncMonitoredStream"]

_T = TypeVar("_T")
_STREAMING = StreamState.STREAMING
_PAUSED = StreamState.PAUSED
_IDLE = StreamState.IDLE
_NOTHING: Any = object()


class _Shared:
    """What the consumer, the controls, the reader task and the finalizer share."""

    __slots__ = ("buf", "core", "done", "head", "it", "reader", "source", "wake")

    def __init__(self, source: AsyncIterable[Any], core: StreamCore) -> None:
        self.source = source
        self.head: deque[Any] | None = None  # chunks read and counted before the stream began
        self.core = core
        self.it: AsyncIterator[Any] | None = None
        self.buf: deque[Any] | None = deque() if core.options.buffer else None
        self.done: tuple[StreamState, BaseException | None] | None = None
        self.wake: asyncio.Event | None = None
        self.reader: asyncio.Task[None] | None = None

    def notify(self) -> None:
        if self.wake is not None:
            self.wake.set()

    async def wait(self) -> None:
        """Wait for the next change (pause, resume, cancel, a chunk buffered or taken)."""
        wake = self.wake
        if wake is None:
            wake = self.wake = asyncio.Event()
        wake.clear()
        await wake.wait()

    def end(self, state: StreamState, error: BaseException | None = None) -> bool:
        core = self.core
        ended = core.finish(state, core.options.clock.monotonic(), error)
        self.notify()
        reader = self.reader
        if ended and reader is not None and not reader.done():
            reader.cancel()
        return ended

    async def close_source(self) -> None:
        reader = self.reader
        if reader is not None and not reader.done():
            return  # the reader task is (or may be) inside the source: it closes it on its way out
        for obj in (self.it, self.source):
            aclose = getattr(obj, "aclose", None)
            if aclose is not None:
                # The source's own close failing must not fail the consumer.
                with contextlib.suppress(Exception):
                    await aclose()
                return


def _abandon(shared: _Shared) -> None:
    """The stream was garbage-collected before its end."""
    shared.end(StreamState.CANCELLED)


async def _produce(shared: _Shared, limit: int) -> None:
    """Reader task: keep up to ``limit`` chunks ahead, never reading while paused or full."""
    core, buf, it = shared.core, shared.buf, shared.it
    assert buf is not None
    assert it is not None
    clock = core.options.clock
    try:
        while True:
            while not core.final and (core.state is _PAUSED or len(buf) >= limit):
                await shared.wait()
            if core.final:
                return
            try:
                item = await it.__anext__()
            except StopAsyncIteration:
                shared.done = (StreamState.COMPLETED, None)
                return
            except Exception as error:
                shared.done = (StreamState.FAILED, core.convert(error))
                return
            if core.final:
                return
            if core.chunk(clock.monotonic(), item):
                buf.append(item)
                shared.notify()
    finally:
        shared.reader = None
        shared.notify()
        if core.state is StreamState.CANCELLED:
            await shared.close_source()


class AsyncMonitoredStream(Generic[_T]):
    """An async iterator over ``source`` with ``metrics``, ``state`` and the controls.

    Built by :func:`otel_resilience.monitor_stream`. Also an async context manager: leaving the
    block cancels the stream (if not ended) and closes the source.
    """

    __slots__ = ("__weakref__", "_core", "_finalizer", "_shared", "_started_at")

    def __init__(
        self, source: AsyncIterable[_T], core: StreamCore, started_at: float | None = None
    ) -> None:
        self._core = core
        self._shared = shared = _Shared(source, core)
        self._started_at = started_at
        self._finalizer = weakref.finalize(self, _abandon, shared)
        self._finalizer.atexit = False

    @property
    def state(self) -> StreamState:
        """The current state."""
        return self._core.state

    @property
    def metrics(self) -> StreamMetrics:
        """A snapshot of the figures now (paused time excluded)."""
        return self._core.snapshot(self._core.options.clock.monotonic())

    def pause(self) -> None:
        """Stop reading: the consumer's next read waits (the source is not read) until resumed."""
        self._core.pause(self._core.options.clock.monotonic())

    def resume(self) -> None:
        """Let a paused stream go on."""
        if self._core.resume(self._core.options.clock.monotonic()):
            self._shared.notify()

    def cancel(self) -> None:
        """No more items: the stream ends as cancelled (the source is closed at the next step)."""
        self._shared.end(StreamState.CANCELLED)

    async def aclose(self) -> None:
        """Cancel the stream if it has not ended, and close the source."""
        self.cancel()
        await self._shared.close_source()

    async def __aenter__(self) -> AsyncMonitoredStream[_T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncMonitoredStream[_T]:
        return self

    async def __anext__(self) -> _T:
        shared = self._shared
        core = self._core
        while True:
            if core.state is not _STREAMING or shared.head:
                head = await self._settle()
                if head is not _NOTHING:
                    return head  # type: ignore[no-any-return]
            if shared.buf is not None:
                return await self._take()  # type: ignore[no-any-return]
            it = shared.it
            assert it is not None
            try:
                item = await it.__anext__()
            except StopAsyncIteration:
                shared.end(StreamState.COMPLETED)
                raise
            except asyncio.CancelledError:
                raise  # the consumer's task was cancelled: not the stream's failure
            except BaseException as error:
                converted = core.convert(error)
                shared.end(StreamState.FAILED, converted)
                if converted is error:
                    raise
                raise converted from error
            if core.final:  # cancelled while reading
                await shared.close_source()
                raise StopAsyncIteration
            if core.chunk(core.options.clock.monotonic(), item):
                return item  # type: ignore[no-any-return]

    def _begin(self) -> None:
        """Idle to streaming: open the source, start the reader task if buffered."""
        shared = self._shared
        core = self._core
        if core.state is not _IDLE:
            return
        shared.it = aiter(shared.source)
        core.begin(core.options.clock.monotonic(), self._started_at)
        limit = core.options.buffer
        if limit:
            shared.reader = asyncio.get_running_loop().create_task(_produce(shared, limit))

    async def _settle(self) -> Any:
        """Start an idle stream, wait out a pause, stop a finished one; a head chunk if any."""
        shared = self._shared
        core = self._core
        while True:
            state = core.state
            if state is _STREAMING:
                head = shared.head
                return head.popleft() if head else _NOTHING
            if state is _IDLE:
                self._begin()
            elif state is _PAUSED:
                await shared.wait()
            else:
                await shared.close_source()
                raise StopAsyncIteration

    async def _take(self) -> Any:
        shared = self._shared
        core = self._core
        buf = shared.buf
        assert buf is not None
        while True:
            if core.final:
                await shared.close_source()
                raise StopAsyncIteration
            if core.state is not _PAUSED:
                if buf:
                    item = buf.popleft()
                    shared.notify()
                    return item
                if shared.done is not None:
                    state, error = shared.done
                    shared.end(state, error)
                    if error is not None:
                        raise error
                    raise StopAsyncIteration
            await shared.wait()
