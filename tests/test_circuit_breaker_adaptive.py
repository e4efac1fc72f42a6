"""Adaptive CircuitBreaker: the opening ratio follows the dependency; auto slow-call limit."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_resilience import CircuitState, Pipeline, semconv
from otel_resilience.circuit_breaker import (
    AdaptiveThreshold,
    CircuitBreaker,
    CircuitBreakerRegistry,
)
from otel_resilience.circuit_breaker._adaptive import AdaptiveState, Extras, LatencySamples
from otel_resilience.circuit_breaker.adaptive import adaptive_ratio
from otel_resilience.circuit_breaker.options import BreakerOptions
from otel_resilience.testing import FakeClock


def drive(pipeline: Pipeline, outcomes: list[bool], clock: FakeClock, took: float = 0.01) -> int:
    """Call once per outcome (True: fails), each taking ``took``; the number of rejections."""
    rejected = 0

    def fn(fail: bool) -> str:
        clock.advance(took)
        if fail:
            raise ConnectionError("down")
        return "ok"

    for fail in outcomes:
        try:
            pipeline.call(fn, fail)
        except ConnectionError:
            pass
        except Exception:
            rejected += 1
    return rejected


def breaker(clock: FakeClock, adaptive: AdaptiveThreshold | None, **kw: Any) -> CircuitBreaker:
    """A count-window breaker of 20 calls."""
    opts: dict[str, Any] = {
        "minimum_calls": 20,
        "window": 20,
        "window_type": "count",
        "break_duration": 1000.0,
        "clock": clock,
    }
    opts.update(kw)
    return CircuitBreaker(adaptive=adaptive, **opts)


def noisy(blocks: int) -> list[bool]:
    """15% failures, in bursts: 5 in a row then 1 more, per 40 calls (a 20-call window may
    hold 25% failures)."""
    block = [i < 5 or i == 20 for i in range(40)]
    return block * blocks


def test_stable_but_noisy_dependency_relaxes_the_ratio():
    """Bursty 15% noise opens a static 0.2 breaker; the adaptive one relaxes and stays closed."""
    clock = FakeClock()
    static = breaker(clock, None, failure_ratio=0.2)
    drive(Pipeline("static", static, clock=clock), noisy(25), clock)
    assert static.state is CircuitState.OPEN

    clock = FakeClock()
    spec = AdaptiveThreshold(min_ratio=0.1, max_ratio=0.6, warmup_calls=20)
    adaptive = breaker(clock, spec, failure_ratio=0.2)
    rejected = drive(Pipeline("adaptive", adaptive, clock=clock), noisy(25), clock)
    assert rejected == 0
    assert adaptive.state is CircuitState.CLOSED
    assert adaptive.threshold == pytest.approx(0.3)  # noise_multiplier 2 x 15%


def test_low_long_window_success_rate_tightens_the_ratio():
    """A dependency failing 40% of calls for long never opens a static 0.5 breaker; the
    adaptive one tightens to 0.375 and opens."""
    steady = [i % 5 in (0, 2) for i in range(400)]  # exactly 40%, evenly spread
    clock = FakeClock()
    static = breaker(clock, None, failure_ratio=0.5)
    drive(Pipeline("static", static, clock=clock), steady, clock)
    assert static.state is CircuitState.CLOSED

    clock = FakeClock()
    adaptive = breaker(clock, AdaptiveThreshold(warmup_calls=20), failure_ratio=0.5)
    drive(Pipeline("adaptive", adaptive, clock=clock), steady, clock)
    assert adaptive.state is CircuitState.OPEN
    # edge = max(0.5, 2 x 0.2) = 0.5; 0.5 x (1 - 0.4) / (1 - 0.2) = 0.375
    assert adaptive.threshold == pytest.approx(0.375, abs=0.02)


def test_growing_latency_tightens_the_ratio(otel_capture):
    """Recent latency 10x its baseline moves the ratio toward min_ratio; the gauge shows it."""
    clock = FakeClock()
    spec = AdaptiveThreshold(min_ratio=0.1, max_ratio=0.9, warmup_calls=20)
    cb = breaker(clock, spec, failure_ratio=0.5, name="db")
    pipeline = Pipeline("svc", cb, clock=clock, **otel_capture.providers)
    drive(pipeline, [False] * 200, clock, took=0.1)
    assert cb.threshold == pytest.approx(0.5)
    drive(pipeline, [False] * 60, clock, took=1.0)
    assert 0.1 <= cb.threshold < 0.25
    (point,) = otel_capture.metric_points(semconv.METRIC_CIRCUIT_BREAKER_THRESHOLD)
    assert point.attributes == {semconv.CIRCUIT_BREAKER_NAME: "db"}
    assert point.value == pytest.approx(cb.threshold)


def test_static_breaker_reports_no_threshold_gauge(otel_capture):
    """Only adaptive breakers join the threshold gauge; their threshold is failure_ratio."""
    cb = CircuitBreaker(failure_ratio=0.3)
    Pipeline("svc", cb, **otel_capture.providers).call(lambda: "ok")
    assert otel_capture.metric_points(semconv.METRIC_CIRCUIT_BREAKER_THRESHOLD) == []
    assert cb.threshold == 0.3


def test_warm_up_keeps_the_configured_ratio():
    """Before warmup_calls outcomes the ratio is failure_ratio, whatever they were."""
    state = AdaptiveState(AdaptiveThreshold(warmup_calls=50), 0.5, 10)
    for i in range(49):
        state.record(float(i), True, 0.1)
    assert state.current(49.0) == 0.5
    state.record(49.0, True, 0.1)
    assert state.current(49.0) == 0.1  # all failing: tightened to min_ratio


def test_long_window_forgets_old_outcomes():
    """Outcomes older than long_window stop counting: the ratio goes back to failure_ratio."""
    state = AdaptiveState(AdaptiveThreshold(long_window=60.0, warmup_calls=10), 0.5, 10)
    for i in range(20):
        state.record(0.0, i % 2 == 0, None)
    assert state.current(0.0) < 0.5
    state.record(1000.0, False, None)
    assert state.current(1000.0) == 0.5  # one outcome in the window: warming up again


ratios = st.floats(min_value=0.01, max_value=1.0)
anything = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def specs(draw: Any) -> tuple[AdaptiveThreshold, float]:
    """A valid AdaptiveThreshold and a failure_ratio within its bounds."""
    lo, hi = sorted((draw(ratios), draw(ratios)))
    spec = AdaptiveThreshold(
        min_ratio=lo,
        max_ratio=hi,
        warmup_calls=draw(st.integers(1, 50)),
        noise_limit=draw(st.floats(0.01, 0.99)),
        noise_multiplier=draw(st.floats(1.0, 100.0)),
        latency_tolerance=draw(st.floats(1.0, 100.0)),
        baseline_calls=draw(st.integers(2, 5000)),
    )
    return spec, draw(st.floats(lo, hi))


@given(specs(), anything, anything, anything)
def test_rule_stays_within_bounds(spec_base, failure_rate, baseline, recent):
    """adaptive_ratio is always within [min_ratio, max_ratio], whatever its inputs."""
    spec, base = spec_base
    ratio = adaptive_ratio(spec, base, failure_rate, baseline, recent)
    assert spec.min_ratio <= ratio <= spec.max_ratio


@given(
    specs(),
    st.lists(
        st.tuples(
            st.floats(0.0, 1000.0),
            st.booleans(),
            st.one_of(st.none(), st.floats(min_value=0.0, allow_infinity=True)),
        ),
        max_size=300,
    ),
)
def test_learned_ratio_stays_within_bounds(spec_base, outcomes):
    """Whatever sequence of outcomes, times and durations, the learned ratio stays in bounds."""
    spec, base = spec_base
    state = AdaptiveState(spec, base, 10)
    now = 0.0
    for step, failed, duration in outcomes:
        now += step
        state.record(now, failed, duration)
        assert spec.min_ratio <= state.current(now) <= spec.max_ratio


def test_auto_slow_calls_are_judged_against_own_latency(run):
    """With slow_call_duration="auto", calls above p99 x factor of recent calls are slow."""
    clock = FakeClock()
    cb = CircuitBreaker(
        minimum_calls=10,
        window=10,
        window_type="count",
        slow_call_duration="auto",
        slow_call_ratio=0.5,
        slow_call_factor=2.0,
        break_duration=30.0,
        clock=clock,
    )
    pipeline = Pipeline("svc", cb, clock=clock)

    def taking(seconds: float):
        def fn() -> str:
            clock.advance(seconds)
            return "ok"

        return fn

    for _ in range(150):  # warm-up and baseline: 0.1 s each
        run(pipeline, taking(0.1))
    for _ in range(4):
        run(pipeline, taking(0.19))  # under 2 x p99 = 0.2 s: not slow
    assert cb.state is CircuitState.CLOSED
    for _ in range(5):
        run(pipeline, taking(0.5))  # slow: 5 of the last 10
    assert cb.state is CircuitState.OPEN


def test_auto_limit_needs_a_warm_up():
    """Nothing is slow before 100 durations were seen; then the limit is p99 x factor."""
    samples = LatencySamples(0.99, 2.0)
    for _ in range(99):
        samples.add(1.0)
    assert samples.limit == math.inf
    samples.add(1.0)
    assert samples.limit == pytest.approx(2.0)


def test_only_fast_successes_teach_the_auto_limit():
    """Failures (however fast) and slow calls of the closed state leave the limit alone."""
    ext = Extras(BreakerOptions(slow_call_duration="auto", slow_call_percentile=0.5), False)
    assert ext.samples is not None
    for _ in range(100):
        ext.observe(0.0, False, False, 0.1)
    for _ in range(100):
        ext.observe(0.0, True, False, 0.001)  # connection refused at once
        ext.observe(0.0, False, True, 9.0)  # judged slow
    assert ext.samples.limit == pytest.approx(0.2)  # the median success x 2


def test_lasting_latency_shift_is_learned_through_probes():
    """After the dependency got slower for good, half-open probes teach the new normal: the
    breaker closes again after a few breaks instead of staying open forever."""
    clock = FakeClock()
    cb = CircuitBreaker(
        minimum_calls=10,
        window=10,
        window_type="count",
        slow_call_duration="auto",
        slow_call_ratio=0.5,
        break_duration=10.0,
        clock=clock,
    )
    pipeline = Pipeline("svc", cb, clock=clock)
    took = [0.1]

    def fn() -> str:
        clock.advance(took[0])
        return "ok"

    for _ in range(150):
        pipeline.call(fn)
    took[0] = 1.0  # the new normal
    breaks = 0
    for _ in range(200):
        if cb.state is CircuitState.CLOSED and breaks:
            break
        try:
            pipeline.call(fn)
        except Exception:
            breaks += 1
            clock.advance(10.0)
    assert cb.state is CircuitState.CLOSED
    # p99 of 152 durations is the 2nd largest: two slow probes move the limit to 2 x 1.0 s,
    # so the third probe is not slow and closes the breaker.
    assert breaks == 3


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"min_ratio": 0.6, "max_ratio": 0.5}, "min_ratio"),
        ({"min_ratio": 0.0}, "min_ratio"),
        ({"max_ratio": 1.5}, "max_ratio"),
        ({"noise_limit": 1.0}, "noise_limit"),
        ({"noise_multiplier": 0.5}, "noise_multiplier"),
        ({"latency_tolerance": float("nan")}, "latency_tolerance"),
        ({"long_window": 0}, "long_window"),
        ({"warmup_calls": 0}, "warmup_calls"),
        ({"baseline_calls": 1}, "baseline_calls"),
    ],
)
def test_invalid_adaptive_options_fail_fast(kw, field):
    """Bad AdaptiveThreshold values raise a ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        AdaptiveThreshold(**kw)


