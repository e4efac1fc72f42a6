"""Behaviours found broken in review, pinned so they stay fixed."""

from __future__ import annotations

import httpx
import pytest
from core_support import run_python

from otel_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Pipeline,
    Retry,
    RetryPolicy,
    semconv,
)

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
        resources = data.resource_metrics if data is not None else []
        scopes = [sm for rm in resources for sm in rm.scope_metrics]
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


def _down() -> None:
    raise ConnectionError


def _lookup_error() -> None:
    raise LookupError


def _verdict_on_exception(exc: BaseException) -> bool:
    if isinstance(exc, LookupError):
        raise KeyError("the predicate itself is broken")
    return True


def _verdict_on_result(result: object) -> bool:
    raise KeyError("the predicate itself is broken")


@pytest.mark.parametrize(
    ("option", "predicate", "probe"),
    [
        ("is_failure", _verdict_on_exception, _lookup_error),
        ("is_failure_result", _verdict_on_result, dict),
    ],
)
def test_broken_predicate_does_not_wedge_a_half_open_breaker(fake_clock, option, predicate, probe):
    """A verdict predicate that raises is no verdict: the slot is freed, the call unharmed."""
    breaker = CircuitBreaker(
        minimum_calls=2,
        window=2,
        window_type="count",
        break_duration=1.0,
        clock=fake_clock,
        **{option: predicate},
    )
    pipeline = Pipeline("p", breaker, clock=fake_clock)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            pipeline.call(_down)
    assert breaker.state is CircuitState.OPEN
    fake_clock.advance(1.0)
    for _ in range(3):  # each probe is admitted: none is rejected with CircuitOpenError
        if option == "is_failure":  # the call's own error goes on, not the predicate's
            with pytest.raises(LookupError) as info:
                pipeline.call(probe)
            assert not isinstance(info.value, KeyError)
        else:
            assert pipeline.call(probe) == {}
    assert breaker.state is CircuitState.HALF_OPEN


def test_growing_break_never_overflows(fake_clock):
    """Thousands of consecutive openings keep a finite, capped break."""
    breaker = CircuitBreaker(
        break_duration=1.0, break_duration_multiplier=2.0, max_break_duration=60.0
    )
    assert breaker.options.break_for(5000) == 60.0
    uncapped = CircuitBreaker(break_duration=1.0, break_duration_multiplier=10.0)
    assert uncapped.options.break_for(5000) < float("inf")


def test_breaker_uses_its_own_classifier(fake_clock):
    """A breaker does not reuse a classification made by a strategy with another classifier."""
    from otel_resilience import ClassificationRule, ErrorClassifier

    caller_fault = ErrorClassifier(
        rules=[ClassificationRule(types=(TimeoutError,), category="invalid_request")]
    )
    breaker = CircuitBreaker(
        minimum_calls=1, window=1, window_type="count", classifier=caller_fault, clock=fake_clock
    )
    pipeline = Pipeline("p", breaker, Retry(max_attempts=2, base_delay=0.0), clock=fake_clock)

    def timeout() -> None:
        raise TimeoutError

    with pytest.raises(TimeoutError):
        pipeline.call(timeout)
    assert breaker.state is CircuitState.CLOSED


def test_reset_forgets_calls_in_flight(fake_clock):
    """A failure from a call admitted before reset() does not count after it."""
    breaker = CircuitBreaker(minimum_calls=1, window=1, window_type="count", clock=fake_clock)
    pipeline = Pipeline("p", breaker, clock=fake_clock)

    def reset_then_fail() -> None:
        breaker.reset()
        raise ConnectionError

    with pytest.raises(ConnectionError):
        pipeline.call(reset_then_fail)
    assert breaker.state is CircuitState.CLOSED


