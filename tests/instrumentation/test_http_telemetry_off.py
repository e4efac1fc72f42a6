"""The HTTP request path when nothing records (no SDK): a request's first attempt skips its
host's pipeline while the breaker is closed, and everything else behaves as through it.

Every client (httpx and httpx2 sync and async, requests, aiohttp) runs each body, with the
API's no-op providers, so the runner takes its fast path (``hosts.Fast``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
from aiohttp_support import status as aiohttp_status
from httpx_support import CLIENT_TIMEOUT, Lib
from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry._logs import NoOpLoggerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from otel_resilience_instrumentation._http import HttpRequest, HttpRunner
from otel_resilience_instrumentation._httpx_like import _Adapter
from otel_resilience_instrumentation.policy import HttpPolicy
from servers import Reply

from otel_resilience import CircuitOpenError, Pipeline, Timeout
from otel_resilience.testing import FakeClock

OFF = {
    "tracer_provider": trace.NoOpTracerProvider(),
    "meter_provider": metrics.NoOpMeterProvider(),
    "logger_provider": NoOpLoggerProvider(),
}


class Client:
    """One client library: ``get(url) -> status``, under the instrumentor named ``name``."""

    def __init__(self, name: str, get: Callable[..., int]) -> None:
        self.name = name
        self.get = get


def _httpx_like(name: str, is_async: bool) -> Client:
    lib = Lib(name, is_async)
    return Client(name, lambda url, **kw: int(lib.request("GET", url, **kw).status_code))


def _requests_get(url: str, **kwargs: Any) -> int:
    return requests.get(url, timeout=CLIENT_TIMEOUT, **kwargs).status_code


CLIENTS = {
    "httpx-sync": lambda: _httpx_like("httpx", False),
    "httpx-async": lambda: _httpx_like("httpx", True),
    "httpx2-sync": lambda: _httpx_like("httpx2", False),
    "httpx2-async": lambda: _httpx_like("httpx2", True),
    "requests": lambda: Client("requests", _requests_get),
    "aiohttp": lambda: Client("aiohttp", lambda url, **kw: aiohttp_status("GET", url, **kw)),
}


@pytest.fixture(params=sorted(CLIENTS))
def client(request: pytest.FixtureRequest) -> Client:
    """Each client library in turn."""
    return CLIENTS[request.param]()  # type: ignore[no-any-return]


def test_a_success_skips_the_pipeline(client, instrument, server, fast_successes):
    """A 200 is one request to the server and one success counted on the fast path."""
    instrument(client.name, **OFF)
    assert client.get(server.url) == 200
    assert server.count == 1
    assert len(fast_successes) == 1


def test_fast_successes_count_in_the_breaker(client, instrument, server, fast_successes):
    """Two fast successes and two 503s make 4 calls at a 0.5 failure ratio: the breaker opens
    (without the successes, 2 calls would stay below minimum_calls=4)."""
    policy = HttpPolicy(max_attempts=1, minimum_calls=4)
    instrument(client.name, policies={"*": policy}, **OFF)
    server.script(200, 200, Reply(503), Reply(503))
    assert [client.get(server.url) for _ in range(4)] == [200, 200, 503, 503]
    with pytest.raises(CircuitOpenError):
        client.get(server.url)
    assert server.count == 4
    assert len(fast_successes) == 2


def test_a_failed_first_attempt_is_retried(client, instrument, server, fast_successes):
    """503 then 200: the pipeline takes the first outcome and retries once."""
    instrument(client.name, **OFF)
    server.script(Reply(503))
    assert client.get(server.url) == 200
    assert server.count == 2
    assert fast_successes == []  # the success after a retry is the pipeline's


def test_a_dropped_first_attempt_is_retried(client, instrument, server):
    """A connection dropped on the first attempt (an error, not a response) is retried."""
    instrument(client.name, **OFF)
    server.script(Reply(drop=True))
    assert client.get(server.url) == 200
    assert server.count == 2


def test_retry_after_is_waited(client, instrument, server, fake_clock):
    """429 with Retry-After: 7 on the first attempt waits 7 s before the second."""
    instrument(client.name, **OFF)
    server.script(Reply(429, headers={"Retry-After": "7"}))
    assert client.get(server.url) == 200
    assert server.count == 2
    assert fake_clock.monotonic() == pytest.approx(7.0)


def test_retry_after_beyond_max_delay_returns_at_once(client, instrument, server, fake_clock):
    """A Retry-After above max_delay hands the first attempt's 429 back without waiting."""
    instrument(client.name, **OFF)
    server.script(Reply(429, headers={"Retry-After": "120"}))
    assert client.get(server.url) == 429
    assert server.count == 1
    assert fake_clock.monotonic() == 0.0


def test_an_open_breaker_rejects_without_the_network(client, instrument, server, fake_clock):
    """Open: no fast path; CircuitOpenError without a request; after the break a probe goes."""
    instrument(client.name, policies={"*": HttpPolicy(max_attempts=1, minimum_calls=2)}, **OFF)
    server.default = Reply(503)
    assert [client.get(server.url) for _ in range(2)] == [503, 503]
    with pytest.raises(CircuitOpenError):
        client.get(server.url)
    assert server.count == 2
    fake_clock.advance(15.0)
    server.default = Reply(200)
    assert client.get(server.url) == 200
    assert server.count == 3


def test_the_callers_trace_context_still_goes_out(client, instrument, server):
    """With no SDK, a trace context the caller has (e.g. from an incoming request) is still
    sent: traceparent carries its trace id."""
    instrument(client.name, **OFF)
    parent = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        assert client.get(server.url) == 200
    finally:
        otel_context.detach(token)
    (received,) = server.received
    assert received.headers["traceparent"].startswith(f"00-{0x1234:032x}-")


def test_the_deadline_caps_the_first_attempt(instrument, server, fake_clock):
    """Inside Timeout(seconds=2) the fast first attempt's timeout is capped at 2 s too."""
    instrument("httpx", **OFF)
    outer = Pipeline("outer", Timeout(seconds=2.0), clock=fake_clock)
    with httpx.Client(timeout=CLIENT_TIMEOUT) as http:
        response = outer.call(http.get, server.url)
    assert response.request.extensions["timeout"] == dict.fromkeys(
        ("connect", "read", "write", "pool"), 2.0
    )


def test_a_breaker_opened_meanwhile_returns_the_first_outcome():
    """When the breaker opens while the first attempt is out (another thread's failures),
    the pipeline refuses the hand-over: the caller gets that attempt's response, not a
    CircuitOpenError, and nothing is sent again."""
    runner: HttpRunner[httpx.Response] = HttpRunner(_Adapter(httpx), clock=FakeClock(), **OFF)
    request = httpx.Request("GET", "http://127.0.0.1:9/")
    described = HttpRequest("GET", request.url, request.headers, True, "127.0.0.1", 9, "http")
    sent = []

    def send(attempt: Any) -> httpx.Response:
        sent.append(attempt.number)
        host = runner._origins[("127.0.0.1", 9, "http")]
        assert host.fast is not None
        assert host.fast.breaker is not None
        host.fast.breaker.isolate()  # stands for the other thread's failures
        return httpx.Response(503, request=request)

    assert runner.send(described, send).status_code == 503
    assert sent == [1]
