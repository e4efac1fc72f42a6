"""Every name Shadow, Rollout, CanaryAnalysis and ABTest emit is a documented semconv constant."""

from __future__ import annotations

import re
import threading

from otel_resilience import ABTest, CanaryAnalysis, Pipeline, Rollout, Shadow, semconv
from otel_resilience.testing import FakeClock
from tests.test_telemetry_names import DOC, ENUMERATED, OTEL_OWNED, semconv_values

SAFE_ENUMERATED = {*ENUMERATED, semconv.VARIANT, semconv.ROLLOUT_REASON}


def _names(capture) -> set[str]:
    names: set[str] = set()

    def add(attributes) -> None:
        for key, value in (attributes or {}).items():
            names.add(key)
            if key in SAFE_ENUMERATED and value not in ("v2", "b", "control", "exp"):
                names.add(str(value))

    for span in capture.spans():
        if span.name == semconv.SPAN_SHADOW:  # call spans carry the pipeline's own name
            names.add(span.name)
        add(span.attributes)
        for event in span.events:
            names.add(event.name)
            add(event.attributes)
    for record in capture.logs():
        names.add(record.log_record.event_name)
        add(record.log_record.attributes)
    for metric, points in capture.metrics().items():
        names.add(metric)
        for point in points:
            add(point.attributes)
    return names - OTEL_OWNED


def test_emitted_names_are_documented_constants(otel_capture):
    """Drive every telemetry path of the four strategies; each name is in semconv and the docs."""
    clock = FakeClock()
    providers = otel_capture.providers

    def down(*_: object) -> None:
        raise ConnectionError

    gate = threading.Event()

    def blocked() -> None:
        gate.wait(30)
        raise ConnectionError

    shadow = Shadow(candidate=blocked, name="v2", max_in_flight=1)
    shadowed = Pipeline("shadowed", shadow, clock=clock, **providers)
    for _ in range(3):
        shadowed.call(lambda: 1)  # the second and third find the only slot taken: dropped
    gate.set()
    assert shadow.drain(10)
    canary = CanaryAnalysis(candidate=lambda: 1, name="v2", min_calls=1)
    Pipeline("canaried", canary, clock=clock, **providers).call(lambda: 1)
    assert canary.drain(10)
    rollout = Rollout(candidate=down, schedule=[(0, 1.0)], min_calls=1, name="v2")
    rolled = Pipeline("rolled", rollout, clock=clock, **providers)
    rolled.call(lambda: 1)
    rolled.call(lambda: 1)
    ab = ABTest(variants={"b": lambda: "bb"}, metric=len, name="exp")
    tested = Pipeline("tested", ab, clock=clock, **providers)
    for _ in range(20):
        tested.call(lambda: "a")
    names = _names(otel_capture)
    expected = {
        semconv.SPAN_SHADOW,
        semconv.SHADOW_DROPPED,
        semconv.SHADOW_AGREEMENT,
        semconv.EVENT_SHADOW_FAILED,
        semconv.EVENT_SHADOW_DROPPED,
        semconv.LOG_EVENT_ROLLOUT_ROLLED_BACK,
        semconv.ROLLOUT_CANDIDATE_FAILED,
        semconv.METRIC_ROLLOUT_SHARE,
        semconv.METRIC_VARIANT_DURATION,
        semconv.METRIC_VARIANT_AGREEMENT,
        semconv.METRIC_VARIANT_METRIC,
        semconv.AB_TEST_NAME,
    }
    assert expected <= names
    assert names - semconv_values() == set()
    documented = set(re.findall(r"`([^`]+)`", DOC.read_text()))
    assert names - documented == set()
