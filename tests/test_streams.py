"""monitor_stream: figures on a FakeClock, controls, states and telemetry, sync and async."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

import otel_resilience
from otel_resilience import StreamMetrics, StreamState, monitor_stream, semconv
from otel_resilience.testing import FakeClock
from tests.streams_support import Driver, Source, waiting

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(params=["sync", "async"])
def io(request: pytest.FixtureRequest) -> Iterator[Driver]:
    """A driver for sync streams, then (second parametrization) async ones."""
    driver = Driver(request.param)
    yield driver
    driver.shutdown()


def test_metrics_on_a_fake_clock(io: Driver, fake_clock: FakeClock) -> None:
    """Time to first chunk, gaps, bytes, tokens and rates follow the clock, pauses excluded."""
    source = Source(["ab", "cde", "f", "ghij"], io.mode, fake_clock, steps=[2.0, 1.0, 3.0, 0.5])
    stream = monitor_stream(source, name="s", clock=fake_clock, count_tokens=len, window=10.0)
    assert stream.metrics == StreamMetrics(tokens=0)
    assert io.next(stream) == "ab"
    assert io.next(stream) == "cde"
    stream.pause()
    fake_clock.advance(100.0)  # paused: none of this counts
    stream.resume()
    assert io.drain(stream) == ["f", "ghij"]
    m = stream.metrics
    assert m.chunks == 4
    assert m.bytes == 10
    assert m.tokens == 10
    assert m.time_to_first_chunk == 2.0
    assert m.last_gap == 0.5
    assert m.max_gap == 3.0
    assert m.mean_gap == pytest.approx(4.5 / 3)
    assert m.paused == 100.0
    assert m.elapsed == pytest.approx(6.5)
    # 8 tokens after the first chunk, over the 4.5 s from the first to the last chunk.
    assert m.tokens_per_second_avg == pytest.approx(8 / 4.5)
    # Current rates seen at each chunk: 3/1, 4/4, 8/4.5.
    assert m.tokens_per_second_peak == pytest.approx(3.0)
    assert m.tokens_per_second_min == pytest.approx(1.0)
    assert stream.state is StreamState.COMPLETED


def test_rolling_window_forgets_old_chunks(io: Driver, fake_clock: FakeClock) -> None:
    """The current rate only counts the chunks inside the window."""
    source = Source(["aaaa"] * 3 + ["a"], io.mode, fake_clock, steps=[1.0, 1.0, 1.0, 5.0])
    stream = monitor_stream(source, name="s", clock=fake_clock, count_tokens=len, window=2.0)
    io.drain(stream)
    # Window at t=8 keeps the chunk at t=3 as its base: 1 token over 5 s.
    assert stream.metrics.tokens_per_second == pytest.approx(1 / 5)
    assert stream.metrics.tokens_per_second_peak == pytest.approx(4.0)


def test_rolling_rate_extremes_match_the_window_definition(
    io: Driver, fake_clock: FakeClock
) -> None:
    """Current, peak and lowest rates are exact: at each chunk, tokens since the window's base
    (the newest earlier chunk at least ``window`` seconds old, else the oldest) over the time
    since it."""
    items = ["a" * k for k in (3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5)]
    steps = [0.5, 0.25, 1.5, 0.25, 0.75, 3.0, 0.5, 0.5, 0.25, 2.5, 0.5]
    source = Source(items, io.mode, fake_clock, steps=steps)
    stream = monitor_stream(source, name="s", clock=fake_clock, count_tokens=len, window=1.0)
    io.drain(stream)
    times, counts, rates = [], [], []
    for step, item in zip(steps, items, strict=True):
        times.append((times[-1] if times else 0.0) + step)
        counts.append((counts[-1] if counts else 0) + len(item))
        at = times[-1]
        base = max([i for i in range(len(times) - 1) if times[i] <= at - 1.0], default=0)
        if at > times[base]:
            rates.append((counts[-1] - counts[base]) / (at - times[base]))
    m = stream.metrics
    assert m.tokens_per_second == pytest.approx(rates[-1])
    assert m.tokens_per_second_peak == pytest.approx(max(rates))
    assert m.tokens_per_second_min == pytest.approx(min(rates))


def test_pause_does_not_read_the_source(io: Driver) -> None:
    """A paused consumer waits; the source is not read until resume()."""
    source = Source([1, 2, 3], io.mode)
    stream = monitor_stream(source, name="s")
    assert io.next(stream) == 1
    stream.pause()
    assert stream.state is StreamState.PAUSED
    handle = io.start_next(stream)
    io.settle(lambda: io.loop is not None or waiting(stream) == 1)
    assert io.blocked(handle)
    assert source.reads == 1
    stream.resume()
    assert io.finish(handle) == 2
    assert source.reads == 2


def test_cancel_while_paused_releases_the_consumer(io: Driver) -> None:
    """cancel() ends a paused wait with the end of the stream and closes the source."""
    source = Source([1, 2, 3], io.mode)
    stream = monitor_stream(source, name="s")
    assert io.next(stream) == 1
    stream.pause()
    handle = io.start_next(stream)
    io.settle(lambda: io.loop is not None or waiting(stream) == 1)
    stream.cancel()
    assert io.finish(handle) is StopIteration
    assert source.reads == 1
    assert source.closed == 1
    assert stream.state is StreamState.CANCELLED


def test_cancel_gives_no_more_items_and_closes_the_source(io: Driver) -> None:
    """After cancel(), reads end the stream and the source is closed (async: at the next step)."""
    source = Source([1, 2, 3], io.mode)
    stream = monitor_stream(source, name="s")
    assert io.next(stream) == 1
    stream.cancel()
    assert io.next(stream) is StopIteration
    assert source.closed == 1
    assert source.reads == 1


def test_states_and_span_events(io: Driver, otel_capture: Any) -> None:
    """Every transition reaches on_state_change and the stream's span, which ends with figures."""
    seen: list[tuple[str, str]] = []
    stream = monitor_stream(
        Source(["x", "yz"], io.mode),
        name="feed",
        on_state_change=lambda a, b: seen.append((a.value, b.value)),
        tracer_provider=otel_capture.tracer_provider,
    )
    assert stream.state is StreamState.IDLE
    io.next(stream)
    stream.pause()
    stream.resume()
    io.drain(stream)
    assert seen == [
        ("idle", "streaming"),
        ("streaming", "paused"),
        ("paused", "streaming"),
        ("streaming", "completed"),
    ]
    span = otel_capture.span("stream feed")
    events = [
        (e.attributes[semconv.STREAM_PREVIOUS_STATE], e.attributes[semconv.STREAM_STATE])
        for e in span.events
        if e.name == semconv.SPAN_EVENT_STREAM_STATE_CHANGE
    ]
    assert events == seen
    assert span.attributes[semconv.STREAM_STATE] == "completed"
    assert span.attributes[semconv.STREAM_CHUNKS] == 2
    assert span.attributes[semconv.STREAM_BYTES] == 3


