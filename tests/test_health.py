"""HealthRegistry: statuses, thresholds, timeouts, errors, recovery and roll-up, on FakeClock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from otel_resilience import CircuitBreaker, HealthRegistry, HealthResult, HealthStatus, Pipeline
from otel_resilience.health._state import roll_up
from otel_resilience.testing import FakeClock

H, D, U, K = (
    HealthStatus.HEALTHY,
    HealthStatus.DEGRADED,
    HealthStatus.UNHEALTHY,
    HealthStatus.UNKNOWN,
)


@pytest.fixture(params=["sync", "async"])
def run_once(request: pytest.FixtureRequest) -> Any:
    """Run every check with run_once(), then (second parametrization) with arun_once()."""
    if request.param == "sync":
        return lambda registry: registry.run_once()
    return lambda registry: asyncio.run(registry.arun_once())


class Sequence:
    """A check answering the queued values (or raising the queued exceptions) in turn."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def __call__(self) -> Any:
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.mark.parametrize(
    ("states", "overall"),
    [
        ([], H),
        ([(H, True), (H, False)], H),
        ([(U, True), (H, True)], U),
        ([(U, False), (H, True)], D),
        ([(D, True)], D),
        ([(K, True), (D, True)], K),
        ([(K, True), (U, True)], U),
        ([(K, False), (H, True)], H),
    ],
)
def test_roll_up_rules(states, overall):
    """Critical unhealthy wins, then critical unknown, then anything degraded."""
    assert roll_up(states) is overall


def test_unknown_until_first_run_then_rolled_up(run_once):
    """Checks are unknown until run; a non-critical failure only degrades the whole."""
    registry = HealthRegistry(clock=FakeClock())
    registry.register("db", lambda: True)
    registry.register("cache", lambda: False, critical=False)
    assert registry.status() is K
    assert run_once(registry) is D
    assert registry.check_status("db") is H
    assert registry.check_status("cache") is U


def test_async_checks_run_in_both_modes(run_once):
    """An async check is awaited by arun_once and driven to its end by run_once."""

    async def ping() -> HealthResult:
        await asyncio.sleep(0)
        return HealthResult(HealthStatus.DEGRADED, "replica lag", {"lag_s": 3})

    registry = HealthRegistry(clock=FakeClock())
    registry.register("replica", ping)
    assert run_once(registry) is D
    item = registry.report()["checks"]["replica"]
    assert (item["message"], item["details"]) == ("replica lag", {"lag_s": 3})


def test_raising_check_is_unhealthy_with_classified_error(run_once):
    """A raising check is unhealthy; its error is kept by type, category and severity only."""
    registry = HealthRegistry(clock=FakeClock())
    registry.register("api", Sequence(ConnectionError("secret-host:5432 refused")))
    assert run_once(registry) is U
    error = registry.report()["checks"]["api"]["last_error"]
    assert error == {"type": "ConnectionError", "category": "connection", "severity": "medium"}
    assert "secret" not in repr(registry.report())


def test_slow_sync_check_hits_its_timeout(run_once):
    """A check that returns True after its timeout counts as a timeout failure."""
    clock = FakeClock()

    def slow() -> bool:
        clock.advance(3.0)
        return True

    registry = HealthRegistry(clock=clock)
    registry.register("slow", slow, timeout=2.0)
    assert run_once(registry) is U
    item = registry.report()["checks"]["slow"]
    assert item["last_error"]["type"] == "TimeoutError"
    assert item["last_duration"] == pytest.approx(3.0)


def test_slow_async_check_is_cancelled_at_its_timeout():
    """An async check sleeping past its timeout is cancelled when the fake clock reaches it."""
    clock = FakeClock()
    finished = []

    async def hangs() -> bool:
        await clock.asleep(60.0)
        finished.append(True)
        return True

    registry = HealthRegistry(clock=clock)
    registry.register("hangs", hangs, timeout=2.0)
    assert asyncio.run(registry.arun_once()) is U
    assert finished == []
    assert clock.monotonic() == pytest.approx(2.0)
    assert registry.report()["checks"]["hangs"]["last_error"]["category"] == "timeout"


def test_flapping_check_stays_degraded_below_the_failure_threshold(run_once):
    """Alternating answers with failure_threshold=3 never read unhealthy; success rate 50%."""
    registry = HealthRegistry(clock=FakeClock())
    registry.register("flappy", Sequence(*[True, False] * 5), failure_threshold=3)
    seen = []
    for _ in range(10):
        run_once(registry)
        seen.append(registry.check_status("flappy"))
    assert U not in seen
    assert seen[:2] == [H, D]
    assert registry.report()["checks"]["flappy"]["success_rate"] == pytest.approx(0.5)


def test_consecutive_failures_reach_unhealthy_then_recover(run_once):
    """Three failures in a row go unhealthy; the next success is a recovery event."""
    registry = HealthRegistry(clock=FakeClock())
    registry.register("dep", Sequence(True, False, False, False, True), failure_threshold=3)
    statuses = []
    for _ in range(5):
        run_once(registry)
        statuses.append(registry.check_status("dep"))
    assert statuses == [H, D, D, U, H]
    assert registry.report()["checks"]["dep"]["consecutive_failures"] == 0
    events = registry.events()
    assert [(e["previous"], e["status"], e["recovered"]) for e in events] == [
        ("unknown", "healthy", False),
        ("healthy", "degraded", False),
        ("degraded", "unhealthy", False),
        ("unhealthy", "healthy", True),
    ]
    assert registry.report()["checks"]["dep"]["recoveries"] == 1


