"""The httpx and httpx2 instrumentors with real clients, sync and async."""

from __future__ import annotations

import pytest
from httpx_support import MODE_IDS, MODES, Lib, client_spans, parent_span_id
from opentelemetry.trace import SpanKind, StatusCode
from servers import Reply

from otel_resilience import semconv


@pytest.fixture(params=MODES, ids=MODE_IDS)
def lib(request: pytest.FixtureRequest) -> Lib:
    """httpx or httpx2, sync or async."""
    return Lib(*request.param)


def test_ok_request_has_one_client_span_under_the_pipeline_span(
    lib, instrument, server, otel_capture
):
    """A 200 is one attempt: a CLIENT span named GET with the semconv attributes, under the
    pipeline's INTERNAL span, and one duration measurement."""
    instrument(lib.name)
    response = lib.request("GET", server.url + "/a?x=1")
    assert response.status_code == 200
    assert type(response) is lib.module.Response
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
    # The conventions' default set: url.scheme is Opt-In, so it is not recorded.
    assert dict(point.attributes) == {
        semconv.HTTP_REQUEST_METHOD: "GET",
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: port,
        semconv.HTTP_RESPONSE_STATUS_CODE: 200,
        semconv.NETWORK_PROTOCOL_VERSION: "1.1",
    }
    assert list(point.explicit_bounds) == list(semconv.HTTP_DURATION_BUCKETS)


def test_503_is_retried_with_one_traceparent_per_attempt(lib, instrument, server, otel_capture):
    """503 then 200: the server saw two requests, each carrying the trace context of its own
    attempt span; the second span has resend_count 1, the first none."""
    instrument(lib.name)
    server.script(503)
    response = lib.request("GET", server.url)
    assert response.status_code == 200
    assert server.count == 2
    first, second = client_spans(otel_capture)
    sent = [r.headers["traceparent"] for r in server.received]
    assert sent[0] != sent[1]
    assert [parent_span_id(t) for t in sent] == [first.context.span_id, second.context.span_id]
    assert semconv.HTTP_REQUEST_RESEND_COUNT not in first.attributes
    assert second.attributes[semconv.HTTP_REQUEST_RESEND_COUNT] == 1
    assert first.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 503
    assert first.attributes[semconv.ERROR_TYPE] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert second.status.status_code is StatusCode.UNSET
    points = otel_capture.metric_points(semconv.METRIC_HTTP_CLIENT_REQUEST_DURATION)
    assert sorted(p.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] for p in points) == [200, 503]


def test_exhausted_retries_return_the_last_response(lib, instrument, server, otel_capture):
    """Three 503s: three attempts (the default), the third 503 returned to the caller."""
    instrument(lib.name)
    server.default = Reply(503)
    response = lib.request("GET", server.url)
    assert response.status_code == 503
    assert server.count == 3
    counts = [
        s.attributes.get(semconv.HTTP_REQUEST_RESEND_COUNT) for s in client_spans(otel_capture)
    ]
    assert counts == [None, 1, 2]


def test_post_is_not_retried_without_an_idempotency_key(lib, instrument, server):
    """A POST that gets a 503 is returned at once; the same POST with Idempotency-Key is
    retried and re-sends the same body."""
    instrument(lib.name)
    server.script(503)
    assert lib.request("POST", server.url, content=b"payload").status_code == 503
    assert server.count == 1
    server.script(503)
    response = lib.request(
        "POST", server.url, content=b"payload", headers={"Idempotency-Key": "k1"}
    )
    assert response.status_code == 200
    assert [r.body for r in server.received[1:]] == [b"payload", b"payload"]


def test_uninstrument_restores_the_original_methods(lib, instrument, server, otel_capture):
    """After uninstrument() the client classes hold the very functions they had before, and
    requests are no longer traced or retried."""
    module = lib.module
    before = (
        module.Client.__dict__["_send_single_request"],
        module.AsyncClient.__dict__["_send_single_request"],
    )
    instrumentor = instrument(lib.name)
    assert module.Client.__dict__["_send_single_request"] is not before[0]
    instrumentor.uninstrument()
    after = (
        module.Client.__dict__["_send_single_request"],
        module.AsyncClient.__dict__["_send_single_request"],
    )
    assert after[0] is before[0]
    assert after[1] is before[1]
    server.script(503)
    assert lib.request("GET", server.url).status_code == 503
    assert server.count == 1
    assert client_spans(otel_capture) == []