def test_unbound_breaker_does_not_report_to_the_global_provider():
    """A breaker whose pipeline has an explicit meter provider reports only there."""
    out = run_python(
        SDK_SETUP
        + """
    install()
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from otel_resilience import CircuitBreaker, Pipeline
    own = InMemoryMetricReader()
    breaker = CircuitBreaker()
    Pipeline("explicit", breaker, meter_provider=MeterProvider(metric_readers=[own]))
    print(names()[0])
    """
    )
    assert "resilience.circuit_breaker.state" not in out


def test_shut_down_providers_are_not_kept_alive():
    """Pipelines and breakers do not keep meter providers alive after they are dropped."""
    import gc
    import weakref

    from otel_resilience.testing import OTelCapture

    refs = []
    for _ in range(5):
        capture = OTelCapture()
        Pipeline("p", CircuitBreaker(), **capture.providers).call(lambda: 1)
        refs.append(weakref.ref(capture.meter_provider))
        capture.shutdown()
        del capture
    gc.collect()
    assert sum(ref() is not None for ref in refs) == 0


def test_disabled_sdk_is_nothing_listening():
    """With OTEL_SDK_DISABLED the SDK's no-op tracer and meter are skipped entirely."""
    out = run_python(
        """
    import os
    os.environ["OTEL_SDK_DISABLED"] = "true"
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from otel_resilience import Pipeline
    p = Pipeline("off", tracer_provider=TracerProvider(), meter_provider=MeterProvider())
    inst = p._telemetry.instruments()
    print(inst.tracer, inst.pipeline_duration)
    """
    )
    assert out == "None None"


def test_exact_failure_ratio_opens(fake_clock):
    """14 failures in 25 calls reach a failure_ratio of 0.56 despite float rounding."""
    breaker = CircuitBreaker(
        failure_ratio=0.56, minimum_calls=25, window=25, window_type="count", clock=fake_clock
    )
    pipeline = Pipeline("p", breaker, clock=fake_clock)
    for _ in range(11):
        pipeline.call(lambda: "ok")
    for _ in range(14):
        with pytest.raises((ConnectionError, CircuitOpenError)):
            pipeline.call(_down)
    assert breaker.state is CircuitState.OPEN


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda: Retry(backoff=None), "backoff"),
        (lambda: Retry(retry_on=5), "retry_on"),
        (lambda: Retry(policies=[1]), "policies"),
        (lambda: Retry(random=3), "random"),
        (lambda: Retry(retry_if_result="x"), "retry_if_result"),
        (lambda: Retry(classifier=object()), "classifier"),
        (lambda: Retry(clock=object()), "clock"),
        (lambda: Retry(respect_retry_after="no"), "respect_retry_after"),
        (
            lambda: Retry(max_delay=1.0, policies={"timeout": RetryPolicy(base_delay=5)}),
            "max_delay",
        ),
        (lambda: CircuitBreaker(is_failure=1), "is_failure"),
        (lambda: CircuitBreaker(is_failure_result=1), "is_failure_result"),
        (lambda: CircuitBreaker(classifier="x"), "classifier"),
        (lambda: Pipeline("p", clock=1), "clock"),
        (lambda: Pipeline("p", tracer_provider="x"), "tracer_provider"),
    ],
)
def test_garbage_arguments_fail_fast(factory, field):
    """Every constructor argument is checked, with a ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        factory()


def test_empty_retry_on_retries_nothing(run, flaky, fake_clock):
    """retry_on=[] is an explicit 'retry nothing', not 'use the default'."""
    dep = flaky(ConnectionError())
    run.raises(ConnectionError, Pipeline("p", Retry(retry_on=[]), clock=fake_clock), dep)
    assert dep.calls == 1


def test_fake_clock_refuses_nan():
    """FakeClock rejects NaN as a start or a step."""
    from otel_resilience.testing import FakeClock

    with pytest.raises(ValueError, match="start"):
        FakeClock(float("nan"))
    with pytest.raises(ValueError, match="seconds"):
        FakeClock().advance(float("nan"))
