"""Pipeline: composition, the span contract, metrics, decorators, defaults handed to strategies."""

from __future__ import annotations

import asyncio
import inspect

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from otel_resilience import CircuitBreaker, CircuitOpenError, Pipeline, Retry, semconv
from otel_resilience.testing import FakeClock


def test_success_span_contract(run, fake_clock, otel_capture):
    """One INTERNAL span named after the pipeline carries name, outcome and attempts."""
    pipeline = Pipeline(
        "checkout", Retry(), CircuitBreaker(), clock=fake_clock, **otel_capture.providers
    )
    assert run(pipeline, lambda: 42) == 42
    span = otel_capture.span("checkout")
    assert span.kind is SpanKind.INTERNAL
    assert span.instrumentation_scope.name == "otel_resilience"
    assert dict(span.attributes) == {
        semconv.PIPELINE_NAME: "checkout",
        semconv.OUTCOME: "success",
        semconv.ATTEMPTS: 1,
    }
    assert span.status.status_code is StatusCode.UNSET


def test_failure_span_contract(run, fake_clock, otel_capture):
    """A failed call sets error.type (qualified class name), category, ERROR status, exception."""
    pipeline = Pipeline(
        "checkout", Retry(max_attempts=2), clock=fake_clock, **otel_capture.providers
    )

    def down() -> None:
        raise httpx.ConnectError("refused")

    run.raises(httpx.ConnectError, pipeline, down)
    span = otel_capture.span("checkout")
    assert span.attributes[semconv.OUTCOME] == "failure"
    assert span.attributes[semconv.ATTEMPTS] == 2
    assert span.attributes[semconv.ERROR_TYPE] == "httpx.ConnectError"
    assert span.attributes[semconv.ERROR_CATEGORY] == "connection"
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events][-1] == "exception"


def test_rejected_outcome(run, fake_clock, otel_capture):
    """A call refused by an open breaker has outcome 'rejected'."""
    breaker = CircuitBreaker(clock=fake_clock)
    breaker.isolate()
    pipeline = Pipeline("p", breaker, clock=fake_clock, **otel_capture.providers)
    run.raises(CircuitOpenError, pipeline, lambda: 1)
    span = otel_capture.span("p")
    assert span.attributes[semconv.OUTCOME] == "rejected"
    assert span.attributes[semconv.ERROR_TYPE] == "otel_resilience.errors.CircuitOpenError"


def test_span_is_current_while_the_function_runs(run, otel_capture):
    """Spans started inside the protected function nest under the pipeline span."""
    tracer = otel_capture.tracer_provider.get_tracer("client")
    seen = []

    def work() -> None:
        seen.append(trace.get_current_span().get_span_context().span_id)
        with tracer.start_as_current_span("http GET"):
            pass

    run(Pipeline("outer", Retry(), **otel_capture.providers), work)
    outer = otel_capture.span("outer")
    child = otel_capture.span("http GET")
    assert seen == [outer.context.span_id]
    assert child.parent.span_id == outer.context.span_id
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_duration_histogram(run, otel_capture):
    """resilience.pipeline.duration records fake-clock seconds with name and outcome."""
    clock = FakeClock()

    def slow() -> str:
        clock.advance(0.3)
        return "ok"

    run(Pipeline("p", clock=clock, **otel_capture.providers), slow)
    (point,) = otel_capture.metric_points(semconv.METRIC_PIPELINE_DURATION)
    assert dict(point.attributes) == {semconv.PIPELINE_NAME: "p", semconv.OUTCOME: "success"}
    assert point.sum == pytest.approx(0.3)
    assert tuple(point.explicit_bounds) == semconv.DURATION_BUCKETS
    metric = (
        otel_capture.metric_reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
    )
    assert {m.name: m.unit for m in metric}[semconv.METRIC_PIPELINE_DURATION] == "s"


def test_strategies_inherit_pipeline_clock_and_providers(fake_clock, otel_capture):
    """A strategy with no clock or providers uses its pipeline's."""
    retry = Retry(base_delay=1.0, jitter=False)
    breaker = CircuitBreaker(minimum_calls=1, window=1, window_type="count")
    Pipeline("p", retry, breaker, clock=fake_clock, **otel_capture.providers)
    assert retry.clock is fake_clock
    assert breaker.clock is fake_clock
    breaker.isolate()
    assert otel_capture.logs(semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE)


def test_explicit_strategy_clock_wins(fake_clock):
    """A clock given to a strategy is kept."""
    own = FakeClock()
    retry = Retry(clock=own)
    Pipeline("p", retry, clock=fake_clock)
    assert retry.clock is own


