"""The aiohttp instrumentor with a real ClientSession: spans, trace context, retry rules,
instrument/uninstrument."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import aiohttp
import pytest
from aiohttp_support import CLIENT_TIMEOUT, fetch, run, status
from httpx_support import client_spans, parent_span_id
from opentelemetry.instrumentation.utils import (
    suppress_http_instrumentation,
    suppress_instrumentation,
)
from opentelemetry.trace import SpanKind, StatusCode
from otel_resilience_instrumentation.aiohttp_client import ResilienceAiohttpClientInstrumentor
from otel_resilience_instrumentation.policy import HttpPolicy
from servers import Reply

from otel_resilience import semconv

_MISSING = object()


def test_ok_request_has_one_client_span_under_the_pipeline_span(instrument, server, otel_capture):
    """A 200 is one attempt: a CLIENT span named GET with the semconv attributes, under the
    pipeline's INTERNAL span, one duration measurement; the caller gets a ClientResponse."""
    instrument("aiohttp")
    response, body = fetch("GET", server.url + "/a?x=1")
    assert (response.status, body) == (200, b"ok")
    assert type(response) is aiohttp.ClientResponse
    assert server.count == 1
    (attempt,) = client_spans(otel_capture)
    port = server.server_address[1]
    pipeline = otel_capture.span(f"HTTP 127.0.0.1:{port}")
    assert pipeline.kind is SpanKind.INTERNAL
    assert attempt.name == "GET"
    assert attempt.parent.span_id == pipeline.context.span_id
    assert dict(attempt.attributes) == {
        semconv.HTTP_REQUEST_METHOD: "GET",
        semconv.URL_FULL: server.url + "/a?x=1",
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: port,
        semconv.HTTP_RESPONSE_STATUS_CODE: 200,
        semconv.NETWORK_PROTOCOL_VERSION: "1.1",
    }
    assert attempt.status.status_code is StatusCode.UNSET
    (point,) = otel_capture.metric_points(semconv.METRIC_HTTP_CLIENT_REQUEST_DURATION)
    assert point.count == 1


def test_503_is_retried_with_one_traceparent_per_attempt(instrument, server, otel_capture):
    """503 then 200: the server saw two requests, each carrying the trace context of its own
    attempt span; the second span has resend_count 1, the first none."""
    instrument("aiohttp")
    server.script(503)
    assert status("GET", server.url) == 200
    assert server.count == 2
    first, second = client_spans(otel_capture)
    sent = [r.headers["traceparent"] for r in server.received]
    assert sent[0] != sent[1]
    assert [parent_span_id(t) for t in sent] == [first.context.span_id, second.context.span_id]
    assert semconv.HTTP_REQUEST_RESEND_COUNT not in first.attributes
    assert second.attributes[semconv.HTTP_REQUEST_RESEND_COUNT] == 1
    assert first.attributes[semconv.ERROR_TYPE] == "503"
    assert first.status.status_code is StatusCode.ERROR
    points = otel_capture.metric_points(semconv.METRIC_HTTP_CLIENT_REQUEST_DURATION)
    assert sorted(p.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] for p in points) == [200, 503]


def test_caller_headers_and_params_are_kept(instrument, server, otel_capture):
    """The caller's headers and params go out on every attempt next to the traceparent, and
    url.full shows the params."""
    instrument("aiohttp")
    server.script(503)
    assert status("GET", server.url + "/p", headers={"X-Mine": "1"}, params={"q": "v"}) == 200
    assert [r.headers["x-mine"] for r in server.received] == ["1", "1"]
    assert [r.path for r in server.received] == ["/p?q=v", "/p?q=v"]
    assert client_spans(otel_capture)[0].attributes[semconv.URL_FULL] == server.url + "/p?q=v"


def test_exhausted_retries_return_the_last_response(instrument, server, otel_capture):
    """Three 503s: three attempts (the default), the third 503 returned to the caller."""
    instrument("aiohttp")
    server.default = Reply(503)
    assert status("GET", server.url) == 503
    assert server.count == 3
    counts = [
        s.attributes.get(semconv.HTTP_REQUEST_RESEND_COUNT) for s in client_spans(otel_capture)
    ]
    assert counts == [None, 1, 2]


