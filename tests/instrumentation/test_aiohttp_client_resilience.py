"""Retry-After, connection failures, aiohttp's own re-send, breakers, deadlines and bodies,
through a real aiohttp ClientSession against a local server."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import aiohttp
import pytest
from aiohttp_support import CLIENT_TIMEOUT, run, status
from httpx_support import client_spans
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from otel_resilience_instrumentation.policy import HttpPolicy
from servers import Reply, closed_port

from otel_resilience import CircuitOpenError, Pipeline, Timeout, semconv


def test_retry_after_seconds_is_waited(instrument, server, fake_clock):
    """429 with Retry-After: 7 waits 7 s (on the FakeClock) before the second attempt."""
    instrument("aiohttp")
    server.script(Reply(429, headers={"Retry-After": "7"}))
    assert status("GET", server.url) == 200
    assert server.count == 2
    assert fake_clock.monotonic() == pytest.approx(7.0)


def test_retry_after_http_date_is_waited(instrument, server, fake_clock):
    """429 with an HTTP-date Retry-After a few seconds ahead waits until about then."""
    instrument("aiohttp")
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    server.script(Reply(429, headers={"Retry-After": when}))
    assert status("GET", server.url) == 200
    assert server.count == 2
    assert 3.0 <= fake_clock.monotonic() <= 5.0


def test_retry_after_beyond_max_delay_returns_the_response_at_once(instrument, server, fake_clock):
    """A Retry-After longer than max_delay (30 s) hands the 429 back without waiting."""
    instrument("aiohttp")
    server.script(Reply(429, headers={"Retry-After": "120"}))
    assert status("GET", server.url) == 429
    assert server.count == 1
    assert fake_clock.monotonic() == 0.0


def test_connection_refused_is_retried_then_raised(instrument, otel_capture):
    """Nothing listening: three attempts, each a CLIENT span with error.type, then aiohttp's
    own ClientConnectorError."""
    instrument("aiohttp")
    with pytest.raises(aiohttp.ClientConnectorError):
        status("GET", f"http://127.0.0.1:{closed_port()}/")
    spans = client_spans(otel_capture)
    assert len(spans) == 3
    assert all(s.attributes[semconv.ERROR_TYPE].endswith("ClientConnectorError") for s in spans)
    points = otel_capture.metric_points(semconv.METRIC_HTTP_CLIENT_REQUEST_DURATION)
    assert sum(p.count for p in points) == 3


def test_dropped_connection_is_one_attempt_per_send(instrument, server, otel_capture):
    """The server hangs up once: two sends, two attempt spans (the first in error), each with
    its own traceparent; aiohttp's own immediate re-send does not add a third."""
    instrument("aiohttp")
    server.script(Reply(drop=True))
    assert status("GET", server.url) == 200
    assert server.count == 2
    first, second = client_spans(otel_capture)
    assert first.attributes[semconv.ERROR_TYPE].endswith("ServerDisconnectedError")
    assert second.attributes[semconv.HTTP_REQUEST_RESEND_COUNT] == 1
    sent = {r.headers["traceparent"] for r in server.received}
    assert len(sent) == 2


