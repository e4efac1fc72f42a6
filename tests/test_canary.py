"""CanaryAnalysis: pass / fail / inconclusive over a window, with the numbers behind it."""

from __future__ import annotations

import pytest

from otel_resilience import Pipeline
from otel_resilience.canary import FAIL, INCONCLUSIVE, PASS, CanaryAnalysis
from otel_resilience.testing import FakeClock


def _drive(canary: CanaryAnalysis, clock: FakeClock, primary, n: int, run=None) -> None:
    pipeline = Pipeline("p", canary, clock=clock)
    for i in range(n):
        if run is None:
            pipeline.call(primary, i)
        else:
            run(pipeline, primary, i)
        assert canary.drain(10)  # one shadow call at a time: the fake clock stays ordered


def test_same_candidate_passes_after_min_calls(run):
    """Inconclusive until both sides have min_calls in the window, then a pass."""
    clock = FakeClock()
    canary = CanaryAnalysis(candidate=lambda i: i, min_calls=20, window=600)
    _drive(canary, clock, lambda i: i, 19, run)
    early = canary.analyze()
    assert early.verdict == INCONCLUSIVE
    assert early.primary.calls == 19
    _drive(canary, clock, lambda i: i, 1, run)
    result = canary.analyze()
    assert result.verdict == PASS
    assert result.reasons == ()
    assert (result.agreement, result.compared) == (1.0, 20)


def test_failing_candidate_fails_on_error_rate():
    """A candidate failing a quarter of calls fails with the error rates behind the verdict."""
    clock = FakeClock()

    def candidate(i: int) -> int:
        if i % 4 == 0:
            raise ConnectionError
        return i

    canary = CanaryAnalysis(candidate=candidate, min_calls=40, max_error_rate_increase=0.05)
    _drive(canary, clock, lambda i: i, 80)
    result = canary.analyze()
    assert result.verdict == FAIL
    assert result.candidate.error_rate == 0.25
    assert result.primary.error_rate == 0.0
    assert "error rate" in result.reasons[0]
    assert result.error_rate_test is not None
    assert result.error_rate_test.p_value < 0.001


def test_slow_candidate_fails_on_p95_and_disagreement_is_counted():
    """p95 latency ratio and mean agreement are computed from the calls themselves."""
    clock = FakeClock()

    def primary(i: int) -> int:
        clock.advance(0.1)
        return i

    def candidate(i: int) -> int:
        clock.advance(0.3)
        return i if i % 5 else -1

    canary = CanaryAnalysis(
        candidate=candidate, min_calls=50, max_latency_ratio=2.0, min_agreement=0.9
    )
    _drive(canary, clock, primary, 50)
    result = canary.analyze()
    assert result.verdict == FAIL
    assert result.candidate.p95 == pytest.approx(0.3)
    assert result.primary.p50 == pytest.approx(0.1)
    assert result.agreement == pytest.approx(0.8)
    assert len(result.reasons) == 2
    assert result.latency_test is not None
    assert result.latency_test.difference == pytest.approx(0.2)


def test_old_calls_leave_the_window():
    """Calls older than the window no longer count: the verdict is inconclusive again."""
    clock = FakeClock()
    canary = CanaryAnalysis(candidate=lambda i: i, min_calls=5, window=60)
    _drive(canary, clock, lambda i: i, 5)
    assert canary.analyze().verdict == PASS
    clock.advance(61)
    assert canary.analyze().verdict == INCONCLUSIVE
    assert canary.analyze().primary.calls == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"window": 0}, "window"),
        ({"min_calls": 0}, "min_calls"),
        ({"max_error_rate_increase": 2}, "max_error_rate_increase"),
        ({"max_latency_ratio": -1}, "max_latency_ratio"),
        ({"min_agreement": float("nan")}, "min_agreement"),
        ({"percent": -1}, "percent"),
    ],
)
def test_invalid_options_name_the_field(kwargs, field):
    """Invalid configuration fails at construction with a ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        CanaryAnalysis(candidate=lambda: 1, **kwargs)