def test_adaptive_options_are_keyword_only_and_frozen():
    """AdaptiveThreshold takes keywords only and cannot be changed."""
    with pytest.raises(TypeError):
        AdaptiveThreshold(0.1, 0.9)  # type: ignore[misc]
    spec = AdaptiveThreshold()
    with pytest.raises(AttributeError):
        spec.min_ratio = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"adaptive": AdaptiveThreshold(min_ratio=0.6), "failure_ratio": 0.5}, "failure_ratio"),
        ({"adaptive": {"min_ratio": 0.1}}, "adaptive"),
        ({"slow_call_duration": "fast"}, "slow_call_duration"),
        ({"slow_call_factor": 0.5}, "slow_call_factor"),
        ({"slow_call_percentile": 0.0}, "slow_call_percentile"),
    ],
)
def test_invalid_breaker_options_fail_fast(kw, field):
    """Adaptive and auto-slow breaker options are validated at construction."""
    with pytest.raises(ValueError, match=field):
        CircuitBreaker(**kw)


def test_registry_breakers_learn_separately():
    """Breakers of a registry share the AdaptiveThreshold, not what each one learned."""
    clock = FakeClock()
    registry = CircuitBreakerRegistry(
        failure_ratio=0.5,
        minimum_calls=20,
        window=20,
        window_type="count",
        adaptive=AdaptiveThreshold(warmup_calls=20),
        clock=clock,
    )
    bad, good = registry.get("bad"), registry.get("good")
    drive(Pipeline("bad", bad, clock=clock), [i % 5 in (0, 2) for i in range(100)], clock)
    drive(Pipeline("good", good, clock=clock), [False] * 100, clock)
    assert bad.threshold < 0.5
    assert good.threshold == 0.5
