"""Names emitted by ErrorTracker, Budget and profile are semconv constants, all documented."""

from __future__ import annotations

from test_telemetry_names import DOC, OTEL_OWNED, semconv_values

from otel_resilience import Budget, ErrorTracker, Pipeline, semconv
from otel_resilience.profiling import Profiler


def test_ops_names_are_constants_and_documented(fake_clock, otel_capture) -> None:
    """Every name the tracker, a budget and a profile emit is in semconv and docs."""
    tracker = ErrorTracker(**otel_capture.providers)
    tracker.capture(ValueError("boom"))
    budget = Budget(max_duration=1, max_cpu=10, max_memory=1 << 40, mode="record")
    Pipeline("b", budget, clock=fake_clock, **otel_capture.providers).call(fake_clock.advance, 2)
    prof = Profiler("p", clock=fake_clock, tracer_provider=otel_capture.tracer_provider)
    with prof, prof.phase("load"):
        pass
    names: set[str] = set()
    for span in otel_capture.spans():
        names.update(span.attributes)
        names.update(str(v) for k, v in span.attributes.items() if k == semconv.PROFILE_PHASE)
    for record in otel_capture.logs():
        names.add(record.log_record.event_name)
        names.update(record.log_record.attributes)
    for metric, points in otel_capture.metrics().items():
        names.add(metric)
        for point in points:
            names.update(point.attributes)
            names.update(
                str(v)
                for k, v in point.attributes.items()
                if k in (semconv.EVENT, semconv.STRATEGY, semconv.BUDGET_RESOURCE)
            )
    names -= OTEL_OWNED | {"load", "total", "b"}
    for expected in (
        semconv.LOG_EVENT_ERROR,
        semconv.METRIC_ERRORS,
        semconv.METRIC_BUDGET_USAGE,
        semconv.EVENT_BUDGET_EXCEEDED,
        semconv.PROFILE_CPU,
        semconv.BUDGET_MEMORY,
    ):
        assert expected in names
    assert names - semconv_values() == set()
    assert f"`{semconv.ERROR_BREADCRUMBS}`" in DOC.read_text()
