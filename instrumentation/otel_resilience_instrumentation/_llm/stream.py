"""The proxy returned in place of an LLM SDK's stream object (openai/anthropic Stream, AsyncStream).

The LLM runner pulls the first chunk inside its pipeline (so failures before it are retried or
fall back), then calls :func:`wrap_stream`. The proxy keeps the SDK object's API (``isinstance``,
iteration, ``with``, ``close()``, ``.response``, and the SDK's own stream managers built on it),
yields ``first_chunk`` then the rest, measures the stream, offers ``pause()`` / ``resume()`` /
``cancel()`` and ``.metrics``, and calls ``hooks.on_end`` exactly once however the stream ends.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol, TypeVar

import wrapt

from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience.streams._async import AsyncMonitoredStream
from otel_resilience.streams._core import StreamCore, StreamObserver, StreamOptions, StreamState
from otel_resilience.streams._metrics import StreamMetrics
from otel_resilience.streams._sync import MonitoredStream

__all__ = [
    "OUTCOME_ABANDONED",
    "OUTCOME_CLOSED",
    "OUTCOME_COMPLETED",
    "OUTCOME_CONSUMER_ERROR",
    "OUTCOME_FAILED",
    "StreamHooks",
    "wrap_stream",
]

#: ``on_end`` outcomes. The source was read to its end.
OUTCOME_COMPLETED = "completed"
#: The caller stopped early: ``break``, ``close()``, ``cancel()``, ``with`` exit before the end.
OUTCOME_CLOSED = "closed"
#: An exception raised by the caller's code ended the stream (``with`` exit with an exception,
#: or thrown into the iteration); ``error`` is that exception.
OUTCOME_CONSUMER_ERROR = "consumer_error"
#: Reading the source failed after the first chunk; ``error`` is what the caller receives
#: (the result of ``hooks.convert_error``).
OUTCOME_FAILED = "failed"
#: The stream was garbage-collected before it ended (nobody closed it).
OUTCOME_ABANDONED = "abandoned"

_S = TypeVar("_S")
_log = logging.getLogger(__name__)


class StreamHooks(Protocol):
    """What the LLM runner does for each chunk and at the end (implemented by the runner).

    Hooks must not raise; an exception from them is logged and ignored (never breaks the
    caller's iteration). They run on the consumer's thread/task, except ``on_end`` for an
    abandoned stream, which runs wherever the garbage collector runs.
    """

    def on_chunk(self, chunk: Any) -> bool:
        """Look at one chunk (usage, model, finish reasons); False hides it from the caller.

        Hooks may also have ``count_tokens(chunk) -> int``: the output tokens the chunk adds,
        asked right after ``on_chunk`` (also for a hidden chunk, which is not counted as one).
        """
        ...

    def on_state_change(self, previous: str, state: str) -> None:
        """The stream moved from state ``previous`` to ``state`` (``StreamState`` values)."""
        ...

    def convert_error(self, error: BaseException) -> BaseException:
        """The exception to raise to the caller for a mid-stream ``error`` (classified)."""
        ...

    def on_end(self, outcome: str, error: BaseException | None, metrics: StreamMetrics) -> None:
        """Called exactly once when the stream ends: an ``OUTCOME_*`` value, the error, figures."""
        ...


def wrap_stream(
    stream: _S,
    first_chunk: Any,
    hooks: StreamHooks,
    *,
    started_at: float | None = None,
    first_at: float | None = None,
    clock: Clock = SYSTEM_CLOCK,
    buffer: int = 0,
) -> _S:
    """Return a proxy of ``stream`` (sync or async SDK stream) that yields ``first_chunk`` first.

    ``first_chunk`` was already pulled from ``stream`` by the runner, which must not pass it to
    ``hooks.on_chunk``: the proxy does, so every chunk is seen exactly once. ``started_at`` is
    the logical start (``clock.monotonic()`` when the operation began) for time to first chunk,
    ``first_at`` when the first chunk arrived; both default to now. ``buffer`` > 0 reads up to
    that many chunks ahead of the caller (backpressure: reading stops while the buffer is full).
    The proxy is an instance of ``type(stream)`` for ``isinstance`` and adds ``metrics``,
    ``state``, ``pause()``, ``resume()`` and ``cancel()``. Ending the stream in any way calls
    ``hooks.on_end`` once; so does garbage collection of a stream nobody closed.
    """
    observer = _Observer(hooks)
    options = StreamOptions(
        name="llm",
        buffer=buffer,
        clock=clock,
        on_state_change=observer.state_change,
        # Output tokens per chunk, when the hooks count them (``on_chunk`` sees the chunk first).
        count_tokens=getattr(hooks, "count_tokens", None),
    )
    core = StreamCore(options, observer, None)  # the runner's GenAI span carries the figures
    core.meter.sizes(False)  # SDK chunks are objects: no byte sizes
    core.on_chunk = hooks.on_chunk  # directly: the stream guards it, no frame of ours between
    now = clock.monotonic()
    if started_at is None:
        started_at = now  # the same instant as the first chunk's default: never negative
    monitored: MonitoredStream[Any] | AsyncMonitoredStream[Any]
    if hasattr(stream, "__aiter__"):
        monitored = AsyncMonitoredStream(stream, core, started_at)
        proxy: _Proxy = _AsyncProxy(stream)
    else:
        monitored = MonitoredStream(stream, core, started_at)  # type: ignore[arg-type]
        proxy = _SyncProxy(stream)
    # Holding a sync stream's lock keeps a read-ahead thread from counting a chunk before the
    # first one (an async reader task cannot run before this function returns).
    with getattr(monitored._shared, "cond", None) or contextlib.nullcontext():
        monitored._begin()
        if core.chunk(now if first_at is None else first_at, first_chunk):
            monitored._shared.head = deque((first_chunk,))
    proxy._self_monitored = monitored
    # Straight into the slot: the proxy's setattr would set it on the SDK stream.
    slot = "__anext__" if isinstance(proxy, _AsyncProxy) else "__next__"
    getattr(type(proxy), slot).__set__(proxy, getattr(monitored, slot))
    proxy._self_observer = observer
    return proxy  # type: ignore[return-value]


class _Observer(StreamObserver):
    """Adapts the runner's hooks to the stream core, shielding the stream from their errors."""

    __slots__ = ("_hooks", "error", "reason")

    def __init__(self, hooks: StreamHooks) -> None:
        self._hooks = hooks
        # Why a cancelled stream ended: set by close()/__exit__ before ending; GC leaves it.
        self.reason = OUTCOME_ABANDONED
        self.error: BaseException | None = None

    def state_change(self, previous: StreamState, state: StreamState) -> None:
        try:
            self._hooks.on_state_change(previous.value, state.value)
        except Exception:
            _log.warning("otel-resilience: on_state_change hook raised", exc_info=True)

    def convert(self, error: BaseException) -> BaseException:
        return self._hooks.convert_error(error)

    def on_end(self, state: StreamState, error: BaseException | None, m: StreamMetrics) -> None:
        if state is StreamState.COMPLETED:
            outcome = OUTCOME_COMPLETED
        elif state is StreamState.FAILED:
            outcome = OUTCOME_FAILED
        elif self.reason is OUTCOME_ABANDONED and error is not None:
            outcome = OUTCOME_CONSUMER_ERROR  # the reading task was cancelled
        else:
            outcome, error = self.reason, self.error
        self._hooks.on_end(outcome, error, m)

    def ending(self, reason: str, error: BaseException | None = None) -> None:
        """Say why the coming cancellation happens (first reason wins)."""
        if self.reason is OUTCOME_ABANDONED:
            self.reason = reason
            self.error = error


class _Proxy(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """Shared part of the sync and async proxies: figures and controls."""

    _self_monitored: Any
    _self_observer: _Observer

    @property
    def metrics(self) -> StreamMetrics:
        """The stream's figures now (a frozen snapshot)."""
        return self._self_monitored.metrics  # type: ignore[no-any-return]

    @property
    def state(self) -> StreamState:
        """idle, streaming, paused, completed, cancelled or failed."""
        return self._self_monitored.state  # type: ignore[no-any-return]

    def pause(self) -> None:
        """The caller's next read waits; nothing is read from the connection until resume()."""
        self._self_monitored.pause()

    def resume(self) -> None:
        """Let a paused stream go on."""
        self._self_monitored.resume()

    @property
    def response(self) -> Any:
        """The SDK's HTTP response; closing it ends the stream (openai's managers close that)."""
        return _Response(self.__wrapped__.response, self._end)

    def _end(self, reason: str = OUTCOME_CLOSED, error: BaseException | None = None) -> None:
        self._self_observer.ending(reason, error)
        self._self_monitored._shared.end(StreamState.CANCELLED, error)


class _Response(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """The HTTP response, whose close()/aclose() also end the stream (outcome closed)."""

    def __init__(self, response: Any, end: Any) -> None:
        super().__init__(response)
        self._self_end = end

    def close(self) -> None:
        self._self_end()
        self.__wrapped__.close()

    async def aclose(self) -> None:
        self._self_end()
        await self.__wrapped__.aclose()


class _SyncProxy(_Proxy):
    """In place of openai/anthropic ``Stream``."""

    # A slot holding the monitored stream's own ``__next__`` (set by wrap_stream): next(proxy)
    # reaches its generator through C code only, with no frame of the proxy's per chunk.
    __slots__ = ("__next__",)
    __next__: Any

    def __iter__(self) -> Iterator[Any]:
        # Each loop gets its own iteration of the monitored stream, one frame per chunk; when
        # the loop drops it (break) it closes the stream as closed.
        return self._self_monitored._items(self.close)  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """No more chunks: the stream ends (outcome closed) and the connection is closed."""
        self.close()

    def close(self) -> None:
        """Close the response, ending the stream (outcome closed) if it had not ended."""
        self._end(OUTCOME_CLOSED)
        self.__wrapped__.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self._end(OUTCOME_CONSUMER_ERROR if exc is not None else OUTCOME_CLOSED, exc)
        self.__wrapped__.close()


class _AsyncProxy(_Proxy):
    """In place of openai/anthropic ``AsyncStream``."""

    __slots__ = ("__anext__",)
    __anext__: Any

    def __aiter__(self) -> AsyncIterator[Any]:
        # Each loop gets its own iteration; the loop's finalizer closing it (break) ends the
        # stream as closed (the connection is freed by ``await close()`` or garbage collection).
        return self._self_monitored._items(self._end)  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """No more chunks: the stream ends (outcome closed); ``await close()`` frees the socket."""
        self._end(OUTCOME_CLOSED)

    async def close(self) -> None:
        """Close the response, ending the stream (outcome closed) if it had not ended."""
        self._end(OUTCOME_CLOSED)
        await self.__wrapped__.close()

    async def aclose(self) -> None:
        """Alias of close()."""
        await self.close()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self._end(OUTCOME_CONSUMER_ERROR if exc is not None else OUTCOME_CLOSED, exc)
        await self.__wrapped__.close()
