"""Shadow: the caller gets the primary's outcome at once; shadow calls are bounded and compared."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from otel_resilience import Pipeline, semconv
from otel_resilience.shadow import Shadow, json_structure_equal, text_similarity
from otel_resilience.testing import FakeClock


def test_slow_failing_candidate_never_delays_or_fails_the_primary(run, otel_capture, caplog):
    """Every call returns the primary's answer while the candidates are still blocked; the
    primary's durations are those without a shadow; candidate errors log nothing at error level."""
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    gate = threading.Event()

    def candidate(x: int) -> int:
        gate.wait(30)
        raise RuntimeError("candidate down")

    def primary(x: int) -> int:
        clock.advance(0.01)
        return x * 2

    shadow = Shadow(candidate=candidate, max_in_flight=4)
    pipeline = Pipeline("p", shadow, clock=clock, **otel_capture.providers)
    try:
        answers = [run(pipeline, primary, i) for i in range(20)]
        assert answers == [i * 2 for i in range(20)]
        stats = shadow.stats
        assert stats.sampled == 20
        assert stats.dropped == 16  # 4 slots, all held by blocked candidates
        assert stats.completed == 0  # the primary answered while every candidate still ran
    finally:
        gate.set()
    assert shadow.drain(10)
    stats = shadow.stats
    assert (stats.completed, stats.failed, stats.compared) == (4, 4, 0)
    (point,) = otel_capture.metric_points(semconv.METRIC_PIPELINE_DURATION)
    assert point.count == 20
    assert point.sum == pytest.approx(20 * 0.01)
    assert point.max == pytest.approx(0.01)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    dropped = otel_capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.EVENT: semconv.EVENT_SHADOW_DROPPED}
    )
    assert sum(p.value for p in dropped) == 16
    spans = otel_capture.spans(semconv.SPAN_SHADOW)
    assert len(spans) == 4
    assert {s.attributes[semconv.ERROR_TYPE] for s in spans} == {"RuntimeError"}


def test_comparison_counts_equal_ground_truth(run, otel_capture):
    """compared / agreed match what the inputs imply; calls the primary failed are not compared."""
    inputs = list(range(30))

    def primary(x: int) -> int:
        if x == 7:
            raise ValueError("primary failed")
        return x

    def candidate(x: int) -> int:
        return x if x % 3 else x + 1

    shadow = Shadow(candidate=candidate, max_in_flight=64)
    pipeline = Pipeline("p", shadow, **otel_capture.providers)
    for x in inputs:
        if x == 7:
            with pytest.raises(ValueError, match="primary failed"):
                run(pipeline, primary, x)
        else:
            assert run(pipeline, primary, x) == x
    assert shadow.drain(10)
    truth = [x for x in inputs if x != 7]
    agreeing = [x for x in truth if candidate(x) == x]
    stats = shadow.stats
    assert (stats.sampled, stats.dropped, stats.completed) == (30, 0, 30)
    assert stats.compared == len(truth)
    assert stats.agreed == len(agreeing)
    assert stats.agreement == pytest.approx(len(agreeing) / len(truth))
    (scores,) = otel_capture.metric_points(semconv.METRIC_VARIANT_AGREEMENT)
    assert (scores.count, scores.sum) == (len(truth), len(agreeing))
    durations = otel_capture.metric_points(
        semconv.METRIC_VARIANT_DURATION, **{semconv.VARIANT: semconv.VARIANT_PRIMARY}
    )
    assert sum(p.count for p in durations) == 30


def test_shadow_span_is_linked_not_a_child(otel_capture):
    """Each shadow call is a span in its own trace, linked to the call's span."""
    shadow = Shadow(candidate=lambda: "b", name="v2")
    pipeline = Pipeline("p", shadow, **otel_capture.providers)
    assert pipeline.call(lambda: "a") == "a"
    assert shadow.drain(10)
    call = otel_capture.span("p")
    span = otel_capture.span(semconv.SPAN_SHADOW)
    assert span.parent is None
    assert span.context.trace_id != call.context.trace_id
    assert [link.context.span_id for link in span.links] == [call.context.span_id]
    assert span.attributes[semconv.VARIANT] == "v2"
    assert span.attributes[semconv.SHADOW_AGREEMENT] == 0.0
    assert call.attributes[semconv.SHADOW_SAMPLED] is True
    assert call.attributes[semconv.SHADOW_DROPPED] is False


