"""Retry-After, connection failures, breakers, deadlines, bodies and suppression through
requests against a local server."""

from __future__ import annotations

import email.utils
import io
import time
from typing import Any

import pytest
import requests
import urllib3
from httpx_support import CLIENT_TIMEOUT, client_spans
from opentelemetry.instrumentation.utils import (
    suppress_http_instrumentation,
    suppress_instrumentation,
)
from otel_resilience_instrumentation.policy import HttpPolicy
from servers import Reply, closed_port

from otel_resilience import CircuitOpenError, Pipeline, ResilienceTimeoutError, Timeout, semconv


def _get(url: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("timeout", CLIENT_TIMEOUT)
    return requests.get(url, **kwargs)


def test_retry_after_seconds_is_waited(instrument, server, fake_clock):
    """429 with Retry-After: 7 waits 7 s (on the FakeClock) before the second attempt."""
    instrument("requests")
    server.script(Reply(429, headers={"Retry-After": "7"}))
    assert _get(server.url).status_code == 200
    assert server.count == 2
    assert fake_clock.monotonic() == pytest.approx(7.0)


def test_retry_after_http_date_is_waited(instrument, server, fake_clock):
    """429 with an HTTP-date Retry-After a few seconds ahead waits until about then."""
    instrument("requests")
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    server.script(Reply(429, headers={"Retry-After": when}))
    assert _get(server.url).status_code == 200
    assert server.count == 2
    assert 3.0 <= fake_clock.monotonic() <= 5.0


def test_retry_after_beyond_max_delay_returns_the_response_at_once(instrument, server, fake_clock):
    """A Retry-After longer than max_delay (30 s) hands the 429 back without waiting."""
    instrument("requests")
    server.script(Reply(429, headers={"Retry-After": "120"}))
    assert _get(server.url).status_code == 429
    assert server.count == 1
    assert fake_clock.monotonic() == 0.0


def test_connection_refused_is_retried_then_raised(instrument, otel_capture):
    """Nothing listening: three attempts, each a CLIENT span with error.type and a duration
    measurement, then requests' own ConnectionError."""
    instrument("requests")
    with pytest.raises(requests.ConnectionError):
        _get(f"http://127.0.0.1:{closed_port()}/")
    spans = client_spans(otel_capture)
    assert len(spans) == 3
    assert all(s.attributes[semconv.ERROR_TYPE].endswith("ConnectionError") for s in spans)
    points = otel_capture.metric_points(semconv.METRIC_HTTP_CLIENT_REQUEST_DURATION)
    assert sum(p.count for p in points) == 3


def test_dropped_connection_is_retried(instrument, server):
    """The server hangs up without answering once; the second attempt gets the 200."""
    instrument("requests")
    server.script(Reply(drop=True))
    assert _get(server.url).status_code == 200
    assert server.count == 2


def test_breaker_opens_and_rejects_without_touching_the_network(
    instrument, server, fake_clock, otel_capture
):
    """Two 503s (minimum_calls=2) open the host's breaker: the next request raises
    CircuitOpenError and never reaches the server; after the break a probe goes through."""
    instrument("requests", policies={"*": HttpPolicy(max_attempts=1, minimum_calls=2)})
    server.default = Reply(503)
    assert _get(server.url).status_code == 503
    assert _get(server.url).status_code == 503
    with pytest.raises(CircuitOpenError):
        _get(server.url)
    assert server.count == 2
    assert len(client_spans(otel_capture)) == 2
    fake_clock.advance(15.0)
    server.default = Reply(200)
    assert _get(server.url).status_code == 200
    assert server.count == 3


def test_breaker_opens_for_a_dead_host_then_no_connection_is_tried(
    instrument, otel_capture, monkeypatch
):
    """Refused connections count against the host's breaker: once open, CircuitOpenError is
    raised and urllib3 is not even asked for a connection."""
    instrument("requests", policies={"*": HttpPolicy(minimum_calls=3)})
    url = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(requests.ConnectionError):
        _get(url)
    opened = []
    original = urllib3.connectionpool.HTTPConnectionPool._new_conn
    monkeypatch.setattr(
        urllib3.connectionpool.HTTPConnectionPool,
        "_new_conn",
        lambda pool: opened.append(pool) or original(pool),
    )
    with pytest.raises(CircuitOpenError):
        _get(url)
    assert opened == []
    assert len(client_spans(otel_capture)) == 3


@pytest.fixture
def sent_timeouts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The ``timeout`` each request hands to urllib3 (what reaches the socket)."""
    seen: list[Any] = []
    original = urllib3.connectionpool.HTTPConnectionPool.urlopen

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("timeout"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "urlopen", spy)
    return seen


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [(None, (2.0, 2.0)), (5.0, (2.0, 2.0)), ((1.0, 9.0), (1.0, 2.0)), ((None, 1.5), (2.0, 1.5))],
)
def test_deadline_caps_the_request_timeout(
    instrument, server, fake_clock, sent_timeouts, timeout, expected
):
    """Inside Timeout(seconds=2) the connect and read timeouts urllib3 gets are at most 2 s
    (lower ones are kept)."""
    instrument("requests")
    outer = Pipeline("outer", Timeout(seconds=2.0), clock=fake_clock)
    assert outer.call(_get, server.url, timeout=timeout).status_code == 200
    (sent,) = sent_timeouts
    assert (sent.connect_timeout, sent.read_timeout) == expected


def test_deadline_caps_a_urllib3_timeout_total(instrument, server, fake_clock, sent_timeouts):
    """A urllib3.Timeout given as timeout= gets its total capped at the time left."""
    instrument("requests")
    outer = Pipeline("outer", Timeout(seconds=2.0), clock=fake_clock)
    given = urllib3.Timeout(connect=4.0, read=8.0)
    assert outer.call(_get, server.url, timeout=given).status_code == 200
    (sent,) = sent_timeouts
    assert (sent.total, sent.connect_timeout) == (2.0, 2.0)
    assert given.total is None


def test_no_deadline_leaves_the_timeout_alone(instrument, server, sent_timeouts):
    """Without a deadline the caller's (connect, read) timeouts go out unchanged."""
    instrument("requests")
    assert _get(server.url, timeout=(3.0, 4.0)).status_code == 200
    (sent,) = sent_timeouts
    assert (sent.connect_timeout, sent.read_timeout) == (3.0, 4.0)


def test_deadline_reaches_the_wire(instrument, server):
    """A server slow to answer (1 s) inside Timeout(seconds=0.2) on the real clock: the request
    itself times out near 0.2 s instead of waiting for the server (bounded real time)."""
    instrument("requests", clock=None)
    server.script(Reply(delay=1.0))
    outer = Pipeline("outer", Timeout(seconds=0.2))
    started = time.monotonic()
    with pytest.raises(ResilienceTimeoutError) as caught:
        outer.call(_get, server.url)
    assert time.monotonic() - started < 0.9
    assert isinstance(caught.value.__cause__, requests.Timeout)


def test_url_full_is_redacted(instrument, server, otel_capture):
    """User info and the values of sensitive query keys never reach url.full."""
    instrument("requests")
    port = server.server_address[1]
    url = f"http://user:hunter2@127.0.0.1:{port}/p?api_key=k&x=1&X-Amz-Signature=s&sig=z"
    _get(url)
    (span,) = client_spans(otel_capture)
    assert span.attributes[semconv.URL_FULL] == (
        f"http://REDACTED:REDACTED@127.0.0.1:{port}/p"
        "?api_key=REDACTED&x=1&X-Amz-Signature=REDACTED&sig=REDACTED"
    )


@pytest.mark.parametrize("suppress", [suppress_instrumentation, suppress_http_instrumentation])
def test_suppressed_requests_pass_straight_through(instrument, server, otel_capture, suppress):
    """Under the suppression keys: no span, no retry, no breaker (a breaker with
    minimum_calls=1 would otherwise open on the first 503), no traceparent."""
    instrument("requests", policies={"*": HttpPolicy(minimum_calls=1)})
    server.default = Reply(503)
    with suppress(), requests.Session() as session:
        for _ in range(3):
            assert session.get(server.url, timeout=CLIENT_TIMEOUT).status_code == 503
    assert server.count == 3
    assert otel_capture.spans() == []
    assert all("traceparent" not in r.headers for r in server.received)
    server.default = Reply(200)
    assert _get(server.url).status_code == 200


@pytest.mark.parametrize(
    "body",
    [lambda: iter([b"a", b"b"]), lambda: io.BytesIO(b"ab")],
    ids=["generator", "file"],
)
def test_non_replayable_body_is_not_retried(instrument, server, body):
    """A PUT with a generator or file body gets its 503 back: it cannot be sent twice."""
    instrument("requests")
    server.script(503)
    response = requests.put(server.url, data=body(), timeout=CLIENT_TIMEOUT)
    assert response.status_code == 503
    assert server.count == 1
    assert server.received[0].body == b"ab"


def test_disabled_host_passes_through(instrument, server, otel_capture):
    """A host whose policy says enabled=False is neither traced nor retried."""
    instrument("requests", policies={"127.0.0.1": HttpPolicy(enabled=False)})
    server.script(503)
    assert _get(server.url).status_code == 503
    assert server.count == 1
    assert otel_capture.spans() == []


def test_requests_from_a_response_hook_are_managed_unless_suppressed(
    instrument, server, otel_capture
):
    """A response hook runs inside our Session.request marker: a request it makes is still
    ours (traced, retried), but one it makes under suppress_http_instrumentation() is not."""
    instrument("requests", policies={"*": HttpPolicy(breaker=False)})
    nested: list[int] = []

    def hook(response: requests.Response, **kwargs: Any) -> None:
        server.script(503)
        nested.append(_get(server.url + "/managed").status_code)
        server.script(503)
        with suppress_http_instrumentation():
            nested.append(_get(server.url + "/suppressed").status_code)

    assert _get(server.url + "/outer", hooks={"response": hook}).status_code == 200
    assert nested == [200, 503]
    paths = [r.path for r in server.received]
    assert paths == ["/outer", "/managed", "/managed", "/suppressed"]
    urls = [s.attributes[semconv.URL_FULL] for s in client_spans(otel_capture)]
    assert sorted(u.rpartition("/")[2] for u in urls) == ["managed", "managed", "outer"]


def test_an_otlp_http_exporters_own_requests_pass_straight_through(
    instrument, server, otel_capture
):
    """The OTLP/HTTP span exporter (which sends with requests) exports under the SDK's
    suppress_instrumentation: its POST is neither traced, retried nor given a traceparent."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    instrument("requests")
    exporter = OTLPSpanExporter(endpoint=server.url + "/v1/traces", timeout=CLIENT_TIMEOUT)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server.script(Reply(400, body=b""))  # not retried by the exporter itself either
    provider.get_tracer("app").start_span("work").end()
    provider.shutdown()
    assert [(r.method, r.path) for r in server.received] == [("POST", "/v1/traces")]
    assert "traceparent" not in server.received[0].headers
    assert otel_capture.spans() == []