def test_source_error_fails_the_stream_and_keeps_the_figures(io: Driver, otel_capture: Any) -> None:
    """A source error reaches the consumer unchanged; the stream fails with its partial figures."""
    stream = monitor_stream(
        Source(["a", "b", "c"], io.mode, error_at=2),
        name="s",
        tracer_provider=otel_capture.tracer_provider,
    )
    assert io.next(stream) == "a"
    assert io.next(stream) == "b"
    with pytest.raises(ConnectionResetError):
        io.next(stream)
    assert stream.state is StreamState.FAILED
    assert stream.metrics.chunks == 2
    span = otel_capture.span("stream s")
    assert span.attributes[semconv.ERROR_TYPE] == "ConnectionResetError"
    assert io.next(stream) is StopIteration


def test_raising_count_tokens_fails_the_stream_once(io: Driver) -> None:
    """A raising count_tokens reaches the consumer and ends the stream failed, never stuck
    streaming with no more items; the chunks before it keep their figures."""

    def count(chunk: str) -> int:
        if chunk == "b":
            raise LookupError("no tokenizer for b")
        return 1

    ends: list[StreamState] = []
    stream = monitor_stream(
        Source(["a", "b", "c"], io.mode),
        name="s",
        count_tokens=count,
        on_state_change=lambda _, state: ends.append(state),
    )
    assert io.next(stream) == "a"
    with pytest.raises(LookupError):
        io.next(stream)
    assert stream.state is StreamState.FAILED
    assert ends.count(StreamState.FAILED) == 1
    assert stream.metrics.tokens == 1
    assert io.next(stream) is StopIteration


def test_read_ahead_stops_at_the_buffer_size(io: Driver) -> None:
    """With buffer=3 the reader stays three chunks ahead and stops there (backpressure)."""
    source = Source(list(range(10)), io.mode)
    stream = monitor_stream(source, name="s", buffer=3)
    assert io.next(stream) == 0
    io.settle(lambda: source.reads == 4 and (io.loop is not None or waiting(stream) == 1))
    assert source.reads == 4  # the one taken plus three buffered, no more
    assert io.next(stream) == 1
    io.settle(lambda: source.reads == 5)
    assert source.reads == 5
    assert io.drain(stream) == list(range(2, 10))
    assert stream.state is StreamState.COMPLETED


def test_read_ahead_pauses_the_reader(io: Driver) -> None:
    """Paused, the read-ahead reader stops too: the source is not read."""
    source = Source(list(range(10)), io.mode)
    stream = monitor_stream(source, name="s", buffer=5)
    stream.pause()
    handle = io.start_next(stream)
    io.settle(lambda: io.loop is not None or waiting(stream) >= 1)
    assert source.reads == 0
    stream.resume()
    assert io.finish(handle) == 0
    stream.cancel()
    io.settle(lambda: source.closed == 1)
    assert source.reads <= 6


def test_abandoned_stream_ends_cancelled_once(io: Driver) -> None:
    """A stream dropped mid-way is collected and ends as cancelled, exactly once."""
    seen: list[str] = []
    stream = monitor_stream(
        Source([1, 2], io.mode), name="s", on_state_change=lambda a, b: seen.append(b.value)
    )
    io.next(stream)
    del stream
    gc.collect()
    assert seen == ["streaming", "cancelled"]


def test_context_manager_cancels(io: Driver) -> None:
    """Leaving the ``with`` block early cancels the stream and closes the source."""
    source = Source([1, 2, 3], io.mode)
    stream = monitor_stream(source, name="s")
    io.next(stream)
    io.close(stream)
    assert stream.state is StreamState.CANCELLED
    assert source.closed == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("buffer", -1), ("window", 0), ("count_tokens", 3), ("size", 3)],
)
def test_invalid_options_name_the_field(field: str, value: Any) -> None:
    """Invalid configuration fails at once with a ValueError naming the field."""
    kwargs: dict[str, Any] = {"name": "s", field: value}
    with pytest.raises(ValueError, match=field):
        monitor_stream([1], **kwargs)


def test_not_a_stream_is_refused() -> None:
    """A source that is neither iterable nor async iterable is a ValueError naming source."""
    with pytest.raises(ValueError, match="source"):
        monitor_stream(3, name="s")  # type: ignore[call-overload]


def test_public_names() -> None:
    """monitor_stream, StreamMetrics and StreamState are exported from otel_resilience."""
    assert otel_resilience.monitor_stream is monitor_stream
    assert otel_resilience.StreamState.PAUSED.value == "paused"
