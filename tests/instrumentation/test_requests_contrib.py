"""Coexistence with opentelemetry-instrumentation-requests: with both active, in either
instrument order, each attempt yields exactly one HTTP CLIENT span, and it is ours."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from httpx_support import CLIENT_TIMEOUT, client_spans
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from otel_resilience_instrumentation.policy import HttpPolicy

from otel_resilience import semconv

CONTRIB_SCOPE = "opentelemetry.instrumentation.requests"
#: contrib's duration histograms (old and stable names): none of its points may appear.
CONTRIB_OLD_DURATION = "http.client.duration"


@pytest.fixture
def contrib(otel_capture: Any) -> Iterator[Callable[[], None]]:
    """``contrib()`` instruments the contrib requests instrumentor with the capture's
    providers; it is un-instrumented at teardown."""
    instrumentor = RequestsInstrumentor()

    def start() -> None:
        instrumentor.instrument(
            tracer_provider=otel_capture.providers["tracer_provider"],
            meter_provider=otel_capture.providers["meter_provider"],
        )

    yield start
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def _both(order: str, instrument: Any, contrib: Callable[[], None]) -> Any:
    if order == "contrib-first":
        contrib()
        return instrument("requests")
    ours = instrument("requests")
    contrib()
    return ours


def test_contrib_alone_records_its_span(contrib, server, otel_capture):
    """Sanity check of the harness: contrib alone records one CLIENT span per request."""
    contrib()
    requests.get(server.url, timeout=CLIENT_TIMEOUT)
    (span,) = client_spans(otel_capture)
    assert span.instrumentation_scope.name == CONTRIB_SCOPE


@pytest.mark.parametrize("order", ["contrib-first", "ours-first"])
@pytest.mark.parametrize("via", ["requests.get", "session.request", "session.post"])
def test_each_attempt_has_exactly_one_client_span_and_it_is_ours(
    order, via, instrument, contrib, server, otel_capture
):
    """503 then 200 with both instrumentors active: two CLIENT spans, both ours (stable names,
    resend_count on the resend), each the parent the server saw; contrib records nothing."""
    _both(order, instrument, contrib)
    server.script(503)
    with requests.Session() as session:
        if via == "requests.get":
            response = requests.get(server.url, timeout=CLIENT_TIMEOUT)
        elif via == "session.request":
            response = session.request("GET", server.url, timeout=CLIENT_TIMEOUT)
        else:
            response = session.post(
                server.url, data=b"x", headers={"Idempotency-Key": "1"}, timeout=CLIENT_TIMEOUT
            )
    assert response.status_code == 200
    assert server.count == 2
    spans = client_spans(otel_capture)
    assert [s.instrumentation_scope.name for s in spans] == [semconv.HTTP_SCOPE_NAME] * 2
    assert [s.attributes.get(semconv.HTTP_REQUEST_RESEND_COUNT) for s in spans] == [None, 1]
    assert all(semconv.HTTP_REQUEST_METHOD in s.attributes for s in spans)
    parents = [int(r.headers["traceparent"].split("-")[2], 16) for r in server.received]
    assert parents == [s.context.span_id for s in spans]
    assert otel_capture.metric_points(CONTRIB_OLD_DURATION) == []


@pytest.mark.parametrize("order", ["contrib-first", "ours-first"])
def test_uninstrumenting_ours_leaves_contrib_working(
    order, instrument, contrib, server, otel_capture
):
    """After our uninstrument(), in either order, contrib records its span again and nothing
    is retried: our patches are gone and contrib's is intact."""
    ours = _both(order, instrument, contrib)
    ours.uninstrument()
    server.script(503)
    assert requests.get(server.url, timeout=CLIENT_TIMEOUT).status_code == 503
    (span,) = client_spans(otel_capture)
    assert span.instrumentation_scope.name == CONTRIB_SCOPE


@pytest.mark.parametrize("order", ["contrib-first", "ours-first"])
def test_uninstrumenting_contrib_leaves_ours_working(
    order, instrument, contrib, server, otel_capture
):
    """After contrib's uninstrument(), in either order, ours still retries and traces."""
    _both(order, instrument, contrib)
    RequestsInstrumentor().uninstrument()
    server.script(503)
    assert requests.get(server.url, timeout=CLIENT_TIMEOUT).status_code == 200
    spans = client_spans(otel_capture)
    assert [s.instrumentation_scope.name for s in spans] == [semconv.HTTP_SCOPE_NAME] * 2


def test_direct_session_send_with_contrib_gets_contrib_span_only(
    instrument, contrib, server, otel_capture
):
    """The documented limit: Session.send(prepared) bypasses Session.request, so with contrib
    active its span is the only one and the request passes through us (one attempt)."""
    _both("ours-first", instrument, contrib)
    server.script(503)
    with requests.Session() as session:
        prepared = session.prepare_request(requests.Request("GET", server.url))
        assert session.send(prepared, timeout=CLIENT_TIMEOUT).status_code == 503
    (span,) = client_spans(otel_capture)
    assert span.instrumentation_scope.name == CONTRIB_SCOPE


@pytest.mark.parametrize("order", ["contrib-first", "ours-first"])
def test_a_host_we_pass_through_keeps_contribs_span(
    order, instrument, contrib, server, otel_capture
):
    """A host whose policy says enabled=False is left to contrib: its one CLIENT span, no
    retry; another host in the same process still gets ours."""
    contrib_first = order == "contrib-first"
    if contrib_first:
        contrib()
    instrument("requests", policies={"127.0.0.1": HttpPolicy(enabled=False)})
    if not contrib_first:
        contrib()
    server.script(503)
    assert requests.get(server.url, timeout=CLIENT_TIMEOUT).status_code == 503
    assert server.count == 1
    (span,) = client_spans(otel_capture)
    assert span.instrumentation_scope.name == CONTRIB_SCOPE
    port = server.server_address[1]
    assert requests.get(f"http://localhost:{port}/", timeout=CLIENT_TIMEOUT).status_code == 200
    scopes = [s.instrumentation_scope.name for s in client_spans(otel_capture)]
    assert scopes == [CONTRIB_SCOPE, semconv.HTTP_SCOPE_NAME]


def test_env_switching_ours_off_leaves_contrib_alone(
    instrument, contrib, server, otel_capture, monkeypatch
):
    """OTEL_RESILIENCE_HTTP_ENABLED=false (zero-code users): contrib's span as if we were not
    installed, and no retry."""
    monkeypatch.setenv("OTEL_RESILIENCE_HTTP_ENABLED", "false")
    contrib()
    instrument("requests")
    server.script(503)
    assert requests.get(server.url, timeout=CLIENT_TIMEOUT).status_code == 503
    (span,) = client_spans(otel_capture)
    assert span.instrumentation_scope.name == CONTRIB_SCOPE


@pytest.mark.parametrize("order", ["contrib-first", "ours-first"])
def test_session_request_is_wrapped_only_while_contrib_is_applied(order, instrument, contrib):
    """Our Session.request wrapper (it only silences contrib) is on exactly while contrib's
    Session.send patch is, in either order, and every uninstrument restores the original."""
    original = requests.Session.__dict__["request"]
    ours = _both(order, instrument, contrib)
    assert requests.Session.__dict__["request"] is not original
    RequestsInstrumentor().uninstrument()
    assert requests.Session.__dict__["request"] is original
    contrib()
    assert requests.Session.__dict__["request"] is not original
    ours.uninstrument()
    assert requests.Session.__dict__["request"] is original
    RequestsInstrumentor().uninstrument()
    contrib()
    assert requests.Session.__dict__["request"] is original
