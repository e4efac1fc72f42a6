"""Retry-After, connection failures, breakers, deadlines, bodies and suppression, through httpx
and httpx2 (sync and async) against a local server."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest
from httpx_support import MODE_IDS, MODES, Lib, client_spans
from opentelemetry.instrumentation.utils import (
    suppress_http_instrumentation,
    suppress_instrumentation,
)
from otel_resilience_instrumentation.policy import HttpPolicy
from servers import Reply, closed_port

from otel_resilience import CircuitOpenError, Pipeline, Timeout, semconv


@pytest.fixture(params=MODES, ids=MODE_IDS)
def lib(request: pytest.FixtureRequest) -> Lib:
    """httpx or httpx2, sync or async."""
    return Lib(*request.param)


def test_retry_after_seconds_is_waited(lib, instrument, server, fake_clock):
    """429 with Retry-After: 7 waits 7 s (on the FakeClock) before the second attempt."""
    instrument(lib.name)
    server.script(Reply(429, headers={"Retry-After": "7"}))
    assert lib.request("GET", server.url).status_code == 200
    assert server.count == 2
    assert fake_clock.monotonic() == pytest.approx(7.0)


def test_retry_after_http_date_is_waited(lib, instrument, server, fake_clock):
    """429 with an HTTP-date Retry-After a few seconds ahead waits until about then."""
    instrument(lib.name)
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    server.script(Reply(429, headers={"Retry-After": when}))
    assert lib.request("GET", server.url).status_code == 200
    assert server.count == 2
    assert 3.0 <= fake_clock.monotonic() <= 5.0


def test_retry_after_beyond_max_delay_returns_the_response_at_once(
    lib, instrument, server, fake_clock
):
    """A Retry-After longer than max_delay (30 s) hands the 429 back without waiting."""
    instrument(lib.name)
    server.script(Reply(429, headers={"Retry-After": "120"}))
    response = lib.request("GET", server.url)
    assert response.status_code == 429
    assert server.count == 1
    assert fake_clock.monotonic() == 0.0


def test_connection_refused_is_retried_then_raised(lib, instrument, otel_capture):
    """Nothing listening: three attempts, each a CLIENT span with error.type, then the
    client's own ConnectError."""
    instrument(lib.name)
    with pytest.raises(lib.module.ConnectError):
        lib.request("GET", f"http://127.0.0.1:{closed_port()}/")
    spans = client_spans(otel_capture)
    assert len(spans) == 3
    assert all(s.attributes[semconv.ERROR_TYPE].endswith("ConnectError") for s in spans)
    points = otel_capture.metric_points(semconv.METRIC_HTTP_CLIENT_REQUEST_DURATION)
    assert sum(p.count for p in points) == 3


def test_dropped_connection_is_retried(lib, instrument, server):
    """The server hangs up without answering once; the second attempt gets the 200."""
    instrument(lib.name)
    server.script(Reply(drop=True))
    assert lib.request("GET", server.url).status_code == 200
    assert server.count == 2


def test_breaker_opens_and_rejects_without_touching_the_network(
    lib, instrument, server, fake_clock, otel_capture
):
    """Two 503s (minimum_calls=2) open the host's breaker: the next request raises
    CircuitOpenError and never reaches the server; after the break a probe goes through."""
    policy = HttpPolicy(max_attempts=1, minimum_calls=2)
    instrument(lib.name, policies={"*": policy})
    server.default = Reply(503)
    assert lib.request("GET", server.url).status_code == 503
    assert lib.request("GET", server.url).status_code == 503
    with pytest.raises(CircuitOpenError):
        lib.request("GET", server.url)
    assert server.count == 2
    assert len(client_spans(otel_capture)) == 2
    fake_clock.advance(15.0)
    server.default = Reply(200)
    assert lib.request("GET", server.url).status_code == 200
    assert server.count == 3


def test_breaker_opens_for_a_dead_host(lib, instrument, otel_capture):
    """Refused connections count against the host's breaker: once open, no attempt is made."""
    instrument(lib.name, policies={"*": HttpPolicy(minimum_calls=3)})
    url = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(lib.module.ConnectError):
        lib.request("GET", url)
    with pytest.raises(CircuitOpenError):
        lib.request("GET", url)
    assert len(client_spans(otel_capture)) == 3


