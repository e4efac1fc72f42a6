"""The I/O-free decision core shared by the sync and async monitored streams.

It owns the state machine, the meter and the telemetry; the runners own waiting and reading.
Every method takes ``now`` from the runner's clock; none blocks, sleeps or touches the source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from otel_resilience import semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._telemetry import Telemetry
from otel_resilience._validate import check_callable, check_clock, check_count, check_seconds
from otel_resilience.streams._metrics import Meter, StreamMetrics

__all__ = ["StreamCore", "StreamObserver", "StreamOptions", "StreamState"]

_log = logging.getLogger(__name__)


class StreamState(str, Enum):
    """Where a monitored stream is; the last three are final."""

    IDLE = semconv.STREAM_STATE_IDLE
    STREAMING = semconv.STREAM_STATE_STREAMING
    PAUSED = semconv.STREAM_STATE_PAUSED
    COMPLETED = semconv.STREAM_STATE_COMPLETED
    CANCELLED = semconv.STREAM_STATE_CANCELLED
    FAILED = semconv.STREAM_STATE_FAILED

    def __str__(self) -> str:
        return self.value


_FINAL = frozenset({StreamState.COMPLETED, StreamState.CANCELLED, StreamState.FAILED})


@dataclass(frozen=True, kw_only=True, slots=True)
class StreamOptions:
    """How a stream is monitored (validated at construction, ValueError naming the field)."""

    name: str
    #: Read up to this many chunks ahead of the consumer (0: read on demand). The reader stops
    #: while the buffer is full: backpressure.
    buffer: int = 0
    #: Seconds of the rolling window for the current tokens-per-second rate.
    window: float = 1.0
    #: Tokens in a chunk (e.g. a tokenizer's count); without it no token figures are kept.
    count_tokens: Callable[[Any], int] | None = None
    #: Bytes in a chunk; default (None): ``len()`` of bytes, bytearray and str chunks, else 0.
    size: Callable[[Any], int] | None = None
    #: Called with (previous, new) on every state transition, on the thread or task causing it.
    on_state_change: Callable[[StreamState, StreamState], None] | None = None
    clock: Clock = SYSTEM_CLOCK
    tracer_provider: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        check_count("buffer", self.buffer, minimum=0)
        check_seconds("window", self.window, positive=True)
        check_callable("count_tokens", self.count_tokens)
        check_callable("on_state_change", self.on_state_change)
        check_callable("size", self.size)
        if self.clock is None:
            raise ValueError("clock must be a Clock, got None")
        check_clock("clock", self.clock)


class StreamObserver:
    """Extension points for wrappers (the LLM stream proxy); the defaults do nothing."""

    __slots__ = ()

    def on_chunk(self, chunk: Any) -> bool:
        """See one chunk; False hides it from the consumer."""
        return True

    def convert(self, error: BaseException) -> BaseException:
        """The exception the consumer receives for a source ``error``."""
        return error

    def on_end(self, state: StreamState, error: BaseException | None, m: StreamMetrics) -> None:
        """The stream reached final ``state`` (called once)."""


class StreamCore:
    """State machine, figures and telemetry of one stream."""

    __slots__ = (
        "_observer",
        "_resume_to",
        "_span",
        "_telemetry",
        "meter",
        "now",
        "on_chunk",
        "options",
        "state",
    )

    def __init__(
        self, options: StreamOptions, observer: StreamObserver | None, telemetry: Telemetry | None
    ) -> None:
        self.options = options
        self.state = StreamState.IDLE
        size = options.size
        self.meter = Meter(options.window, options.count_tokens, True if size is None else size)
        self.now = options.clock.monotonic
        # The runners call these two per chunk themselves (no extra frame through this core).
        self.on_chunk: Callable[[Any], bool] | None = (
            observer.on_chunk if observer is not None else None
        )
        self._observer = observer
        self._telemetry = telemetry
        self._span: Any = None
        self._resume_to = StreamState.IDLE

    @property
    def final(self) -> bool:
        """Whether the stream ended (completed, cancelled or failed)."""
        return self.state in _FINAL

    def _move(self, state: StreamState) -> None:
        previous, self.state = self.state, state
        span = self._span
        if span is not None:
            try:
                span.add_event(
                    semconv.SPAN_EVENT_STREAM_STATE_CHANGE,
                    {
                        semconv.STREAM_STATE: state.value,
                        semconv.STREAM_PREVIOUS_STATE: previous.value,
                    },
                )
            except Exception:  # telemetry never breaks the stream
                _log.debug("otel-resilience: stream event failed", exc_info=True)
        callback = self.options.on_state_change
        if callback is not None:
            try:
                callback(previous, state)
            except Exception:  # the user's callback must not break the stream either
                _log.warning("otel-resilience: on_state_change raised", exc_info=True)

    def begin(self, now: float, started_at: float | None = None) -> None:
        """The first read: idle becomes streaming; the span (if anything records) starts."""
        if self.state is not StreamState.IDLE:
            return
        self.meter.start(now if started_at is None else started_at)
        telemetry = self._telemetry
        if telemetry is not None:
            tracer = telemetry.instruments().tracer
            if tracer is not None:
                try:
                    name = self.options.name
                    self._span = tracer.start_span(
                        f"{semconv.SPAN_STREAM} {name}", attributes={semconv.STREAM_NAME: name}
                    )
                except Exception:
                    _log.debug("otel-resilience: stream span failed", exc_info=True)
        self._move(StreamState.STREAMING)

    def chunk(self, now: float, item: Any) -> bool:
        """One chunk read at ``now``; whether the consumer sees it (a raising hook: yes).

        The hook decides first: a hidden chunk is not counted as one (only its tokens are)."""
        on_chunk = self.on_chunk
        if on_chunk is not None:
            try:
                visible = on_chunk(item) is not False
            except Exception:
                _log.warning("otel-resilience: a stream's on_chunk raised", exc_info=True)
                visible = True
            if not visible:
                self.meter.count(now, item)
                return False
        self.meter.chunk(now, item)
        return True

    def convert(self, error: BaseException) -> BaseException:
        """What a source error becomes for the consumer (the observer decides; never raises)."""
        observer = self._observer
        if observer is None:
            return error
        try:
            return observer.convert(error)
        except Exception:
            _log.warning("otel-resilience: converting a stream error raised", exc_info=True)
            return error

    def pause(self, now: float) -> bool:
        """Pause (from idle or streaming); whether the state changed."""
        if self.state is StreamState.IDLE or self.state is StreamState.STREAMING:
            self._resume_to = self.state
            self.meter.pause(now)
            self._move(StreamState.PAUSED)
            return True
        return False

    def resume(self, now: float) -> bool:
        """Resume a paused stream; whether the state changed."""
        if self.state is StreamState.PAUSED:
            self.meter.resume(now)
            self._move(self._resume_to)
            return True
        return False

    def finish(self, state: StreamState, now: float, error: BaseException | None = None) -> bool:
        """Reach final ``state`` unless already final; True the one time it happens."""
        if self.state in _FINAL:
            return False
        self.meter.resume(now)
        self._move(state)
        metrics = self.meter.snapshot(now)
        span, self._span = self._span, None
        if span is not None:
            self._end_span(span, state, error, metrics)
        observer = self._observer
        if observer is not None:
            try:
                observer.on_end(state, error, metrics)
            except Exception:
                _log.warning("otel-resilience: stream on_end raised", exc_info=True)
        return True

    def _end_span(
        self, span: Any, state: StreamState, error: BaseException | None, m: StreamMetrics
    ) -> None:
        try:
            attrs: dict[str, Any] = {
                semconv.STREAM_STATE: state.value,
                semconv.STREAM_CHUNKS: m.chunks,
                semconv.STREAM_BYTES: m.bytes,
                semconv.STREAM_PAUSED: m.paused,
            }
            for key, value in (
                (semconv.STREAM_TOKENS, m.tokens),
                (semconv.STREAM_TIME_TO_FIRST_CHUNK, m.time_to_first_chunk),
                (semconv.STREAM_MAX_GAP, m.max_gap),
                (semconv.STREAM_TOKENS_PER_SECOND_AVG, m.tokens_per_second_avg),
                (semconv.STREAM_TOKENS_PER_SECOND_PEAK, m.tokens_per_second_peak),
            ):
                if value is not None:
                    attrs[key] = value
            if error is not None:
                from opentelemetry.trace import Status, StatusCode

                attrs[semconv.ERROR_TYPE] = type(error).__qualname__
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
            span.set_attributes(attrs)
            span.end()
        except Exception:
            _log.debug("otel-resilience: ending the stream span failed", exc_info=True)

    def snapshot(self, now: float) -> StreamMetrics:
        """The figures at ``now``."""
        return self.meter.snapshot(now)
