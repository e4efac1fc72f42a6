"""Monitor and control any stream: :func:`monitor_stream` (sync and async). See docs/streams.md.

::

    stream = monitor_stream(chunks, name="export", count_tokens=len)
    for chunk in stream:
        ...
    print(stream.metrics.time_to_first_chunk, stream.metrics.tokens_per_second_avg)
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any, TypeVar, overload

from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._telemetry import Telemetry
from otel_resilience.streams._async import AsyncMonitoredStream
from otel_resilience.streams._core import (
    StreamCore,
    StreamObserver,
    StreamOptions,
    StreamState,
)
from otel_resilience.streams._metrics import StreamMetrics
from otel_resilience.streams._sync import MonitoredStream

__all__ = [
    "AsyncMonitoredStream",
    "MonitoredStream",
    "StreamMetrics",
    "StreamOptions",
    "StreamState",
    "monitor_stream",
]

_T = TypeVar("_T")
_GLOBAL = Telemetry()  # streams without explicit providers share one resolution of the globals


@overload
def monitor_stream(
    source: AsyncIterable[_T],
    *,
    name: str,
    buffer: int = ...,
    window: float = ...,
    count_tokens: Callable[[_T], int] | None = ...,
    size: Callable[[_T], int] | None = ...,
    on_state_change: Callable[[StreamState, StreamState], None] | None = ...,
    clock: Clock = ...,
    tracer_provider: Any = ...,
) -> AsyncMonitoredStream[_T]: ...


@overload
def monitor_stream(
    source: Iterable[_T],
    *,
    name: str,
    buffer: int = ...,
    window: float = ...,
    count_tokens: Callable[[_T], int] | None = ...,
    size: Callable[[_T], int] | None = ...,
    on_state_change: Callable[[StreamState, StreamState], None] | None = ...,
    clock: Clock = ...,
    tracer_provider: Any = ...,
) -> MonitoredStream[_T]: ...


def monitor_stream(
    source: Iterable[Any] | AsyncIterable[Any],
    *,
    name: str,
    buffer: int = 0,
    window: float = 1.0,
    count_tokens: Callable[[Any], int] | None = None,
    size: Callable[[Any], int] | None = None,
    on_state_change: Callable[[StreamState, StreamState], None] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    tracer_provider: Any = None,
) -> MonitoredStream[Any] | AsyncMonitoredStream[Any]:
    """Wrap an iterable or async iterable: same items, plus ``metrics``, ``state`` and controls.

    ``name`` labels the stream's span (``stream {name}``, only when a tracer provider records).
    ``buffer=N`` reads up to N chunks ahead (a thread, or a task for async sources) and stops
    reading while the buffer is full. ``count_tokens(chunk)`` enables the token figures;
    ``size(chunk)`` counts bytes (default: ``len()`` of bytes and str). ``window`` is the
    rolling window in seconds of the current tokens-per-second rate. Invalid options raise
    ValueError naming the field. Nothing is read before the first ``next()``.
    """
    options = StreamOptions(
        name=name,
        buffer=buffer,
        window=window,
        count_tokens=count_tokens,
        size=size,
        on_state_change=on_state_change,
        clock=clock,
        tracer_provider=tracer_provider,
    )
    return _monitor(source, options, None)


def _monitor(
    source: Iterable[Any] | AsyncIterable[Any],
    options: StreamOptions,
    observer: StreamObserver | None,
    started_at: float | None = None,
) -> MonitoredStream[Any] | AsyncMonitoredStream[Any]:
    """Build the monitored stream (also used by wrappers that bring an observer)."""
    tp = options.tracer_provider
    telemetry = _GLOBAL if tp is None else Telemetry(tracer_provider=tp)
    core = StreamCore(options, observer, telemetry)
    if isinstance(source, AsyncIterable):
        return AsyncMonitoredStream(source, core, started_at)
    if isinstance(source, Iterable):
        return MonitoredStream(source, core, started_at)
    raise ValueError(f"source must be an iterable or an async iterable, got {source!r}")