def test_success_rate_forgets_outcomes_older_than_the_window():
    """Outcomes older than ``window`` seconds no longer count in the success rate."""
    clock = FakeClock()
    registry = HealthRegistry(clock=clock, window=60.0)
    registry.register("dep", Sequence(False, False, True))
    registry.run_once()
    registry.run_once()
    clock.advance(61.0)
    registry.run_once()
    assert registry.report()["checks"]["dep"]["success_rate"] == 1.0


def test_breakers_roll_up_open_unhealthy_half_open_degraded():
    """A registered breaker reads live: open is unhealthy, half-open degraded, closed healthy."""
    clock = FakeClock()
    breaker = CircuitBreaker(
        name="payments", minimum_calls=1, window=1, window_type="count", break_duration=10.0
    )
    pipeline = Pipeline("payments", breaker, clock=clock)
    registry = HealthRegistry(clock=clock)
    registry.register_breaker(breaker)
    registry.register("optional", lambda: True, critical=False)
    registry.run_once()
    assert registry.status() is H
    with pytest.raises(ConnectionError):
        pipeline.call(Sequence(ConnectionError()))
    assert registry.status() is U
    clock.advance(10.0)
    assert registry.status() is D
    pipeline.call(lambda: "ok")
    assert registry.status() is H
    report = registry.report()["checks"]["payments"]
    assert report["kind"] == "breaker"
    assert report["breaker"]["state"] == "closed"
    assert report["recoveries"] == 1


def test_non_critical_breaker_only_degrades():
    """register_breaker(critical=False): an open breaker degrades the whole, no more."""
    breaker = CircuitBreaker(name="search")
    registry = HealthRegistry(clock=FakeClock())
    registry.register_breaker(breaker, critical=False)
    breaker.isolate()
    assert registry.status() is D


def test_uptime_follows_the_clock():
    """uptime is seconds since the registry was made, on its clock."""
    clock = FakeClock(100.0)
    registry = HealthRegistry(clock=clock)
    clock.advance(42.0)
    assert registry.uptime == 42.0
    assert registry.report()["uptime"] == 42.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"interval": -1}, "interval"),
        ({"critical": "yes"}, "critical"),
        ({"failure_threshold": 0}, "failure_threshold"),
    ],
)
def test_invalid_check_options_name_the_field(kwargs, field):
    """Invalid options fail at registration with a ValueError naming the field."""
    registry = HealthRegistry()
    with pytest.raises(ValueError, match=field):
        registry.register("x", lambda: True, **kwargs)


def test_invalid_registrations_fail_fast():
    """Duplicate names, non-callables and non-breakers are refused."""
    registry = HealthRegistry()
    registry.register("x", lambda: True)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("x", lambda: True)
    with pytest.raises(ValueError, match="check"):
        registry.register("y", 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="breaker"):
        registry.register_breaker(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window"):
        HealthRegistry(window=0)


def test_unregistered_check_is_forgotten():
    """unregister removes a check from the roll-up."""
    registry = HealthRegistry(clock=FakeClock())
    registry.register("bad", lambda: False)
    registry.run_once()
    registry.unregister("bad")
    assert registry.status() is H
    assert registry.names == []


def test_events_are_bounded_by_max_events():
    """Only the last max_events status changes are kept."""
    registry = HealthRegistry(clock=FakeClock(), max_events=3)
    registry.register("flip", Sequence(*[True, False] * 10))
    for _ in range(20):
        registry.run_once()
    events = registry.events()
    assert len(events) == 3
    assert events[-1]["status"] == "unhealthy"


def test_checks_returning_junk_are_unhealthy_never_raise(run_once):
    """A result whose truth raises, details that are no mapping: unhealthy, run_once returns;
    a huge message is cut."""

    class NoTruth:
        def __bool__(self) -> bool:
            raise RuntimeError("no truth")

    registry = HealthRegistry(clock=FakeClock())
    registry.register("truth", NoTruth)
    registry.register("details", lambda: HealthResult(HealthStatus.HEALTHY, details=[1]))  # type: ignore[arg-type]
    registry.register("huge", lambda: HealthResult(HealthStatus.DEGRADED, "x" * 1_000_000))
    assert run_once(registry) is U
    checks = registry.report()["checks"]
    assert checks["truth"]["status"] == "unhealthy"
    assert checks["details"]["status"] == "unhealthy"
    assert checks["huge"]["status"] == "degraded"
    assert len(repr(checks["huge"])) < 2000


def test_a_hanging_sync_check_never_stalls_a_run(run_once):
    """A sync check blocked forever: each run gives up after its timeout (real time, the check
    cannot be interrupted) and, while it still hangs, later runs fail it at once."""
    import threading
    import time

    release = threading.Event()
    calls: list[int] = []

    def hangs() -> bool:
        calls.append(1)
        release.wait(60.0)
        return True

    registry = HealthRegistry()
    registry.register("hangs", hangs, timeout=0.2)
    registry.register("fine", lambda: True, critical=False)
    try:
        started = time.monotonic()
        assert run_once(registry) is U
        assert run_once(registry) is U
        assert time.monotonic() - started < 30.0
        checks = registry.report()["checks"]
        assert checks["hangs"]["last_error"]["type"] == "TimeoutError"
        assert checks["fine"]["status"] == "healthy"
        assert len(calls) == 1  # the second run did not start another thread
    finally:
        release.set()
