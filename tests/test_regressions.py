"""Behaviours found broken in review, pinned so they stay fixed."""

from __future__ import annotations

import httpx
import pytest
from core_support import run_python

from otel_resilience import CircuitBreaker, CircuitOpenError, CircuitState, Pipeline, Retry, semconv

REQUEST = httpx.Request("GET", "http://127.0.0.1:9/")


SDK_SETUP = """
    from opentelemetry import _logs, metrics
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    reader = InMemoryMetricReader()
    logs = InMemoryLogRecordExporter()
    def install():
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        lp = LoggerProvider()
        lp.add_log_record_processor(SimpleLogRecordProcessor(logs))
        _logs.set_logger_provider(lp)
    def names():
        data = reader.get_metrics_data()
        scopes = [sm for rm in data.resource_metrics for sm in rm.scope_metrics]
        found = {m.name for sm in scopes for m in sm.metrics}
        return sorted(found), [r.log_record.event_name for r in logs.get_finished_logs()]
"""


def test_sdk_configured_before_import_records_metrics_and_logs():
    """Global SDK providers installed before otel_resilience is imported are used."""
    out = run_python(
        SDK_SETUP
        + """
    install()
    from otel_resilience import CircuitBreaker, Pipeline
    breaker = CircuitBreaker()
    p = Pipeline("early", breaker)
    p.call(lambda: 1)
    breaker.isolate()
    print(names())
    """
    )
    assert "resilience.pipeline.duration" in out
    assert "resilience.circuit_breaker.state" in out
    assert "resilience.circuit_breaker.state_change" in out


def test_state_gauge_for_breaker_bound_before_sdk():
    """A breaker bound before the SDK is configured still appears in the state gauge."""
    out = run_python(
        SDK_SETUP
        + """
    from otel_resilience import CircuitBreaker, Pipeline
    p = Pipeline("module-level", CircuitBreaker())
    install()
    print(names()[0])
    """
    )
    assert "resilience.circuit_breaker.state" in out


def test_recovered_result_is_a_success(run, flaky, fake_clock, otel_capture):
    """A 503 then a 200 ends as a success, not as a failure with error.type '200'."""
    bad = httpx.Response(503, request=REQUEST)
    good = httpx.Response(200, request=REQUEST)
    retry = Retry(retry_if_result=lambda r: r.status_code >= 500, base_delay=0.0)
    pipeline = Pipeline("p", retry, clock=fake_clock, **otel_capture.providers)
    assert run(pipeline, flaky(bad, result=good)) is good
    span = otel_capture.span("p")
    assert span.attributes[semconv.OUTCOME] == "success"
    assert semconv.ERROR_TYPE not in span.attributes


def test_count_window_accepts_integral_float_and_checks_minimum_calls():
    """window_type='count' works with the default window; minimum_calls above it is refused."""
    assert CircuitBreaker(window_type="count").options.window == 30.0
    with pytest.raises(ValueError, match="minimum_calls"):
        CircuitBreaker(window_type="count", window=5, minimum_calls=10)


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda: Retry(retry_on=["timout"]), "retry_on"),
        (
            lambda: Retry(policies={"ratelimited": __import__("otel_resilience").RetryPolicy()}),
            "policies",
        ),
        (lambda: CircuitBreaker(failure_categories=["timeot"]), "failure_categories"),
        (lambda: CircuitBreaker(break_duration=10, max_break_duration=5), "max_break_duration"),
        (lambda: Retry(base_delay=5, max_delay=1), "max_delay"),
    ],
)
def test_misconfigurations_fail_fast(factory, field):
    """Misspelt categories and inverted caps raise ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        factory()


def test_manual_transition_counts_under_the_pipeline_name(fake_clock, otel_capture):
    """isolate() outside a call is counted under the breaker's pipeline, not its name."""
    breaker = CircuitBreaker(name="db", clock=fake_clock)
    Pipeline("orders", breaker, **otel_capture.providers)
    breaker.isolate()
    (point,) = otel_capture.metric_points(semconv.METRIC_EVENTS)
    assert point.attributes[semconv.PIPELINE_NAME] == "orders"


def test_inner_rejection_is_no_failure_for_an_outer_breaker(run, fake_clock):
    """Stacked breakers: the inner one's CircuitOpenError does not trip the outer one."""
    inner = CircuitBreaker(name="inner", clock=fake_clock)
    inner.isolate()
    outer = CircuitBreaker(
        name="outer", minimum_calls=1, window=1, window_type="count", clock=fake_clock
    )
    pipeline = Pipeline("p", outer, inner, clock=fake_clock)
    for _ in range(3):
        run.raises(CircuitOpenError, pipeline, lambda: "ok")
    assert outer.state is CircuitState.CLOSED


def test_integer_delays_come_out_as_floats(run, flaky, fake_clock):
    """Delays are floats even when configured with ints."""
    run(
        Pipeline("p", Retry(base_delay=1, max_delay=10, jitter=False), clock=fake_clock),
        flaky(TimeoutError()),
    )
    assert fake_clock.sleeps == [1.0]
    assert isinstance(fake_clock.sleeps[0], float)