def test_raise_for_status_applies_after_the_retries(instrument, server):
    """A session with raise_for_status=True still retries a 503 (the 200 comes back); when
    every attempt gets a 503, the caller gets aiohttp's ClientResponseError after three."""
    instrument("aiohttp")

    async def get() -> int:
        async with (
            aiohttp.ClientSession(timeout=CLIENT_TIMEOUT, raise_for_status=True) as session,
            session.get(server.url) as response,
        ):
            return response.status

    server.script(503)
    assert run(get) == 200
    assert server.count == 2
    server.default = Reply(503)
    with pytest.raises(aiohttp.ClientResponseError) as caught:
        run(get)
    assert caught.value.status == 503
    assert server.count == 5


def test_post_is_retried_only_with_an_idempotency_key(instrument, server):
    """A POST that gets a 503 is returned at once; with Idempotency-Key (per request or a
    session default header) it is retried and re-sends the same body."""
    instrument("aiohttp")
    server.script(503)
    assert status("POST", server.url, data=b"payload") == 503
    assert server.count == 1
    server.script(503)
    assert status("POST", server.url, data=b"payload", headers={"Idempotency-Key": "k"}) == 200

    async def with_default_header() -> int:
        headers = {"idempotency-key": "k2"}
        async with (
            aiohttp.ClientSession(timeout=CLIENT_TIMEOUT, headers=headers) as session,
            session.post(server.url, json={"a": 1}) as response,
        ):
            return response.status

    server.script(503)
    assert run(with_default_header) == 200
    bodies = [r.body for r in server.received[1:]]
    assert bodies == [b"payload", b"payload", b'{"a": 1}', b'{"a": 1}']


def test_idempotency_key_among_merged_session_and_call_headers(instrument, server):
    """A session with default headers and a call giving the key as a list of pairs (any
    case): the POST is retried, and both header sets go out on each send."""
    instrument("aiohttp")

    async def go() -> int:
        async with (
            aiohttp.ClientSession(timeout=CLIENT_TIMEOUT, headers={"X-Team": "a"}) as session,
            session.post(server.url, data=b"p", headers=[("idempotency-KEY", "k3")]) as response,
        ):
            return response.status

    server.script(503)
    assert run(go) == 200
    assert [(r.headers["x-team"], r.headers["idempotency-key"]) for r in server.received] == [
        ("a", "k3"),
        ("a", "k3"),
    ]


def test_url_full_is_redacted(instrument, server, otel_capture):
    """User info and the values of sensitive query keys never reach url.full."""
    instrument("aiohttp")
    port = server.server_address[1]
    url = f"http://user:hunter2@127.0.0.1:{port}/p?api_key=k&x=1&X-Amz-Signature=s&sig=z"
    assert status("GET", url) == 200
    (span,) = client_spans(otel_capture)
    assert span.attributes[semconv.URL_FULL] == (
        f"http://REDACTED:REDACTED@127.0.0.1:{port}/p"
        "?api_key=REDACTED&x=1&X-Amz-Signature=REDACTED&sig=REDACTED"
    )


@pytest.mark.parametrize("suppress", [suppress_instrumentation, suppress_http_instrumentation])
def test_suppressed_requests_pass_straight_through(instrument, server, otel_capture, suppress):
    """Under the suppression keys: no span, no retry, no breaker (a breaker with
    minimum_calls=1 would otherwise open on the first 503)."""
    instrument("aiohttp", policies={"*": HttpPolicy(minimum_calls=1)})
    server.default = Reply(503)
    with suppress():
        for _ in range(3):
            assert status("GET", server.url) == 503
    assert server.count == 3
    assert otel_capture.spans() == []
    server.default = Reply(200)
    assert status("GET", server.url) == 200


def test_sessions_made_before_instrument_and_the_module_helper_are_covered(
    instrument, server, otel_capture
):
    """A session created before instrument() and aiohttp.request() both retry a 503."""

    async def go() -> list[int]:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as early:
            instrument("aiohttp")
            server.script(503)
            async with early.get(server.url) as first:
                await first.read()
            server.script(503)
            async with aiohttp.request("GET", server.url, timeout=CLIENT_TIMEOUT) as second:
                await second.read()
            return [first.status, second.status]

    assert run(go) == [200, 200]
    assert server.count == 4
    assert len(client_spans(otel_capture)) == 4