def test_outermost_first_composition(fake_clock):
    """The first strategy wraps the second: retry around breaker sees each breaker outcome."""
    breaker = CircuitBreaker(minimum_calls=3, window=10, window_type="count", clock=fake_clock)
    pipeline = Pipeline("p", Retry(max_attempts=3, base_delay=0.0), breaker, clock=fake_clock)
    with pytest.raises(ConnectionError):
        pipeline.call(_raise_connection)
    assert breaker._core.window.counts(0.0)[0] == 3


def _raise_connection() -> None:
    raise ConnectionError


def test_arguments_are_passed_through(run):
    """Positional and keyword arguments reach the function."""
    assert run(Pipeline("p", Retry()), lambda a, b=0: a + b, 1, b=2) == 3


def test_decorator_sync_and_async(fake_clock):
    """@pipeline works on def and async def and keeps their names and signatures."""
    pipeline = Pipeline("p", Retry(base_delay=0.0), clock=fake_clock)
    attempts = []

    @pipeline
    def add(a: int, b: int) -> int:
        """Add."""
        attempts.append(1)
        if len(attempts) < 2:
            raise TimeoutError
        return a + b

    @pipeline
    async def mul(a: int, b: int) -> int:
        return a * b

    assert add(2, 3) == 5
    assert asyncio.run(mul(2, 3)) == 6
    assert add.__name__ == "add"
    assert add.__doc__ == "Add."
    assert inspect.iscoroutinefunction(mul)
    assert list(inspect.signature(add).parameters) == ["a", "b"]


def test_no_sdk_costs_no_span(run):
    """With the global no-op providers nothing is resolved to record."""
    pipeline = Pipeline("quiet", Retry(), CircuitBreaker())
    assert run(pipeline, lambda: "ok") == "ok"
    inst = pipeline._telemetry.instruments()
    assert inst.tracer is None
    assert inst.pipeline_duration is None
    assert inst.logger is None


def test_non_recording_span_skips_attributes(run, otel_capture):
    """A sampled-out call still runs, attaches context, and records the histogram."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    provider = TracerProvider(sampler=ALWAYS_OFF)
    pipeline = Pipeline(
        "sampled-out",
        Retry(),
        tracer_provider=provider,
        meter_provider=otel_capture.meter_provider,
        logger_provider=otel_capture.logger_provider,
    )
    assert run(pipeline, lambda: trace.get_current_span().get_span_context().is_valid) is True
    assert otel_capture.metric_points(semconv.METRIC_PIPELINE_DURATION)


@pytest.mark.parametrize("name", ["", None, 3])
def test_pipeline_rejects_bad_name(name):
    """The name must be a non-empty string."""
    with pytest.raises(ValueError, match="name"):
        Pipeline(name)  # type: ignore[arg-type]


def test_pipeline_rejects_non_strategies():
    """Strategies must be Strategy instances."""
    with pytest.raises(ValueError, match=r"strategies\[1\]"):
        Pipeline("p", Retry(), object())  # type: ignore[arg-type]


def test_broken_telemetry_never_reaches_the_caller(run, fake_clock):
    """A meter provider whose instruments raise does not break or change the call's result."""
    from opentelemetry.sdk.metrics import MeterProvider

    class Exploding(MeterProvider):
        def get_meter(self, *args, **kwargs):
            meter = super().get_meter(*args, **kwargs)
            histogram = meter.create_histogram("x")

            def record(*_a, **_k):
                raise RuntimeError("exporter on fire")

            histogram.record = record  # type: ignore[method-assign]
            meter.create_histogram = lambda *a, **k: histogram  # type: ignore[method-assign]
            return meter

    pipeline = Pipeline("p", Retry(), clock=fake_clock, meter_provider=Exploding())
    assert run(pipeline, lambda: "ok") == "ok"
    run.raises(KeyError, pipeline, _raise_key_error)


def _raise_key_error() -> None:
    raise KeyError("mine")


def test_span_source_hook_records_onto_a_borrowed_span(run, fake_clock, otel_capture):
    """With the private _span_source hook the pipeline records onto that span, never ends it."""
    tracer = otel_capture.providers["tracer_provider"].get_tracer("t")
    pipeline = Pipeline("p", Retry(max_attempts=2), clock=fake_clock, **otel_capture.providers)
    outer = tracer.start_span("outer")
    pipeline._span_source = lambda: outer
    assert run(pipeline, lambda: 7) == 7
    assert [s.name for s in otel_capture.spans()] == []  # no span of its own, outer not ended
    outer.end()
    (span,) = otel_capture.spans()
    assert span.name == "outer"
    assert span.attributes[semconv.OUTCOME] == "success"
    assert span.attributes[semconv.ATTEMPTS] == 1
