"""Controls and monitoring of managed LLM streams (issue 10) through the real SDKs, sync and
async: state transitions as span events on the GenAI span and the user's callback, read-ahead
(``stream_buffer``), and time to first chunk per attempt and from the logical start."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from llm_server import server_error
from llm_support import STREAM_REQUESTS, stream_create

from otel_resilience import semconv
from otel_resilience.testing import FakeClock

#: Warnings are errors, and so are "Failed to detach context" / "Task was destroyed" logs.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.usefixtures("no_leak_logs")]


def _read_pausing(llm_sdk: Any, provider: str, between: Any = None) -> Any:
    """Take the first chunk, pause, call ``between(stream)``, resume, read the rest: all items."""

    def sync(client: Any) -> list[Any]:
        stream = stream_create(provider)(client)
        items = [next(stream)]
        stream.pause()
        if between is not None:
            between(stream)
        stream.resume()
        return items + list(stream)

    async def go(client: Any) -> list[Any]:
        stream = await stream_create(provider)(client)
        items = [await stream.__anext__()]
        stream.pause()
        if between is not None:
            between(stream)
        stream.resume()
        return items + [item async for item in stream]

    return llm_sdk.run(provider, go if llm_sdk.is_async else sync)


@pytest.mark.parametrize("provider", list(STREAM_REQUESTS))
def test_state_changes_are_span_events_and_callbacks(
    llm_sdk, llm_server, instrument, otel_capture, provider
):
    """A stream paused and resumed once: the GenAI span has one state_change event per
    transition (idle, streaming, paused, streaming, completed) and the user's callback got
    the same (previous, state) pairs."""
    seen: list[tuple[str, str]] = []
    instrument(provider, on_stream_state_change=lambda p, s: seen.append((p, s)))
    assert _read_pausing(llm_sdk, provider)
    expected = [
        ("idle", "streaming"),
        ("streaming", "paused"),
        ("paused", "streaming"),
        ("streaming", "completed"),
    ]
    assert seen == expected
    (span,) = otel_capture.spans(f"chat {STREAM_REQUESTS[provider]['model']}")
    events = [
        (e.attributes[semconv.STREAM_PREVIOUS_STATE], e.attributes[semconv.STREAM_STATE])
        for e in span.events
        if e.name == semconv.SPAN_EVENT_STREAM_STATE_CHANGE
    ]
    assert events == expected


def test_a_raising_state_callback_never_breaks_the_stream(llm_sdk, llm_server, instrument, caplog):
    """A callback that raises is logged; the caller still gets every chunk."""

    def hostile(previous: str, state: str) -> None:
        raise RuntimeError("boom")

    instrument("openai", on_stream_state_change=hostile)
    chunks = llm_sdk.run("openai", stream_create("openai"), consume=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello from gpt-4o."
    assert "on_state_change hook raised" in caplog.text


def _settle(condition: Any) -> None:
    """Let the read-ahead reader (thread or task) run until ``condition`` holds (bounded)."""
    wait = threading.Event()
    for _ in range(50_000):
        if condition():
            return
        wait.wait(0.0001)
    raise AssertionError("condition never held")


async def _asettle(condition: Any) -> None:
    for _ in range(50_000):
        if condition():
            return
        await asyncio.sleep(0.0001)
    raise AssertionError("condition never held")


@pytest.mark.parametrize("provider", list(STREAM_REQUESTS))
def test_stream_buffer_reads_ahead_of_the_caller(llm_sdk, llm_server, instrument, provider):
    """stream_buffer=2: once the caller took one chunk, two more are read without the caller
    asking (no more: backpressure), and every chunk still arrives in order."""
    instrument(provider, stream_buffer=2)
    plain = llm_sdk.run(provider, stream_create(provider), consume=True)

    def sync(client: Any) -> list[Any]:
        stream = stream_create(provider)(client)
        items = [next(stream)]
        _settle(lambda: stream.metrics.chunks >= 3)
        ahead = stream.metrics.chunks
        return [ahead, *items, *stream]

    async def go(client: Any) -> list[Any]:
        stream = await stream_create(provider)(client)
        items = [await stream.__anext__()]
        await _asettle(lambda: stream.metrics.chunks >= 3)
        ahead = stream.metrics.chunks
        return [ahead, *items, *[item async for item in stream]]

    ahead, *items = llm_sdk.run(provider, go if llm_sdk.is_async else sync)
    assert ahead == 3  # one taken + two buffered, no more
    assert [i.model_dump() for i in items] == [i.model_dump() for i in plain]


@pytest.mark.parametrize("provider", list(STREAM_REQUESTS))
def test_time_to_first_chunk_per_attempt_and_logical(
    llm_sdk, llm_server, instrument, otel_capture, provider, fake_clock: FakeClock
):
    """A 503 then a stream, the FakeClock moved 2 s before each send: the serving attempt's
    span says 2 s to its first chunk, the logical span 2 + 0.5 (backoff) + 2 = 4.5 s, and so
    does the time_to_first_chunk metric."""
    import httpx2

    instrument(provider, jitter=False, base_delay=0.5)
    llm_server.script(server_error(503))
    original = httpx2.HTTPTransport.handle_request
    aoriginal = httpx2.AsyncHTTPTransport.handle_async_request

    def slow(self: Any, request: Any) -> Any:
        fake_clock.advance(2.0)
        return original(self, request)

    async def aslow(self: Any, request: Any) -> Any:
        fake_clock.advance(2.0)
        return await aoriginal(self, request)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(httpx2.HTTPTransport, "handle_request", slow)
        mp.setattr(httpx2.AsyncHTTPTransport, "handle_async_request", aslow)
        assert llm_sdk.run(provider, stream_create(provider), consume=True)
    (span,) = otel_capture.spans(f"chat {STREAM_REQUESTS[provider]['model']}")
    assert span.attributes[semconv.LLM_TIME_TO_FIRST_CHUNK] == pytest.approx(4.5)
    failed, served = sorted(otel_capture.spans("POST"), key=lambda s: s.start_time)
    assert semconv.LLM_TIME_TO_FIRST_CHUNK not in failed.attributes
    assert served.attributes[semconv.LLM_TIME_TO_FIRST_CHUNK] == pytest.approx(2.0)
    (ttfc,) = otel_capture.metric_points(semconv.METRIC_GEN_AI_TIME_TO_FIRST_CHUNK)
    assert ttfc.sum == pytest.approx(4.5)
