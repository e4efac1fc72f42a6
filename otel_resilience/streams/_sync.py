"""The synchronous monitored stream: an iterator over a source, measured and controllable.

``pause()``, ``resume()`` and ``cancel()`` may be called from any thread; a consumer reading a
paused stream blocks until another thread resumes or cancels it. With ``buffer=N`` a reader
thread stays at most N chunks ahead of the consumer (it stops reading while the buffer is full
or the stream is paused). Nothing here references the stream object from the reader or the
finalizer, so an abandoned stream is collected and ends as cancelled.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from otel_resilience.streams._core import StreamCore, StreamState
from otel_resilience.streams._metrics import StreamMetrics

__all__ = ["MonitoredStream"]

_T = TypeVar("_T")
_log = logging.getLogger(__name__)
_STREAMING = StreamState.STREAMING
_PAUSED = StreamState.PAUSED
_IDLE = StreamState.IDLE
_NOTHING: Any = object()
_END: Any = object()


class _Shared:
    """What the consumer, the controls, the reader thread and the finalizer share."""

    __slots__ = ("buf", "cond", "core", "done", "head", "it", "source")

    def __init__(self, source: Iterable[Any], core: StreamCore) -> None:
        self.source = source
        self.head: deque[Any] | None = None  # chunks read and counted before the stream began
        self.core = core
        self.cond = threading.Condition()
        self.it: Iterator[Any] | None = None
        self.buf: deque[Any] | None = deque() if core.options.buffer else None
        self.done: tuple[StreamState, BaseException | None] | None = None

    def close_source(self) -> None:
        """Close the source iterator (and the source) if they can be closed."""
        for obj in (self.it, self.source):
            close = getattr(obj, "close", None)
            if close is not None:
                try:
                    close()
                except ValueError:  # a generator running on another thread closes itself later
                    return
                except Exception:
                    pass  # the source's own close failing must not fail cancel()
                return

    def end(self, state: StreamState, error: BaseException | None = None) -> None:
        """Finish (once) and wake every waiter; close the source unless it is being read."""
        core = self.core
        with self.cond:
            ended = core.finish(state, core.options.clock.monotonic(), error)
            self.cond.notify_all()
        # A generator being read on another thread refuses (ValueError): its reader closes it.
        if ended and state is StreamState.CANCELLED and self.buf is None:
            self.close_source()


def _abandon(shared: _Shared) -> None:
    """The stream was garbage-collected before its end."""
    shared.end(StreamState.CANCELLED)


def _produce(shared: _Shared, limit: int) -> None:
    """Reader thread: keep up to ``limit`` chunks ahead, never reading while paused or full."""
    core, cond, buf, it = shared.core, shared.cond, shared.buf, shared.it
    assert buf is not None
    assert it is not None
    clock = core.options.clock
    try:
        while True:
            with cond:
                while not core.final and (core.state is _PAUSED or len(buf) >= limit):
                    cond.wait()
                if core.final:
                    return
            try:
                item = next(it)
            except StopIteration:
                with cond:
                    shared.done = (StreamState.COMPLETED, None)
                    cond.notify_all()
                return
            except BaseException as error:
                with cond:
                    shared.done = (StreamState.FAILED, core.convert(error))
                    cond.notify_all()
                return
            with cond:
                if core.final:
                    return
                if core.chunk(clock.monotonic(), item):
                    buf.append(item)
                    cond.notify_all()
    finally:
        if core.state is StreamState.CANCELLED:
            shared.close_source()


class MonitoredStream(Generic[_T]):
    """An iterator over ``source`` with ``metrics``, ``state``, ``pause/resume/cancel()``.

    Built by :func:`otel_resilience.monitor_stream`. Also a context manager: leaving the block
    cancels the stream if it has not ended.
    """

    # ``__next__`` is a slot holding the item generator's own ``__next__``: ``next(stream)``
    # reaches the generator through C code only, with no frame of this class per item.
    __slots__ = ("__next__", "__weakref__", "_core", "_finalizer", "_shared", "_started_at")
    __next__: Callable[[], _T]

    def __init__(
        self, source: Iterable[_T], core: StreamCore, started_at: float | None = None
    ) -> None:
        self._core = core
        self._shared = shared = _Shared(source, core)
        self._started_at = started_at
        self.__next__ = _chunks(shared, started_at).__next__
        self._finalizer = weakref.finalize(self, _abandon, shared)
        self._finalizer.atexit = False

    @property
    def state(self) -> StreamState:
        """The current state."""
        return self._core.state

    @property
    def metrics(self) -> StreamMetrics:
        """A snapshot of the figures now (paused time excluded)."""
        with self._shared.cond:
            return self._core.snapshot(self._core.options.clock.monotonic())

    def pause(self) -> None:
        """Stop reading: the consumer's next read waits (the source is not read) until resumed."""
        shared = self._shared
        with shared.cond:
            shared.core.pause(shared.core.options.clock.monotonic())

    def resume(self) -> None:
        """Let a paused stream go on."""
        shared = self._shared
        with shared.cond:
            if shared.core.resume(shared.core.options.clock.monotonic()):
                shared.cond.notify_all()

    def cancel(self) -> None:
        """No more items: the stream ends as cancelled and its source is closed."""
        self._shared.end(StreamState.CANCELLED)

    close = cancel

    def __enter__(self) -> MonitoredStream[_T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()

    def __iter__(self) -> MonitoredStream[_T]:
        return self

    def _begin(self) -> None:
        """Idle to streaming: open the source, start the reader thread if buffered."""
        _begin(self._shared, self._started_at)

    def _items(self, on_close: Callable[[], None] | None = None) -> Iterator[_T]:
        """A new iteration over this stream (the LLM proxy's ``for`` loops get their own, so
        ``on_close`` runs when the loop drops it: ``break``)."""
        return _chunks(self._shared, self._started_at, on_close)


def _begin(shared: _Shared, started_at: float | None) -> None:
    """Idle to streaming: open the source, start the reader thread if buffered."""
    core = shared.core
    with shared.cond:
        if core.state is not _IDLE:
            return
        shared.it = iter(shared.source)
        core.begin(core.options.clock.monotonic(), started_at)
        limit = core.options.buffer
        if limit:
            threading.Thread(
                target=_produce, args=(shared, limit), daemon=True, name="stream-reader"
            ).start()


def _settle(shared: _Shared, started_at: float | None) -> Any:
    """Start an idle stream, wait out a pause; a head chunk, _NOTHING, or _END when final."""
    core = shared.core
    with shared.cond:
        while True:
            state = core.state
            if state is _STREAMING:
                head = shared.head
                return head.popleft() if head else _NOTHING
            if state is _IDLE:
                _begin(shared, started_at)
            elif state is _PAUSED:
                shared.cond.wait()
            else:
                return _END


def _take(shared: _Shared) -> Any:
    """The next buffered chunk, or _END (raising the source's error once it is reached)."""
    core = shared.core
    buf = shared.buf
    assert buf is not None
    with shared.cond:
        while True:
            if core.final:
                return _END
            if core.state is not _PAUSED:
                if buf:
                    item = buf.popleft()
                    shared.cond.notify_all()
                    return item
                if shared.done is not None:
                    state, error = shared.done
                    core.finish(state, core.options.clock.monotonic(), error)
                    shared.cond.notify_all()
                    if error is not None:
                        raise error
                    return _END
            shared.cond.wait()


def _chunks(  # noqa: PLR0915 - the per-chunk loop stays in one frame on purpose
    shared: _Shared, started_at: float | None, on_close: Callable[[], None] | None = None
) -> Iterator[Any]:
    """The stream's items. A generator, so a read is one resumption of this frame with what
    it needs in its locals; it refers to the shared state only, never to the stream object
    (which stays collectable). ``on_close`` runs if the iteration is closed before its end."""
    core = shared.core
    try:
        while True:  # start (or wait out a pause before the start), then the head chunks
            head = _settle(shared, started_at)
            if head is _END:
                return
            if head is _NOTHING:
                break
            yield head
        if shared.buf is not None:
            while (item := _take(shared)) is not _END:
                yield item
            return
        it = shared.it
        meter = core.meter
        now = core.now
        on_chunk = core.on_chunk
        # Tokens counted and no byte sizes (the LLM proxy's case): counted here, no frame.
        tally = meter._count if meter._sized is False else None
        # One ``for`` over the source: its reads are the only code here that raises (hooks are
        # guarded), so an exception below is the source's. Pause and cancel are checked before
        # each read (after the yield) and after it (cancelled while reading).
        try:
            for item in it:  # type: ignore[union-attr]
                if core.state is not _STREAMING and core.final:  # cancelled while reading
                    shared.close_source()
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
                        if core.state is not _STREAMING and _settle(shared, started_at) is _END:
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
                if core.state is not _STREAMING and _settle(shared, started_at) is _END:
                    return  # paused then resumed goes on; cancelled ends
        except GeneratorExit:
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
