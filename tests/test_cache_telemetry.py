"""ResponseCache telemetry: status, counters, stale outcome, size gauge, no spans on hits."""

from __future__ import annotations

from typing import Any

import pytest
from core_support import counted
from opentelemetry.trace import StatusCode

from otel_resilience import Pipeline, semconv
from otel_resilience.cache import ResponseCache
from otel_resilience.testing import FakeClock


def events(capture: Any, event: str) -> int:
    """The resilience.events count of ``event`` for the cache strategy."""
    points = capture.metric_points(
        semconv.METRIC_EVENTS,
        **{semconv.EVENT: event, semconv.STRATEGY: semconv.STRATEGY_CACHE},
    )
    return sum(p.value for p in points)


def test_status_and_counters(run, otel_capture):
    """Each call's span says miss, hit or bypass; cache_hit/cache_miss count the same."""
    cache = ResponseCache(key=lambda x: None if x < 0 else x)
    pipeline = Pipeline("svc", cache, clock=FakeClock(), **otel_capture.providers)
    fn = counted()
    for arg in (1, 1, -1):
        run(pipeline, fn, arg)
    statuses = [s.attributes[semconv.CACHE_STATUS] for s in otel_capture.spans("svc")]
    assert statuses == ["miss", "hit", "bypass"]
    outcomes = {s.attributes[semconv.OUTCOME] for s in otel_capture.spans("svc")}
    assert outcomes == {semconv.OUTCOME_SUCCESS}
    assert (events(otel_capture, "cache_hit"), events(otel_capture, "cache_miss")) == (1, 1)


def test_stale_served_is_a_fallback(run, otel_capture):
    """A stale answer: status stale, outcome fallback, cache_stale_served counted, no error."""
    clock = FakeClock()
    cache = ResponseCache(policy="ttl", ttl=1, stale_if_error=10)
    pipeline = Pipeline("svc", cache, clock=clock, **otel_capture.providers)
    fn = counted("old", ConnectionError("down"))
    run(pipeline, fn)
    clock.advance(2)
    assert run(pipeline, fn) == "old"
    span = otel_capture.spans("svc")[-1]
    assert span.attributes[semconv.CACHE_STATUS] == semconv.CACHE_STATUS_STALE
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_FALLBACK
    assert span.status.status_code is StatusCode.UNSET  # served: not an error
    assert events(otel_capture, semconv.EVENT_CACHE_STALE_SERVED) == 1
    durations = otel_capture.metric_points(
        semconv.METRIC_PIPELINE_DURATION, **{semconv.OUTCOME: semconv.OUTCOME_FALLBACK}
    )
    assert sum(p.count for p in durations) == 1
    assert cache.stats().stale_served == 1


def test_a_hit_opens_no_client_span(run, otel_capture):
    """A hit never calls the dependency, so its instrumented client makes no span."""
    tracer = otel_capture.tracer_provider.get_tracer("client")
    cache = ResponseCache()
    pipeline = Pipeline("svc", cache, clock=FakeClock(), **otel_capture.providers)

    def fetch(x: int) -> int:
        with tracer.start_as_current_span("GET /x"):
            return x

    assert run(pipeline, fetch, 1) == 1
    assert run(pipeline, fetch, 1) == 1
    assert len(otel_capture.spans("GET /x")) == 1
    assert len(otel_capture.spans("svc")) == 2
    hit = otel_capture.spans("svc")[1]
    assert hit.attributes[semconv.ATTEMPTS] == 0


def test_size_gauge(otel_capture):
    """resilience.cache.size reports the entries held, per cache name."""
    cache = ResponseCache(name="prices")
    pipeline = Pipeline("svc", cache, clock=FakeClock(), **otel_capture.providers)
    for arg in (1, 2, 3, 3):
        pipeline.call(abs, arg)

    def size() -> list[int]:
        points = otel_capture.metric_points(
            semconv.METRIC_CACHE_SIZE, **{semconv.CACHE_NAME: "prices"}
        )
        return [p.value for p in points]

    assert size() == [3]
    cache.invalidate_all()
    assert size() == [0]


def test_name_defaults_to_the_pipeline():
    """An unnamed cache takes its pipeline's name."""
    cache = ResponseCache()
    assert cache.name == "cache"
    Pipeline("prices", cache)
    assert cache.name == "prices"
    assert "prices" in repr(cache)


@pytest.mark.parametrize("bad", ["span", "counter"])
def test_telemetry_names_are_constants(bad, otel_capture):
    """Everything the cache emits is a documented semconv constant."""
    from test_telemetry_names import semconv_values

    clock = FakeClock()
    cache = ResponseCache(policy="ttl", ttl=1, stale_if_error=5)
    pipeline = Pipeline("svc", cache, clock=clock, **otel_capture.providers)
    fn = counted("a", ConnectionError())
    pipeline.call(fn)
    pipeline.call(fn)
    clock.advance(2)
    pipeline.call(fn)
    names: set[str] = set()
    if bad == "span":
        for span in otel_capture.spans():
            names.update(span.attributes)
            names.add(str(span.attributes[semconv.CACHE_STATUS]))
    else:
        for metric, points in otel_capture.metrics().items():
            names.add(metric)
            for p in points:
                names.update(p.attributes)
                if semconv.EVENT in p.attributes:
                    names.add(p.attributes[semconv.EVENT])
    assert names - semconv_values() - {"svc", "success", "fallback", "cache"} == set()
    assert semconv.CACHE_STATUS in names or semconv.METRIC_CACHE_SIZE in names
