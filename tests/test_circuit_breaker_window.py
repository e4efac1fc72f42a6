"""Sliding windows and backoff bounds, checked against simple models with hypothesis."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from otel_resilience.circuit_breaker._window import CountWindow, TimeWindow
from otel_resilience.retry._core import RetryRun, next_delay
from otel_resilience.retry.options import ResolvedPolicy

outcomes = st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), max_size=200)


def add(window, now, failed, slow, fast):
    """Record an outcome, taking the success shortcut when asked and allowed."""
    if fast and not (failed or slow):
        window.add_success(now)
    else:
        window.record(now, failed, slow)


@given(size=st.integers(1, 30), events=outcomes)
def test_count_window_matches_last_n(size, events):
    """A count window holds exactly the last ``size`` outcomes, shortcut successes included."""
    window = CountWindow(size)
    for failed, slow, fast in events:
        add(window, 0.0, failed, slow, fast)
    last = events[-size:]
    assert window.counts(0.0) == (len(last), sum(e[0] for e in last), sum(e[1] for e in last))


@given(
    buckets=st.integers(1, 12),
    seconds=st.floats(0.5, 100.0),
    steps=st.lists(
        st.tuples(st.floats(0.0, 30.0), st.booleans(), st.booleans(), st.booleans()), max_size=120
    ),
    later=st.floats(0.0, 200.0),
)
def test_time_window_matches_bucket_model(buckets, seconds, steps, later):
    """A time window counts exactly the calls whose bucket is among the newest ``buckets``."""
    window = TimeWindow(seconds, buckets)
    width = seconds / buckets
    now, seen = 0.0, []
    for gap, failed, slow, fast in steps:
        now += gap
        add(window, now, failed, slow, fast)
        seen.append((int(now // width), failed, slow))
    now += later
    head = max([int(now // width)] + [b for b, _, _ in seen])
    live = [(f, s) for b, f, s in seen if b > head - buckets]
    assert window.counts(now) == (len(live), sum(f for f, _ in live), sum(s for _, s in live))


@given(
    buckets=st.integers(1, 1000),
    jumps=st.lists(st.tuples(st.integers(0, 2500), st.booleans(), st.booleans()), max_size=60),
)
def test_time_window_jumps_of_any_size_match_bucket_model(buckets, jumps):
    """Jumps over any number of buckets (wrapping the ring or not) keep the counts exact."""
    window = TimeWindow(float(buckets), buckets)  # one-second buckets: bucket = int(now)
    now, seen = 0, []
    for gap, failed, slow in jumps:
        now += gap
        window.record(now + 0.5, failed, slow)
        seen.append((now, failed, slow))
        live = [(f, s) for b, f, s in seen if b > now - buckets]
        assert window.counts(now + 0.5) == (
            len(live),
            sum(f for f, _ in live),
            sum(s for _, s in live),
        )


@given(
    kind=st.sampled_from(["constant", "linear", "exponential", "decorrelated"]),
    base=st.floats(0.0, 50.0),
    cap=st.floats(0.0, 100.0),
    jitter=st.floats(0.0, 1.0),
    draws=st.lists(st.floats(0.0, 0.999999), min_size=1, max_size=40),
    retry_after=st.none() | st.floats(0.0, 1e6),
    clamp=st.booleans(),
)
def test_backoff_never_exceeds_max_delay(kind, base, cap, jitter, draws, retry_after, clamp):
    """Every delay lies in [0, max_delay]; a longer Retry-After gives up unless clamped."""
    policy = ResolvedPolicy.build(10_000, kind, base, cap, jitter)
    run = RetryRun(0.0, None)
    it = iter(draws * 3)
    for n in range(1, len(draws) + 1):
        delay = next_delay(run, policy, 10_000, n, retry_after, clamp, 0.0, lambda: next(it))
        if delay is None:
            assert not clamp
            assert retry_after is not None
            assert retry_after > cap
            assert run.gave_up == "retry_after_exceeds_max_delay"
            return
        assert 0.0 <= delay <= cap
        run.attempts += 1


@given(base=st.floats(0.001, 10.0), cap=st.floats(0.001, 1000.0), n=st.integers(1, 60))
def test_exponential_without_jitter_is_exact(base, cap, n):
    """With no jitter, exponential delay n is min(base * 2**(n-1), max_delay)."""
    policy = ResolvedPolicy.build(1000, "exponential", base, cap, False)
    delay = next_delay(RetryRun(0.0, None), policy, 1000, n, None, False, 0.0, lambda: 0.5)
    assert delay == min(base * 2 ** (n - 1), cap)