def test_deadline_caps_the_request_timeout(lib, instrument, server, fake_clock):
    """Inside Timeout(seconds=2) every phase of the request's timeout is at most 2 s (the
    client's own 5 s is lowered; nothing is raised)."""
    instrument(lib.name)
    outer = Pipeline("outer", Timeout(seconds=2.0), clock=fake_clock)
    response = outer.call(lib.request, "GET", server.url)
    timeout = response.request.extensions["timeout"]
    assert timeout == {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


def test_no_deadline_leaves_the_timeout_alone(lib, instrument, server):
    """Without a deadline the client's own timeouts go out unchanged."""
    instrument(lib.name)
    response = lib.request("GET", server.url)
    assert response.request.extensions["timeout"] == {
        "connect": 5.0,
        "read": 5.0,
        "write": 5.0,
        "pool": 5.0,
    }


def test_url_full_is_redacted(lib, instrument, server, otel_capture):
    """User info and the values of sensitive query keys never reach url.full."""
    instrument(lib.name)
    port = server.server_address[1]
    url = f"http://user:hunter2@127.0.0.1:{port}/p?api_key=k&x=1&X-Amz-Signature=s&sig=z"
    lib.request("GET", url)
    (span,) = client_spans(otel_capture)
    assert span.attributes[semconv.URL_FULL] == (
        f"http://REDACTED:REDACTED@127.0.0.1:{port}/p"
        "?api_key=REDACTED&x=1&X-Amz-Signature=REDACTED&sig=REDACTED"
    )


@pytest.mark.parametrize("suppress", [suppress_instrumentation, suppress_http_instrumentation])
def test_suppressed_requests_pass_straight_through(lib, instrument, server, otel_capture, suppress):
    """Under the suppression keys: no span, no retry, no breaker (a breaker with
    minimum_calls=1 would otherwise open on the first 503)."""
    instrument(lib.name, policies={"*": HttpPolicy(minimum_calls=1)})
    server.default = Reply(503)
    with suppress():
        for _ in range(3):
            assert lib.request("GET", server.url).status_code == 503
    assert server.count == 3
    assert otel_capture.spans() == []
    server.default = Reply(200)
    assert lib.request("GET", server.url).status_code == 200


def _generator_body(lib: Lib) -> Any:
    if lib.is_async:

        async def chunks() -> Any:
            yield b"a"
            yield b"b"

        return chunks()
    return iter([b"a", b"b"])


def test_non_replayable_body_is_not_retried(lib, instrument, server):
    """A PUT with a generator body gets its 503 back: the body cannot be sent twice."""
    instrument(lib.name)
    server.script(503)
    response = lib.request("PUT", server.url, content=_generator_body(lib))
    assert response.status_code == 503
    assert server.count == 1
    assert server.received[0].body == b"ab"


def test_disabled_host_passes_through(lib, instrument, server, otel_capture):
    """A host whose policy says enabled=False is neither traced nor retried."""
    instrument(lib.name, policies={"127.0.0.1": HttpPolicy(enabled=False)})
    server.script(503)
    assert lib.request("GET", server.url).status_code == 503
    assert server.count == 1
    assert otel_capture.spans() == []


def test_env_max_attempts_applies(lib, instrument, server, monkeypatch):
    """OTEL_RESILIENCE_HTTP_MAX_ATTEMPTS=1 switches retries off with no code."""
    monkeypatch.setenv("OTEL_RESILIENCE_HTTP_MAX_ATTEMPTS", "1")
    instrument(lib.name)
    server.script(503)
    assert lib.request("GET", server.url).status_code == 503
    assert server.count == 1


def test_deadline_reaches_the_wire(instrument, server):
    """A server slow to answer (1 s) inside Timeout(seconds=0.2) on the real clock: the request
    itself times out near 0.2 s instead of waiting for the server (bounded real time)."""
    from otel_resilience import ResilienceTimeoutError

    lib = Lib("httpx", False)
    instrument(lib.name, clock=None)
    server.script(Reply(delay=1.0))
    outer = Pipeline("outer", Timeout(seconds=0.2))
    started = time.monotonic()
    with pytest.raises(ResilienceTimeoutError) as caught:
        outer.call(lib.request, "GET", server.url)
    assert time.monotonic() - started < 0.9
    cause = caught.value.__cause__
    # On a starved machine the capped connect timeout can expire inside connect() itself,
    # which the socket layer reports as EINPROGRESS: still the wire's own timeout.
    starved = isinstance(cause, lib.module.ConnectError) and "in progress" in str(cause)
    assert isinstance(cause, lib.module.TimeoutException) or starved