def test_async_shadow_tasks_are_bounded_and_time_out(otel_capture, caplog):
    """Async candidates run as tasks: at most max_in_flight, cancelled after timeout, and
    nothing is logged at warning level or above (asyncio included)."""
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    started: list[int] = []

    async def candidate(x: int) -> int:
        started.append(x)
        await clock.asleep(100.0)
        return x

    async def primary(x: int) -> int:
        return x

    shadow = Shadow(candidate=candidate, max_in_flight=2, timeout=5.0)
    pipeline = Pipeline("p", shadow, clock=clock, **otel_capture.providers)

    async def main() -> list[int]:
        out = [await pipeline.acall(primary, i) for i in range(5)]
        assert await shadow.adrain(10)
        return out

    assert asyncio.run(main()) == list(range(5))
    stats = shadow.stats
    assert (stats.sampled, stats.dropped, stats.timed_out, stats.failed) == (5, 3, 2, 2)
    assert started == [0, 1]
    assert clock.monotonic() <= 10.0  # each cancelled 5 s after it started, not at 100 s
    timeouts = otel_capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.EVENT: semconv.EVENT_SHADOW_TIMEOUT}
    )
    assert sum(p.value for p in timeouts) == 2
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_percent_with_key_is_sticky_and_near_the_share():
    """With a key, the same keys are shadowed on every pass, about percent of them."""
    seen: list[str] = []
    lock = threading.Lock()

    def candidate(user: str) -> None:
        with lock:
            seen.append(user)

    shadow = Shadow(candidate=candidate, percent=30, key=lambda user: user, max_in_flight=64)
    pipeline = Pipeline("p", shadow)
    users = [f"user-{i}" for i in range(2000)]
    passes = []
    for _ in range(2):
        for user in users:
            pipeline.call(lambda u: u, user)
            assert shadow.drain(10)  # one at a time: no shadow call is dropped
        with lock:
            passes.append(set(seen))
            seen.clear()
    assert passes[0] == passes[1]
    assert 520 <= len(passes[0]) <= 680
    assert Pipeline("q", Shadow(candidate=candidate, percent=0)).call(lambda: 1) == 1


def test_hostile_compare_and_key_do_not_fail_the_call():
    """A compare or key function that raises is counted, never raised."""

    def bad(*_: Any) -> Any:
        raise ZeroDivisionError

    shadow = Shadow(candidate=lambda: 1, compare=bad, key=bad, percent=50)
    pipeline = Pipeline("p", shadow)
    for _ in range(50):
        assert pipeline.call(lambda: 1) == 1
    assert shadow.drain(10)
    stats = shadow.stats
    assert stats.compare_errors == stats.completed > 0
    assert stats.compared == 0


def test_compare_helpers():
    """Text similarity scores 0..1; JSON structure ignores values but not shape."""
    assert text_similarity("hello world", "hello world") == 1.0
    assert 0.5 < text_similarity("hello world", "hello wordl") < 1.0
    assert json_structure_equal('{"a": 1, "b": [1, 2]}', {"b": [5, 6], "a": 9})
    assert not json_structure_equal({"a": 1}, {"a": "1"})
    assert not json_structure_equal({"a": [1]}, {"a": [1, 2]})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"candidate": None}, "candidate"),
        ({"percent": 101}, "percent"),
        ({"percent": True}, "percent"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"timeout": 0}, "timeout"),
        ({"compare": 3}, "compare"),
        ({"key": "user"}, "key"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_options_name_the_field(kwargs, field):
    """Invalid configuration fails at construction with a ValueError naming the field."""
    options = {"candidate": lambda: 1, **kwargs}
    with pytest.raises(ValueError, match=field):
        Shadow(**options)
