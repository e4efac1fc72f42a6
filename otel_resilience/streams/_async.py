"""The asynchronous monitored stream: an async iterator over a source, measured and controllable.

Controls are plain methods called on the loop's thread; a consumer awaiting a paused stream
waits until it is resumed or cancelled. With ``buffer=N`` a reader task stays at most N chunks
ahead. ``cancel()`` cannot await: the source is closed by the consumer's next step, by
``await stream.aclose()``, or, for an abandoned stream, by the garbage collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

from otel_resilience.streams._core import StreamCore, StreamState
from otel_resilience.streams._metrics import StreamMetrics

__all__ = ["AsyncMonitoredStream"]

_T = TypeVar("_T")
_log = logging.getLogger(__name__)
_STREAMING = StreamState.STREAMING
_PAUSED = StreamState.PAUSED
_IDLE = StreamState.IDLE
_NOTHING: Any = object()
_END: Any = object()


class _Shared:
    """What the consumer, the controls, the reader task and the finalizer share."""

    __slots__ = ("buf", "core", "done", "head", "it", "reader", "source", "started", "wake")

    def __init__(self, source: AsyncIterable[Any], core: StreamCore) -> None:
        self.source = source
        self.head: deque[Any] | None = None  # chunks read and counted before the stream began
        self.core = core
        self.it: AsyncIterator[Any] | None = None
        self.buf: deque[Any] | None = deque() if core.options.buffer else None
        self.done: tuple[StreamState, BaseException | None] | None = None
        self.wake: asyncio.Event | None = None
        self.reader: asyncio.Task[None] | None = None
        self.started = False  # the read-ahead task was started

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


def _begin(shared: _Shared, started_at: float | None) -> None:
    """Idle to streaming: open the source, start the reader task if buffered."""
    core = shared.core
    if core.state is not _IDLE:
        return
    shared.it = aiter(shared.source)
    core.begin(core.now(), started_at)
    _start_reader(shared)


def _start_reader(shared: _Shared) -> None:
    """Start the read-ahead task once, when buffered and a loop runs (else at the first read)."""
    limit = shared.core.options.buffer
    if limit and not shared.started:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # started outside the loop (the LLM proxy may be): the first read starts it
        shared.started = True
        shared.reader = loop.create_task(_produce(shared, limit))


async def _settle(shared: _Shared, started_at: float | None) -> Any:
    """Start an idle stream, wait out a pause; a head chunk, _NOTHING, or _END when final."""
    core = shared.core
    while True:
        state = core.state
        if state is _STREAMING:
            head = shared.head
            return head.popleft() if head else _NOTHING
        if state is _IDLE:
            _begin(shared, started_at)
        elif state is _PAUSED:
            await shared.wait()
        else:
            await shared.close_source()
            return _END


async def _take(shared: _Shared) -> Any:
    """The next buffered chunk, or _END (raising the source's error once it is reached)."""
    core = shared.core
    buf = shared.buf
    assert buf is not None
    _start_reader(shared)
    while True:
        if core.final:
            await shared.close_source()
            return _END
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
                return _END
        await shared.wait()


async def _chunks(  # noqa: PLR0915 - the per-chunk loop stays in one frame
    shared: _Shared, started_at: float | None, on_close: Callable[[], None] | None = None
) -> AsyncGenerator[Any, None]:
    """The stream's items. An async generator, so a read costs no coroutine object of ours,
    and what each read needs stays in its locals; it refers to the shared state only, never to
    the stream object (which stays collectable). ``on_close`` runs if the iteration is closed
    before its end (the LLM proxy's ``async for`` loops get their own iteration)."""
    core = shared.core
    try:
        while True:  # start (or wait out a pause before the start), then the head chunks
            head = await _settle(shared, started_at)
            if head is _END:
                return
            if head is _NOTHING:
                break
            yield head
        if shared.buf is not None:
            while (item := await _take(shared)) is not _END:
                yield item
            return
        it = shared.it
        meter = core.meter
        now = core.now
        on_chunk = core.on_chunk
        # Tokens counted and no byte sizes (the LLM proxy's case): counted here, no frame.
        tally = meter._count if meter._sized is False else None
        # One ``async for`` over the source: its reads are the only code here that raises
        # (hooks are guarded), so an exception below is the source's. Pause and cancel are
        # checked before each read (after the yield) and after it (cancelled while reading).
        try:
            async for item in it:  # type: ignore[union-attr]
                if core.state is not _STREAMING and core.final:  # cancelled while reading
                    await shared.close_source()
                    return
                # The core's chunk() and Meter.chunk() inlined (keep them alike): per chunk.
                at = now()
                if on_chunk is not None:
                    try:
                        visible = on_chunk(item) is not False
                    except Exception:
                        _log.warning("otel-resilience: a stream's on_chunk raised", exc_info=True)
                        visible = True
                    if not visible:  # hidden: no chunk, but its tokens count
                        meter.count(at, item)
                        if (
                            core.state is not _STREAMING
                            and await _settle(shared, started_at) is _END
                        ):
                            return
                        continue
                count = meter.chunks
                if count:
                    gap = meter.last_gap = at - meter.last_at
                    if gap > meter.max_gap:  # noqa: PLR1730 - a compare is cheaper than max()
                        meter.max_gap = gap
                else:
                    meter.first_at = at
                meter.last_at = at
                meter.chunks = count + 1
                if tally is not None:  # Meter._measure inlined for a token count only
                    tokens = tally(item)
                    if tokens:  # Meter._roll inlined too (keep them alike)
                        total = meter.tokens = meter.tokens + tokens
                        if not count:
                            meter.first_tokens = tokens
                        window = meter._window
                        window.append((at, total))
                        if len(window) > 2 and window[1][0] <= at - meter._window_s:
                            meter._slide(at)
                        t0, n0 = window[0]
                        if at > t0:
                            rate = (total - n0) / (at - t0)
                            peak = meter.peak
                            if peak is None or rate > peak:
                                meter.peak = rate
                            trough = meter.trough
                            if trough is None or rate < trough:
                                meter.trough = rate
                elif meter._extra:
                    meter._measure(at, item, count)
                yield item
                if core.state is not _STREAMING and await _settle(shared, started_at) is _END:
                    return  # paused then resumed goes on; cancelled ends
        except GeneratorExit:
            raise
        except asyncio.CancelledError as error:
            # The consumer's task was cancelled mid-read: this iteration cannot go on.
            shared.end(StreamState.CANCELLED, error)
            raise
        except BaseException as error:
            converted = core.convert(error)
            shared.end(StreamState.FAILED, converted)
            if converted is error:
                raise
            raise converted from error
        shared.end(StreamState.COMPLETED)
    except GeneratorExit:
        if on_close is not None:
            on_close()
        raise


class AsyncMonitoredStream(Generic[_T]):
    """An async iterator over ``source`` with ``metrics``, ``state`` and the controls.

    Built by :func:`otel_resilience.monitor_stream`. Also an async context manager: leaving the
    block cancels the stream (if not ended) and closes the source.
    """

    # ``__anext__`` is a slot holding the item generator's own ``__anext__``: the next read
    # reaches the generator through C code only, with no frame of this class per item.
    __slots__ = (
        "__anext__",
        "__weakref__",
        "_agen",
        "_core",
        "_finalizer",
        "_shared",
        "_started_at",
    )
    __anext__: Callable[[], Awaitable[_T]]

    def __init__(
        self, source: AsyncIterable[_T], core: StreamCore, started_at: float | None = None
    ) -> None:
        self._core = core
        self._shared = shared = _Shared(source, core)
        self._started_at = started_at
        self._agen = _chunks(shared, started_at)
        self.__anext__ = self._agen.__anext__
        self._finalizer = weakref.finalize(self, _abandon, shared)
        self._finalizer.atexit = False

    @property
    def state(self) -> StreamState:
        """The current state."""
        return self._core.state

    @property
    def metrics(self) -> StreamMetrics:
        """A snapshot of the figures now (paused time excluded)."""
        return self._core.snapshot(self._core.now())

    def pause(self) -> None:
        """Stop reading: the consumer's next read waits (the source is not read) until resumed."""
        self._core.pause(self._core.now())

    def resume(self) -> None:
        """Let a paused stream go on."""
        if self._core.resume(self._core.now()):
            self._shared.notify()

    def cancel(self) -> None:
        """No more items: the stream ends as cancelled (the source is closed at the next step)."""
        self._shared.end(StreamState.CANCELLED)

    async def aclose(self) -> None:
        """Cancel the stream if it has not ended, and close the source."""
        self.cancel()
        with contextlib.suppress(RuntimeError):  # a read of it is running in another task
            await self._agen.aclose()
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

    def _begin(self) -> None:
        """Idle to streaming now (the LLM proxy starts its stream before the first read)."""
        _begin(self._shared, self._started_at)

    def _items(self, on_close: Callable[[], None] | None = None) -> AsyncIterator[_T]:
        """A new iteration over this stream (the LLM proxy's ``async for`` loops get their own,
        so ``on_close`` runs when the loop's finalizer closes it: ``break``)."""
        return _chunks(self._shared, self._started_at, on_close)