def test_uninstrument_restores_the_original_method(instrument, server, otel_capture):
    """After uninstrument() ClientSession holds the very function (and re-send flag) it had
    before, and requests are no longer traced or retried."""
    before = aiohttp.ClientSession.__dict__["_request"]
    flag = aiohttp.ClientSession.__dict__.get("_retry_connection", _MISSING)
    instrumentor = instrument("aiohttp")
    assert aiohttp.ClientSession.__dict__["_request"] is not before
    assert aiohttp.ClientSession.__dict__.get("_retry_connection", _MISSING) is not flag
    instrumentor.uninstrument()
    assert aiohttp.ClientSession.__dict__["_request"] is before
    assert aiohttp.ClientSession.__dict__.get("_retry_connection", _MISSING) is flag
    server.script(503)
    assert status("GET", server.url) == 503
    assert server.count == 1
    assert client_spans(otel_capture) == []


def test_instrument_twice_warns_and_changes_nothing(instrument, server, caplog):
    """A second instrument() logs a warning and does not wrap twice (three sends, not nine)."""
    instrumentor = instrument("aiohttp")
    patched = aiohttp.ClientSession.__dict__["_request"]
    with caplog.at_level(logging.WARNING):
        instrumentor.instrument()
    assert "already instrumented" in caplog.text
    assert aiohttp.ClientSession.__dict__["_request"] is patched
    server.default = Reply(503)
    assert status("GET", server.url) == 503
    assert server.count == 3


def test_entry_point_and_dependencies():
    """opentelemetry-instrument finds the instrumentor; aiohttp is named, not depended on."""
    (point,) = [
        p
        for p in entry_points(group="opentelemetry_instrumentor")
        if p.name == "resilience_aiohttp_client"
    ]
    assert point.load() is ResilienceAiohttpClientInstrumentor
    assert ResilienceAiohttpClientInstrumentor().instrumentation_dependencies() == (
        "aiohttp >= 3.9",
    )


def test_websocket_handshakes_and_hostless_urls_pass_straight_through(
    instrument, server, otel_capture
):
    """A request with an Upgrade header is neither traced nor retried (its span would last as
    long as the socket); a URL without a host gets aiohttp's own error, untouched."""
    instrument("aiohttp")
    server.script(503)
    assert status("GET", server.url, headers={"Upgrade": "websocket"}) == 503
    assert server.count == 1
    with pytest.raises(aiohttp.InvalidUrlClientError):
        status("GET", "/no-host")
    assert otel_capture.spans() == []


def test_a_string_url_is_described_once_and_its_spans_agree(
    instrument, server, otel_capture, monkeypatch
):
    """A string URL sent again (no base URL, headers or params of the call's own) reuses what
    the first request's description found: same span attributes, no second description; a
    call with params is still described in full."""
    import otel_resilience_instrumentation.aiohttp_client as module

    described: list[str] = []
    original = module._describe

    def counting(*args, **kwargs):
        described.append(str(args[3][1]))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "_describe", counting)
    instrument("aiohttp")
    url = server.url + "/same"
    assert [status("GET", url), status("GET", url)] == [200, 200]
    assert described == [url]
    assert status("GET", url, params={"q": "1"}) == 200
    assert described == [url, url]
    first, second, third = client_spans(otel_capture)
    assert dict(first.attributes) == dict(second.attributes)
    assert third.attributes[semconv.URL_FULL] == url + "?q=1"


def test_a_reused_bodiless_request_keeps_its_method_and_session(instrument, server, otel_capture):
    """The same URL without a body, sent again with another method or from a session with
    other default headers, is described anew: each span names its own method, and only the
    session whose defaults carry an Idempotency-Key retries its POST."""
    instrument("aiohttp")
    url = server.url + "/again"

    async def send(headers: dict[str, str], methods: list[str]) -> list[int]:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT, headers=headers) as session:
            statuses = []
            for method in methods:
                async with session.request(method, url) as response:
                    statuses.append(response.status)
            return statuses

    server.script(200, 200, 200, 503)
    assert run(lambda: send({}, ["GET", "GET", "DELETE", "POST"])) == [200, 200, 200, 503]
    server.script(503)
    assert run(lambda: send({"Idempotency-Key": "k"}, ["POST"])) == [200]
    spans = client_spans(otel_capture)
    assert [s.attributes[semconv.HTTP_REQUEST_METHOD] for s in spans] == [
        "GET",
        "GET",
        "DELETE",
        "POST",
        "POST",
        "POST",
    ]
    assert [s.name for s in spans] == ["GET", "GET", "DELETE", "POST", "POST", "POST"]
    assert server.count == 6  # the second POST was sent twice, the first once