def test_attempts_do_not_multiply_with_aiohttps_own_resend(instrument, server):
    """A server that always hangs up: plain aiohttp sends a GET twice (its own re-send);
    instrumented, the server sees exactly max_attempts (3) sends, not 3 x 2."""
    server.default = Reply(drop=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        status("GET", server.url)
    assert server.count == 2  # aiohttp's behaviour we account for
    instrument("aiohttp")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        status("GET", server.url)
    assert server.count == 2 + 3


def test_breaker_opens_and_rejects_without_touching_the_network(
    instrument, server, fake_clock, otel_capture
):
    """Two 503s (minimum_calls=2) open the host's breaker: the next request raises
    CircuitOpenError and never reaches the server; after the break a probe goes through."""
    instrument("aiohttp", policies={"*": HttpPolicy(max_attempts=1, minimum_calls=2)})
    server.default = Reply(503)
    assert status("GET", server.url) == 503
    assert status("GET", server.url) == 503
    with pytest.raises(CircuitOpenError):
        status("GET", server.url)
    assert server.count == 2
    assert len(client_spans(otel_capture)) == 2
    fake_clock.advance(15.0)
    server.default = Reply(200)
    assert status("GET", server.url) == 200
    assert server.count == 3


def test_breaker_opens_for_a_dead_host(instrument, otel_capture):
    """Refused connections count against the host's breaker: once open, no attempt is made."""
    instrument("aiohttp", policies={"*": HttpPolicy(minimum_calls=3)})
    url = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(aiohttp.ClientConnectorError):
        status("GET", url)
    with pytest.raises(CircuitOpenError):
        status("GET", url)
    assert len(client_spans(otel_capture)) == 3


class _SpyConnector(aiohttp.TCPConnector):
    """Records the ClientTimeout each connection is opened with."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timeouts: list[aiohttp.ClientTimeout] = []

    async def connect(self, req: Any, traces: Any, timeout: aiohttp.ClientTimeout) -> Any:
        self.timeouts.append(timeout)
        return await super().connect(req, traces, timeout)


def _timeouts_seen(url: str, outer: Pipeline | None) -> list[aiohttp.ClientTimeout]:
    async def get() -> int:
        session_timeout = aiohttp.ClientTimeout(total=5.0, sock_read=4.0, connect=None)
        async with (
            aiohttp.ClientSession(timeout=session_timeout, connector=spy) as session,
            session.get(url) as response,
        ):
            return response.status

    async def go() -> int:
        return await (get() if outer is None else outer.acall(get))

    spy = None

    async def main() -> list[aiohttp.ClientTimeout]:
        nonlocal spy
        spy = _SpyConnector(force_close=True)
        assert await go() == 200
        return spy.timeouts

    return run(main)


def test_deadline_caps_the_request_timeout(instrument, server, fake_clock):
    """Inside Timeout(seconds=2) the ClientTimeout aiohttp connects with has its total and
    every set phase at most 2 s; without a deadline the session's goes out unchanged."""
    instrument("aiohttp")
    (plain,) = _timeouts_seen(server.url, None)
    assert plain == aiohttp.ClientTimeout(total=5.0, sock_read=4.0)
    outer = Pipeline("outer", Timeout(seconds=2.0), clock=fake_clock)
    (capped,) = _timeouts_seen(server.url, outer)
    assert capped == aiohttp.ClientTimeout(total=2.0, sock_read=2.0)


def _async_generator_body() -> Any:
    async def chunks() -> Any:
        yield b"a"
        yield b"b"

    return chunks()


def test_non_replayable_bodies_are_not_retried(instrument, server, tmp_path):
    """A PUT whose body is an async generator or an open file gets its 503 back (the body
    cannot be sent twice); the same PUT with bytes is retried."""
    instrument("aiohttp")
    server.script(503)
    assert status("PUT", server.url, data=_async_generator_body()) == 503
    path = tmp_path / "body.txt"
    path.write_bytes(b"file")
    server.script(503)
    with path.open("rb") as body:
        assert status("PUT", server.url, data=body) == 503
    assert [r.body for r in server.received] == [b"ab", b"file"]
    server.script(503)
    assert status("PUT", server.url, data=b"mem") == 200
    assert server.count == 4


@pytest.mark.parametrize(
    ("data", "sent"),
    [
        (aiohttp.payload.BytesPayload(b"bp"), b"bp"),
        (aiohttp.payload.StringPayload("sp"), b"sp"),
        ({"a": "1"}, b"a=1"),
        ([("a", "1"), ("b", 2)], b"a=1&b=2"),
    ],
    ids=["BytesPayload", "StringPayload", "dict-form", "pairs-form"],
)
def test_in_memory_bodies_are_re_sent_identically(instrument, server, data, sent):
    """In-memory payloads and simple forms are replayable: a 503 is retried with the same body."""
    instrument("aiohttp")
    server.script(503)
    assert status("PUT", server.url, data=data) == 200
    assert [r.body for r in server.received] == [sent, sent]


def test_hooks_inside_an_attempt_see_http_instrumentation_suppressed(instrument, server):
    """A TraceConfig hook (where contrib's aiohttp instrumentor records) runs once per attempt
    with HTTP instrumentation suppressed, so contrib adds no CLIENT span; outside, it is on."""
    instrument("aiohttp")
    seen: list[bool] = []

    async def on_start(*_: Any) -> None:
        seen.append(is_http_instrumentation_enabled())

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_start)

    async def go() -> int:
        async with (
            aiohttp.ClientSession(timeout=CLIENT_TIMEOUT, trace_configs=[config]) as session,
            session.get(server.url) as response,
        ):
            return response.status

    server.script(503)
    assert run(go) == 200
    assert seen == [False, False]
    assert is_http_instrumentation_enabled()
