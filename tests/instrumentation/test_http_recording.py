"""What one recorded HTTP attempt carries: its context, its attributes per request."""

from __future__ import annotations

from typing import Any

from http_core_support import FakeAdapter, FakeResponse
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from otel_resilience_instrumentation._http import Attempt, HttpPolicy, HttpRequest, HttpRunner

from otel_resilience import semconv

try:
    from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY as _SUPPRESS_HTTP
except ImportError:  # pragma: no cover - an API that moved it
    from opentelemetry.instrumentation.utils import (  # type: ignore[attr-defined]
        _SUPPRESS_HTTP_INSTRUMENTATION_KEY as _SUPPRESS_HTTP,
    )


def _runner(otel_capture: Any, fake_clock: Any) -> HttpRunner[Any]:
    return HttpRunner(
        FakeAdapter(),
        policies={"*": HttpPolicy(max_attempts=2)},
        clock=fake_clock,
        environ={},
        **otel_capture.providers,
    )


def test_attempt_context_has_its_span_current_and_http_suppressed(fake_clock, otel_capture):
    """send() runs with the attempt's CLIENT span current, HTTP instrumentation suppressed
    and the caller's own context values kept; the caller's context is back afterwards."""
    runner = _runner(otel_capture, fake_clock)
    key = otel_context.create_key("caller-value")
    seen: list[tuple[Any, Any, Any]] = []

    def send(attempt: Attempt) -> FakeResponse:
        seen.append(
            (
                trace.get_current_span(),
                otel_context.get_value(_SUPPRESS_HTTP),
                otel_context.get_value(key),
            )
        )
        return FakeResponse(200)

    token = otel_context.attach(otel_context.set_value(key, "kept"))
    try:
        runner.send(HttpRequest("GET", "http://svc.test/x", {}), send)
        assert otel_context.get_value(_SUPPRESS_HTTP) is None
    finally:
        otel_context.detach(token)
    ((span, suppressed, value),) = seen
    (client,) = [s for s in otel_capture.spans() if s.kind is SpanKind.CLIENT]
    assert span.get_span_context().span_id == client.context.span_id
    assert suppressed is True
    assert value == "kept"


def test_remembered_attributes_are_not_shared_between_requests(fake_clock, otel_capture):
    """The same URL sent twice: the first request's retry (resend_count) and response
    attributes never reach the second request's first attempt, whose span and measurement
    carry the same request attributes as the first one's."""
    runner = _runner(otel_capture, fake_clock)
    statuses = iter([503, 200, 404])
    request = HttpRequest("GET", "http://svc.test/x", {})
    runner.send(request, lambda a: FakeResponse(next(statuses)))
    runner.send(request, lambda a: FakeResponse(next(statuses)))
    first, resent, again = [s for s in otel_capture.spans() if s.kind is SpanKind.CLIENT]
    assert resent.attributes[semconv.HTTP_REQUEST_RESEND_COUNT] == 1
    assert semconv.HTTP_REQUEST_RESEND_COUNT not in again.attributes
    assert again.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 404
    assert first.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 503
    assert {k: v for k, v in first.attributes.items() if k != semconv.ERROR_TYPE} == {
        k: v for k, v in again.attributes.items() if k != semconv.ERROR_TYPE
    } | {semconv.HTTP_RESPONSE_STATUS_CODE: 503}
    points = otel_capture.metric_points(semconv.METRIC_HTTP_CLIENT_REQUEST_DURATION)
    assert sorted(p.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] for p in points) == [
        200,
        404,
        503,
    ]
    assert all(p.attributes[semconv.SERVER_ADDRESS] == "svc.test" for p in points)
