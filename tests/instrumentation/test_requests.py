"""The requests instrumentor with real sessions against a local server: spans, retries,
traceparent per attempt, POST rules, redirects, coverage, uninstrument."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import pytest
import requests
from httpx_support import CLIENT_TIMEOUT, client_spans, parent_span_id
from opentelemetry.trace import SpanKind, StatusCode
from otel_resilience_instrumentation.requests import ResilienceRequestsInstrumentor
from servers import Reply

from otel_resilience import semconv


def test_ok_request_has_one_client_span_under_the_pipeline_span(instrument, server, otel_capture):
    """A 200 is one attempt: a CLIENT span named GET with the semconv attributes, under the
    pipeline's INTERNAL span, ended once the body was read, and one duration measurement."""
    instrument("requests")
    response = requests.get(server.url + "/a?x=1", timeout=CLIENT_TIMEOUT)
    assert response.status_code == 200
    assert type(response) is requests.Response
    assert response.content == b"ok"
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
    assert point.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 200


def test_503_is_retried_with_one_traceparent_per_attempt(instrument, server, otel_capture):
    """503 then 200: the server saw two requests, each carrying the trace context of its own
    attempt span; the second span has resend_count 1, the first none and status ERROR."""
    instrument("requests")
    server.script(503)
    assert requests.get(server.url, timeout=CLIENT_TIMEOUT).status_code == 200
    assert server.count == 2
    first, second = client_spans(otel_capture)
    sent = [r.headers["traceparent"] for r in server.received]
    assert sent[0] != sent[1]
    assert [parent_span_id(t) for t in sent] == [first.context.span_id, second.context.span_id]
    assert semconv.HTTP_REQUEST_RESEND_COUNT not in first.attributes
    assert second.attributes[semconv.HTTP_REQUEST_RESEND_COUNT] == 1
    assert first.attributes[semconv.ERROR_TYPE] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert second.status.status_code is StatusCode.UNSET


def test_exhausted_retries_return_the_last_response(instrument, server, otel_capture):
    """Three 503s: three attempts (the default), the third 503 returned with its body."""
    instrument("requests")
    server.default = Reply(503, body=b"busy")
    response = requests.get(server.url, timeout=CLIENT_TIMEOUT)
    assert (response.status_code, response.text) == (503, "busy")
    assert server.count == 3
    counts = [
        s.attributes.get(semconv.HTTP_REQUEST_RESEND_COUNT) for s in client_spans(otel_capture)
    ]
    assert counts == [None, 1, 2]


def test_post_is_retried_only_with_an_idempotency_key(instrument, server):
    """A POST that gets a 503 is returned at once; the same POST with Idempotency-Key is
    retried and re-sends the same body."""
    instrument("requests")
    server.script(503)
    assert requests.post(server.url, data=b"payload", timeout=CLIENT_TIMEOUT).status_code == 503
    assert server.count == 1
    server.script(503)
    response = requests.post(
        server.url, json={"a": 1}, headers={"Idempotency-Key": "k1"}, timeout=CLIENT_TIMEOUT
    )
    assert response.status_code == 200
    assert [r.body for r in server.received[1:]] == [b'{"a": 1}', b'{"a": 1}']


def test_each_redirect_hop_is_its_own_request(instrument, server, otel_capture):
    """A 302 whose target first answers 503: three physical requests, three attempt spans
    under two pipeline spans (one per hop), each with its own traceparent."""
    instrument("requests")
    server.script(Reply(302, headers={"Location": "/next"}), 503)
    response = requests.get(server.url + "/start", timeout=CLIENT_TIMEOUT)
    assert response.status_code == 200
    assert [r.path for r in server.received] == ["/start", "/next", "/next"]
    spans = client_spans(otel_capture)
    assert [s.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] for s in spans] == [302, 503, 200]
    assert len({r.headers["traceparent"] for r in server.received}) == 3
    pipelines = [s for s in otel_capture.spans() if s.kind is SpanKind.INTERNAL]
    assert len(pipelines) == 2
    assert spans[1].parent.span_id == spans[2].parent.span_id != spans[0].parent.span_id


