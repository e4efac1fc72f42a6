"""The trace headers an attempt carries: what the global propagator would inject, whichever
path (the traceparent written directly, or ``propagate.inject``) writes them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from http_core_support import FakeAdapter, FakeResponse
from opentelemetry import baggage, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Setter, TextMapPropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from otel_resilience_instrumentation._http import Attempt, HttpPolicy, HttpRequest, HttpRunner


class _Tenant(TextMapPropagator):
    """A propagator of the application's own: one fixed header."""

    def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
        return context

    def inject(self, carrier: Any, context: Any = None, setter: Setter[Any] | None = None) -> None:
        carrier["x-tenant"] = "blue"

    @property
    def fields(self) -> set[str]:
        return {"x-tenant"}


@pytest.fixture
def textmap() -> Iterator[None]:
    """The test may replace the global propagator: the original comes back afterwards."""
    original = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(original)


def _send(otel_capture: Any, fake_clock: Any) -> tuple[dict[str, str], Any]:
    """One request through a recording runner: the attempt's headers and its CLIENT span
    (the latest one captured)."""
    runner = HttpRunner(
        FakeAdapter(),
        policies={"*": HttpPolicy(max_attempts=1)},
        clock=fake_clock,
        environ={},
        **otel_capture.providers,
    )
    sent: list[Attempt] = []

    def send(attempt: Attempt) -> FakeResponse:
        sent.append(attempt)
        return FakeResponse(200)

    runner.send(HttpRequest("GET", "http://svc.test/x", {}), send)
    client = [s for s in otel_capture.spans() if s.kind is SpanKind.CLIENT][-1]
    return sent[0].headers, client


def _traceparent(span: Any) -> str:
    c = span.context
    return f"00-{c.trace_id:032x}-{c.span_id:016x}-{int(c.trace_flags):02x}"


def test_default_propagators_give_the_attempt_span_as_parent(fake_clock, otel_capture, textmap):
    """With the default propagators and no baggage, the headers are exactly the traceparent
    naming the attempt's CLIENT span, as propagate.inject writes it."""
    propagate.set_global_textmap(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    )
    headers, client = _send(otel_capture, fake_clock)
    assert headers == {"traceparent": _traceparent(client)}


def test_baggage_is_propagated(fake_clock, otel_capture, textmap):
    """Baggage in the caller's context reaches the wire next to the traceparent."""
    propagate.set_global_textmap(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    )
    token = otel_context.attach(baggage.set_baggage("tenant", "blue"))
    try:
        headers, client = _send(otel_capture, fake_clock)
    finally:
        otel_context.detach(token)
    assert headers == {"traceparent": _traceparent(client), "baggage": "tenant=blue"}


def test_trace_state_is_propagated(fake_clock, otel_capture, textmap):
    """A remote parent's trace state goes on in the tracestate header."""
    propagate.set_global_textmap(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    )
    parent = SpanContext(
        0x1234,
        0x5678,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "v1")]),
    )
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        headers, client = _send(otel_capture, fake_clock)
    finally:
        otel_context.detach(token)
    assert client.context.trace_id == 0x1234
    assert headers == {"traceparent": _traceparent(client), "tracestate": "vendor=v1"}


def test_a_propagator_of_the_application_is_honoured(fake_clock, otel_capture, textmap):
    """A global propagator that is not the default pair still writes its own headers, also
    after a default one was used (the check follows set_global_textmap)."""
    default = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    propagate.set_global_textmap(default)
    _send(otel_capture, fake_clock)
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), _Tenant()]))
    headers, client = _send(otel_capture, fake_clock)
    assert headers == {"traceparent": _traceparent(client), "x-tenant": "blue"}
