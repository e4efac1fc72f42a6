"""The /reliability aggregation: fed by the core's telemetry, bounded, and off by default."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from otel_resilience import CircuitBreaker, Fallback, Pipeline, Retry, semconv
from otel_resilience.health import reliability
from otel_resilience.testing import FakeClock


@pytest.fixture
def stats(fake_clock: FakeClock) -> Iterator[reliability.ReliabilityStats]:
    """Aggregation enabled on the fake clock, disabled again afterwards."""
    yield reliability.enable(clock=fake_clock)
    reliability.disable()


def _down() -> None:
    raise ConnectionError


def test_counts_errors_retries_fallbacks_and_latency(stats, fake_clock, run):
    """Calls, failures, retries, fallbacks and quantiles per pipeline, sync and async."""
    flaky = Pipeline("flaky", Retry(max_attempts=2, base_delay=1.0), clock=fake_clock)
    safe = Pipeline("safe", Fallback(value="cached"), clock=fake_clock)
    with pytest.raises(ConnectionError):
        run(flaky, _down)  # one failed call, one retry
    for seconds in [0.01] * 98 + [2.0, 2.0]:
        run(flaky, fake_clock.advance, seconds)
    assert run(safe, _down) == "cached"
    found = stats.pipelines()
    five = found["flaky"]["5m"]
    assert (five["calls"], five["errors"], five["retries"]) == (101, 1, 1)
    assert five["error_rate"] == pytest.approx(1 / 101)
    assert 0.01 <= five["p50"] <= 0.0125
    assert 2.0 <= five["p99"] <= 2.5
    assert found["flaky"]["1h"]["calls"] == 101
    assert found["safe"]["5m"]["fallbacks"] == 1
    assert found["safe"]["5m"]["errors"] == 0


def test_windows_forget_old_calls(stats, fake_clock):
    """After 5 min the 5 min view is empty while the hour still counts; after 1 h both are."""
    pipeline = Pipeline("p", clock=fake_clock)
    pipeline.call(lambda: None)
    fake_clock.advance(301.0)
    view = stats.pipelines()["p"]
    assert (view["5m"]["calls"], view["1h"]["calls"]) == (0, 1)
    assert view["5m"]["p50"] is None
    fake_clock.advance(3600.0)
    assert stats.pipelines()["p"]["1h"]["calls"] == 0


def test_bounded_under_many_pipelines_and_calls(fake_clock):
    """Beyond max_pipelines names share "_other"; the buckets do not grow with traffic."""
    stats = reliability.ReliabilityStats(clock=fake_clock, max_pipelines=8)
    for i in range(2000):
        stats.record_call(f"p{i}", semconv.OUTCOME_SUCCESS, 0.001 * (i % 50))
        fake_clock.advance(1.0)
    names = stats.pipelines()
    assert len(names) == 9
    assert names["_other"]["1h"]["calls"] == 2000 - 8

    def size() -> int:
        rings = [ring for rings in stats._pipelines.values() for ring in rings]
        return sum(sys.getsizeof(slot) for ring in rings for slot in ring._slots)

    sizes = []
    for _ in range(3):
        for _ in range(20000):
            stats.record_call("p0", semconv.OUTCOME_FAILURE, 0.5)
            fake_clock.advance(0.5)
        sizes.append(size())
    assert sizes[0] == sizes[1] == sizes[2]
    assert len(stats.pipelines()) == 9


def test_forwards_to_the_sdk_when_one_records(stats, fake_clock, otel_capture):
    """With an SDK configured the pipeline's own metrics are still recorded, unchanged."""
    pipeline = Pipeline(
        "both", Retry(max_attempts=2, base_delay=0.0), clock=fake_clock, **otel_capture.providers
    )
    with pytest.raises(ConnectionError):
        pipeline.call(_down)
    points = otel_capture.metric_points(semconv.METRIC_PIPELINE_DURATION)
    assert sum(p.count for p in points) == 1
    retries = otel_capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: "retry"})
    assert sum(p.value for p in retries) == 1
    assert stats.pipelines()["both"]["5m"]["retries"] == 1


def test_disabled_leaves_the_call_path_untouched(fake_clock):
    """Off (the default) or after disable(): no wrapped instruments, nothing aggregated."""
    pipeline = Pipeline("quiet", clock=fake_clock)
    pipeline.call(lambda: None)
    inst = pipeline._telemetry.instruments()
    assert (inst.pipeline_duration, inst.events) == (None, None)
    stats = reliability.enable(clock=fake_clock)
    try:
        pipeline.call(lambda: None)
        assert pipeline._telemetry.instruments().pipeline_duration is not None
    finally:
        reliability.disable()
    pipeline.call(lambda: None)
    assert stats.pipelines()["quiet"]["5m"]["calls"] == 1
    assert pipeline._telemetry.instruments().pipeline_duration is None
    assert reliability.current() is None


def test_breakers_listed_with_state_and_failure_ratio(fake_clock):
    """Bound breakers are listed with their state and failure ratio over their window."""
    breaker = CircuitBreaker(name="ledger", minimum_calls=4, window=10, window_type="count")
    pipeline = Pipeline("ledger", breaker, clock=fake_clock)
    pipeline.call(lambda: None)
    with pytest.raises(ConnectionError):
        pipeline.call(_down)
    found = {b["name"]: b for b in reliability.breakers()}
    assert found["ledger"]["state"] == "closed"
    assert found["ledger"]["failure_ratio"] == pytest.approx(0.5)


def test_invalid_options_name_the_field():
    """max_pipelines and clock are validated at construction."""
    with pytest.raises(ValueError, match="max_pipelines"):
        reliability.ReliabilityStats(max_pipelines=0)
    with pytest.raises(ValueError, match="clock"):
        reliability.ReliabilityStats(clock=object())  # type: ignore[arg-type]


def test_a_broken_aggregation_never_fails_the_call(fake_clock, monkeypatch):
    """If recording into the aggregation raises, the call still returns its result."""
    stats = reliability.enable(clock=fake_clock)
    try:

        def boom(*args: object) -> None:
            raise RuntimeError("aggregation bug")

        monkeypatch.setattr(stats, "record_call", boom)
        monkeypatch.setattr(stats, "record_event", boom)
        pipeline = Pipeline("hostile", Retry(max_attempts=2, base_delay=0.0), clock=fake_clock)
        assert pipeline.call(_Once()) == "ok"
    finally:
        reliability.disable()


class _Once:
    """Fails once with ConnectionError, then returns "ok"."""

    def __init__(self) -> None:
        self.failed = False

    def __call__(self) -> str:
        if not self.failed:
            self.failed = True
            raise ConnectionError
        return "ok"