def test_sessions_made_before_instrument_subclasses_and_helpers_are_covered(
    instrument, server, otel_capture
):
    """A session created before instrument(), a Session subclass, an HTTPAdapter subclass that
    overrides send() and calls super(), and requests.get all retry a 503."""

    class MySession(requests.Session):
        pass

    class MyAdapter(requests.adapters.HTTPAdapter):
        def send(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
            request.headers["X-Mine"] = "1"
            return super().send(request, *args, **kwargs)

    early = requests.Session()
    custom = requests.Session()
    custom.mount("http://", MyAdapter())
    instrument("requests")
    for get in (early.get, MySession().get, custom.get, requests.get):
        server.script(503)
        assert get(server.url, timeout=CLIENT_TIMEOUT).status_code == 200
    assert server.count == 8
    assert [r.headers.get("x-mine") for r in server.received[4:6]] == ["1", "1"]
    assert len(client_spans(otel_capture)) == 8
    early.close()
    custom.close()


def test_uninstrument_restores_the_original_methods(instrument, server, otel_capture):
    """After uninstrument() HTTPAdapter.send and Session.request are the very functions they
    were before, and requests are no longer traced or retried; without contrib, Session.request
    is never wrapped (its wrapper only silences contrib)."""
    adapter_cls, session_cls = requests.adapters.HTTPAdapter, requests.Session
    before = (adapter_cls.__dict__["send"], session_cls.__dict__["request"])
    instrumentor = instrument("requests")
    assert adapter_cls.__dict__["send"] is not before[0]
    assert session_cls.__dict__["request"] is before[1]
    instrumentor.uninstrument()
    assert adapter_cls.__dict__["send"] is before[0]
    assert session_cls.__dict__["request"] is before[1]
    server.script(503)
    assert requests.get(server.url, timeout=CLIENT_TIMEOUT).status_code == 503
    assert server.count == 1
    assert client_spans(otel_capture) == []


def test_instrument_twice_warns_and_changes_nothing(instrument, server, caplog):
    """A second instrument() logs a warning and does not wrap twice (three attempts, not nine)."""
    instrumentor = instrument("requests")
    patched = requests.adapters.HTTPAdapter.__dict__["send"]
    with caplog.at_level(logging.WARNING):
        instrumentor.instrument()
    assert "already instrumented" in caplog.text
    assert requests.adapters.HTTPAdapter.__dict__["send"] is patched
    server.default = Reply(503)
    assert requests.get(server.url, timeout=CLIENT_TIMEOUT).status_code == 503
    assert server.count == 3


def test_entry_point_and_dependencies():
    """resilience_requests loads the instrumentor, which names requests as what it patches."""
    (point,) = [
        p
        for p in entry_points(group="opentelemetry_instrumentor")
        if p.name == "resilience_requests"
    ]
    assert point.load() is ResilienceRequestsInstrumentor
    assert ResilienceRequestsInstrumentor().instrumentation_dependencies() == ("requests >= 2.20",)


def test_invalid_policies_fail_at_instrument_and_patch_nothing(otel_capture):
    """A policies value that is not an HttpPolicy raises ValueError at instrument(), and
    requests is left exactly as it was."""
    before = (requests.adapters.HTTPAdapter.__dict__["send"], requests.Session.__dict__["request"])
    instrumentor = ResilienceRequestsInstrumentor()
    with pytest.raises(ValueError, match="policies"):
        instrumentor.instrument(policies={"*": "fast"}, **otel_capture.providers)
    after = (requests.adapters.HTTPAdapter.__dict__["send"], requests.Session.__dict__["request"])
    assert after == before
    assert not instrumentor.is_instrumented_by_opentelemetry
