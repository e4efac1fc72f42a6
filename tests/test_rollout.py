"""Rollout: the share follows the schedule on the clock, sticks per key, and rolls back."""

from __future__ import annotations

import pytest

from otel_resilience import Pipeline, semconv
from otel_resilience.rollout import Rollout
from otel_resilience.testing import FakeClock


def _events(capture, event: str) -> int:
    points = capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: event})
    return sum(p.value for p in points)


def test_schedule_advances_on_the_clock(otel_capture):
    """The share steps up at the scheduled times; each step reached is an event and a log."""
    clock = FakeClock()
    rollout = Rollout(
        candidate=lambda: "new", schedule=[(0, 0.0), (600, 0.5), (3600, 1.0)], name="v2"
    )
    pipeline = Pipeline("p", rollout, clock=clock, **otel_capture.providers)
    shares = []
    for at in (0, 599, 600, 3599, 3600):
        clock.advance(at - clock.monotonic())
        shares.append(rollout.share)
        pipeline.call(lambda: "old")
    assert shares == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert [pipeline.call(lambda: "old") for _ in range(5)] == ["new"] * 5
    assert _events(otel_capture, semconv.EVENT_ROLLOUT_ADVANCED) == 3
    logs = otel_capture.logs(semconv.LOG_EVENT_ROLLOUT_ADVANCED)
    assert [r.log_record.attributes[semconv.ROLLOUT_SHARE] for r in logs] == [0.0, 0.5, 1.0]
    (gauge,) = otel_capture.metric_points(semconv.METRIC_ROLLOUT_SHARE, **{semconv.VARIANT: "v2"})
    assert gauge.value == 1.0


def test_bad_candidate_is_rolled_back_within_one_window(run, otel_capture):
    """A failing candidate is rolled back before one window passed; callers never see its
    failures (the primary serves those calls), and it gets no call after the rollback."""
    clock = FakeClock()
    calls = {"candidate": 0}

    def candidate() -> str:
        calls["candidate"] += 1
        raise ConnectionError("candidate down")

    rollout = Rollout(
        candidate=candidate, schedule=[(0, 0.5)], window=60, min_calls=10, margin=0.05
    )
    pipeline = Pipeline("p", rollout, clock=clock, **otel_capture.providers)
    answers = []
    while rollout.rolled_back is None and clock.monotonic() < 60:
        answers.append(run(pipeline, lambda: "old"))
        clock.advance(0.5)
    assert rollout.rolled_back is not None
    assert clock.monotonic() < 60
    assert set(answers) == {"old"}
    verdict = rollout.rolled_back
    assert verdict.reason == semconv.ROLLBACK_REASON_ERROR_RATE
    assert verdict.candidate.error_rate == 1.0
    assert verdict.primary.error_rate == 0.0
    assert rollout.share == 0.0
    seen = calls["candidate"]
    for _ in range(50):
        assert run(pipeline, lambda: "old") == "old"
    assert calls["candidate"] == seen  # rolled back: holds until reset()
    assert _events(otel_capture, semconv.EVENT_ROLLOUT_ROLLED_BACK) == 1
    (log,) = otel_capture.logs(semconv.LOG_EVENT_ROLLOUT_ROLLED_BACK)
    assert log.log_record.attributes[semconv.ROLLOUT_REASON] == semconv.ROLLBACK_REASON_ERROR_RATE
    failed_over = [
        s for s in otel_capture.spans("p") if s.attributes.get(semconv.ROLLOUT_CANDIDATE_FAILED)
    ]
    assert len(failed_over) == seen
    assert {s.attributes[semconv.VARIANT] for s in failed_over} == {semconv.VARIANT_PRIMARY}
    rollout.reset()
    assert rollout.share == 0.5
    assert rollout.rolled_back is None


def test_slow_candidate_is_rolled_back_on_latency():
    """With latency_margin, a candidate much slower than the primary is rolled back."""
    clock = FakeClock()

    def candidate() -> str:
        clock.advance(1.0)
        return "new"

    def primary() -> str:
        clock.advance(0.1)
        return "old"

    rollout = Rollout(
        candidate=candidate, schedule=[(0, 0.5)], window=600, min_calls=5, latency_margin=0.5
    )
    pipeline = Pipeline("p", rollout, clock=clock)
    for _ in range(100):
        pipeline.call(primary)
    assert rollout.rolled_back is not None
    assert rollout.rolled_back.reason == semconv.ROLLBACK_REASON_LATENCY


def test_routing_is_sticky_per_key():
    """Keys on the candidate stay there as the share grows; the share is met within tolerance."""
    clock = FakeClock()
    rollout = Rollout(
        candidate=lambda user: "new",
        schedule=[(0, 0.2), (100, 0.6)],
        key=lambda user: user,
        margin=1.0,
    )
    pipeline = Pipeline("p", rollout, clock=clock)
    users = [f"u{i}" for i in range(3000)]

    def on_candidate() -> set[str]:
        return {u for u in users if pipeline.call(lambda user: "old", u) == "new"}

    first = on_candidate()
    assert first == on_candidate()
    assert 0.17 * 3000 < len(first) < 0.23 * 3000
    clock.advance(100)
    later = on_candidate()
    assert first < later
    assert 0.57 * 3000 < len(later) < 0.63 * 3000


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"candidate": 1}, "candidate"),
        ({"schedule": []}, "schedule"),
        ({"schedule": [(0, 1.5)]}, r"schedule\[0\]"),
        ({"schedule": [(10, 0.1), (5, 0.2)]}, r"schedule\[1\]"),
        ({"window": 0}, "window"),
        ({"margin": -0.1}, "margin"),
        ({"latency_margin": -1}, "latency_margin"),
        ({"min_calls": 0}, "min_calls"),
        ({"key": 3}, "key"),
    ],
)
def test_invalid_options_name_the_field(kwargs, field):
    """Invalid configuration fails at construction with a ValueError naming the field."""
    options = {"candidate": lambda: 1, "schedule": [(0, 0.1)], **kwargs}
    with pytest.raises(ValueError, match=field):
        Rollout(**options)
