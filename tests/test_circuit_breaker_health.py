"""CircuitBreaker health probes: call-driven probing while open, bounds, concurrency, telemetry."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from otel_resilience import CircuitOpenError, CircuitState, Pipeline, semconv
from otel_resilience.circuit_breaker import CircuitBreaker, CircuitBreakerRegistry
from otel_resilience.circuit_breaker._core import BreakerCore
from otel_resilience.circuit_breaker.options import BreakerOptions
from otel_resilience.testing import FakeClock

GUARD = 10.0  # real seconds: a bound against hangs, never a timing assumption


class Check:
    """A health check that records when it ran and answers ``healthy``."""

    def __init__(self, clock: FakeClock, healthy: Any = False, takes: float = 0.0) -> None:
        self.clock = clock
        self.healthy = healthy
        self.takes = takes
        self.ran: list[float] = []

    def __call__(self) -> Any:
        self.ran.append(self.clock.monotonic())
        if self.takes:
            self.clock.advance(self.takes)
        if isinstance(self.healthy, BaseException):
            raise self.healthy
        return self.healthy


def down() -> None:
    """A dependency that is down."""
    raise ConnectionError("down")


def opened(clock: FakeClock, check: Any, **kw: Any) -> tuple[CircuitBreaker, Pipeline]:
    """A breaker with ``check``, opened at the clock's current time by two failures."""
    opts: dict[str, Any] = {
        "minimum_calls": 2,
        "window": 4,
        "window_type": "count",
        "break_duration": 60.0,
        "health_interval": 5.0,
    }
    opts.update(kw)
    breaker = CircuitBreaker(clock=clock, health_check=check, **opts)
    pipeline = Pipeline("svc", breaker, clock=clock)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            pipeline.call(down)
    assert breaker.state is CircuitState.OPEN
    return breaker, pipeline


def test_passing_probe_recovers_before_the_break_ends(run, fake_clock):
    """A passing probe half-opens at the interval; the call that ran it goes through and closes."""
    check = Check(fake_clock, healthy=True)
    breaker, pipeline = opened(fake_clock, check)
    fake_clock.advance(5.0)
    calls: list[int] = []
    assert run(pipeline, lambda: calls.append(1) or "ok") == "ok"
    assert check.ran == [5.0]
    assert calls == [1]  # the user's call was made once, after the probe: not sacrificed
    assert breaker.state is CircuitState.CLOSED  # 5 s into a 60 s break


def test_async_check_serves_async_calls(fake_clock):
    """An async check is awaited by an async call and half-opens the breaker."""
    ran: list[float] = []

    async def check() -> bool:
        ran.append(fake_clock.monotonic())
        await asyncio.sleep(0)
        return True

    breaker, pipeline = opened(fake_clock, check)
    fake_clock.advance(5.0)

    async def ok() -> str:
        return "ok"

    assert asyncio.run(pipeline.acall(ok)) == "ok"
    assert ran == [5.0]
    assert breaker.state is CircuitState.CLOSED


def test_sync_call_never_runs_an_async_check(fake_clock):
    """A sync call is rejected as usual and leaves the due probe to an async call."""
    ran: list[float] = []

    async def check() -> bool:
        ran.append(fake_clock.monotonic())
        return True

    _breaker, pipeline = opened(fake_clock, check)
    fake_clock.advance(5.0)
    with pytest.raises(CircuitOpenError):
        pipeline.call(lambda: "ok")
    assert ran == []

    async def ok() -> str:
        return "ok"

    assert asyncio.run(pipeline.acall(ok)) == "ok"
    assert ran == [5.0]


def test_failing_probes_keep_it_open_and_honour_the_interval(run, fake_clock):
    """Calls every second: a failing check runs every health_interval only; it stays open."""
    check = Check(fake_clock, healthy=False)
    breaker, pipeline = opened(fake_clock, check)
    rejected = 0
    for _ in range(17):
        fake_clock.advance(1.0)
        try:
            run(pipeline, lambda: "ok")
        except CircuitOpenError:
            rejected += 1
    assert check.ran == [5.0, 10.0, 15.0]
    assert rejected == 17
    assert breaker.state is CircuitState.OPEN


@pytest.mark.parametrize(
    "answer", [0, None, "", ValueError("unhealthy"), ConnectionError("refused")]
)
def test_falsy_or_raising_check_fails_the_probe(run, fake_clock, answer):
    """A falsy answer or an exception is a failed probe; the caller gets CircuitOpenError."""
    check = Check(fake_clock, healthy=answer)
    breaker, pipeline = opened(fake_clock, check)
    fake_clock.advance(5.0)
    run.raises(CircuitOpenError, pipeline, lambda: "ok")
    assert check.ran == [5.0]
    assert breaker.state is CircuitState.OPEN


class Hostile:
    """A value whose truth cannot be told."""

    def __bool__(self) -> bool:
        raise RuntimeError("no truth here")


def test_hostile_answer_fails_the_probe_without_breaking_the_call(run, fake_clock):
    """A value whose ``__bool__`` raises is a failed probe, not an error for the caller."""
    check = Check(fake_clock, healthy=Hostile())
    breaker, pipeline = opened(fake_clock, check)
    fake_clock.advance(5.0)
    run.raises(CircuitOpenError, pipeline, lambda: "ok")
    assert breaker.state is CircuitState.OPEN


def test_slow_sync_check_fails_after_the_fact(run, fake_clock):
    """A sync check that passes but took longer than health_timeout counts as failed."""
    check = Check(fake_clock, healthy=True, takes=3.0)
    breaker, pipeline = opened(fake_clock, check, health_timeout=2.0)
    fake_clock.advance(5.0)
    run.raises(CircuitOpenError, pipeline, lambda: "ok")
    assert check.ran == [5.0]
    assert breaker.state is CircuitState.OPEN


def test_async_check_is_cancelled_at_the_timeout(fake_clock, otel_capture):
    """An async check still running at health_timeout is cancelled and reported as TimeoutError."""
    cancelled: list[bool] = []

    async def check() -> bool:
        try:
            await fake_clock.asleep(30.0)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return True

    breaker = CircuitBreaker(
        minimum_calls=2,
        window=4,
        window_type="count",
        break_duration=60.0,
        health_check=check,
        health_timeout=2.0,
    )
    pipeline = Pipeline("svc", breaker, clock=fake_clock, **otel_capture.providers)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            pipeline.call(down)
    fake_clock.advance(5.0)

    async def ok() -> str:
        return "ok"

    with pytest.raises(CircuitOpenError):
        asyncio.run(pipeline.acall(ok))
    assert cancelled == [True]
    assert fake_clock.monotonic() == pytest.approx(7.0)  # the probe waited 2 s, not 30
    (record,) = otel_capture.logs(semconv.LOG_EVENT_HEALTH_PROBE)
    assert record.log_record.attributes[semconv.ERROR_TYPE] == "TimeoutError"
    assert breaker.state is CircuitState.OPEN


def test_isolated_breaker_never_probes(run, fake_clock):
    """isolate() holds the breaker open: no probe runs, however long it waits."""
    check = Check(fake_clock, healthy=True)
    breaker, pipeline = opened(fake_clock, check)
    breaker.isolate()
    for _ in range(3):
        fake_clock.advance(5.0)
        run.raises(CircuitOpenError, pipeline, lambda: "ok")
    assert check.ran == []


def test_no_probe_after_the_break_ended(run, fake_clock):
    """Once the break is over calls half-open the breaker themselves: no probe runs."""
    check = Check(fake_clock, healthy=False)
    breaker, pipeline = opened(fake_clock, check, break_duration=4.0)
    fake_clock.advance(5.0)
    assert run(pipeline, lambda: "ok") == "ok"
    assert check.ran == []
    assert breaker.state is CircuitState.CLOSED


def test_only_one_probe_at_a_time_under_threads(fake_clock, otel_capture):
    """Eight threads arrive while a probe is due: one runs it, the others are rejected."""
    entered, release = threading.Event(), threading.Event()
    ran: list[int] = []

    def check() -> bool:
        ran.append(1)
        entered.set()
        release.wait(GUARD)
        return True

    breaker = CircuitBreaker(
        minimum_calls=2, window=4, window_type="count", break_duration=60.0, health_check=check
    )
    pipeline = Pipeline("svc", breaker, clock=fake_clock, **otel_capture.providers)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            pipeline.call(down)
    fake_clock.advance(5.0)
    outcomes: list[str] = []

    def caller() -> None:
        try:
            outcomes.append(pipeline.call(lambda: "ok"))
        except CircuitOpenError:
            outcomes.append("rejected")

    prober = threading.Thread(target=caller)
    prober.start()
    assert entered.wait(GUARD)
    others = [threading.Thread(target=caller) for _ in range(7)]
    for t in others:
        t.start()
    for t in others:
        t.join(GUARD)
    release.set()
    prober.join(GUARD)
    assert ran == [1]
    assert sorted(outcomes) == ["ok"] + ["rejected"] * 7
    passed = otel_capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.EVENT: semconv.EVENT_HEALTH_PROBE_PASSED}
    )
    assert [p.value for p in passed] == [1]
    assert breaker.state is CircuitState.CLOSED


def test_only_one_probe_at_a_time_under_tasks(fake_clock):
    """Eight tasks arrive while a probe is due: one awaits it, the others are rejected."""
    ran: list[int] = []

    async def scenario() -> list[str]:
        gate = asyncio.Event()

        async def check() -> bool:
            ran.append(1)
            await gate.wait()
            return True

        _breaker, pipeline = opened(fake_clock, check)
        fake_clock.advance(5.0)

        async def ok() -> str:
            return "ok"

        async def caller() -> str:
            try:
                return await pipeline.acall(ok)
            except CircuitOpenError:
                return "rejected"

        tasks = [asyncio.create_task(caller()) for _ in range(8)]
        for _ in range(5):
            await asyncio.sleep(0)
        gate.set()
        return await asyncio.wait_for(asyncio.gather(*tasks), GUARD)

    outcomes = asyncio.run(scenario())
    assert ran == [1]
    assert sorted(outcomes) == ["ok"] + ["rejected"] * 7


def test_cancelled_probe_frees_its_slot(fake_clock):
    """A call cancelled while its probe runs leaves no probe behind: the next one can start."""
    ran: list[float] = []

    async def scenario() -> str:
        async def check() -> bool:
            ran.append(fake_clock.monotonic())
            if len(ran) == 1:
                await asyncio.Event().wait()  # hangs until cancelled
            return True

        _breaker, pipeline = opened(fake_clock, check, health_timeout=50.0)

        async def ok() -> str:
            return "ok"

        fake_clock.advance(5.0)
        task = asyncio.create_task(pipeline.acall(ok))
        for _ in range(3):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        fake_clock.advance(5.0)  # the next probe is due; the cancelled one holds no slot
        return await pipeline.acall(ok)

    assert asyncio.run(scenario()) == "ok"
    assert ran == [5.0, 10.0]


def test_probe_older_than_the_timeout_loses_its_slot():
    """A probe out longer than health_timeout is replaced; its late pass changes nothing."""
    core = BreakerCore(
        BreakerOptions(health_interval=5.0, health_timeout=8.0), health_check=lambda: True
    )
    core._move(CircuitState.OPEN, 0.0)
    first = core.claim_probe(5.0)
    assert first
    assert core.claim_probe(10.0) == 0  # due again, but the first is still within its 8 s
    second = core.claim_probe(13.0)  # the first is overdue: failed by now, its slot taken over
    assert second
    assert second != first
    assert core.finish_probe(first, True, 14.0) is None  # stale: ignored
    assert core.state is CircuitState.OPEN
    assert core.finish_probe(second, True, 14.0) == (CircuitState.OPEN, CircuitState.HALF_OPEN)


def test_probe_telemetry_matches_what_happened(run, fake_clock, otel_capture):
    """Each probe is one span event, one log record and one counter point, then the transition."""
    check = Check(fake_clock, healthy=ConnectionError("refused"))
    breaker = CircuitBreaker(
        name="db",
        minimum_calls=2,
        window=4,
        window_type="count",
        break_duration=60.0,
        health_check=check,
    )
    pipeline = Pipeline("svc", breaker, clock=fake_clock, **otel_capture.providers)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            pipeline.call(down)
    fake_clock.advance(5.0)
    run.raises(CircuitOpenError, pipeline, lambda: "ok")
    check.healthy = True
    fake_clock.advance(5.0)
    assert run(pipeline, lambda: "ok") == "ok"
    spans = otel_capture.spans("svc")
    events = [e for s in spans for e in s.events if e.name == semconv.SPAN_EVENT_HEALTH_PROBE]
    assert [e.attributes[semconv.HEALTH_PROBE_RESULT] for e in events] == ["failed", "passed"]
    assert events[0].attributes[semconv.ERROR_TYPE] == "ConnectionError"
    assert events[0].attributes[semconv.CIRCUIT_BREAKER_NAME] == "db"
    assert semconv.ERROR_TYPE not in events[1].attributes
    names = [e.name for e in spans[-1].events]
    assert names.index(semconv.SPAN_EVENT_HEALTH_PROBE) < names.index(
        semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE
    )
    logs = otel_capture.logs(semconv.LOG_EVENT_HEALTH_PROBE)
    assert [r.log_record.attributes[semconv.HEALTH_PROBE_RESULT] for r in logs] == [
        "failed",
        "passed",
    ]
    for event in (semconv.EVENT_HEALTH_PROBE_FAILED, semconv.EVENT_HEALTH_PROBE_PASSED):
        points = otel_capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: event})
        assert [p.value for p in points] == [1]


def test_background_thread_probes_without_calls(otel_capture):
    """start_health_probes(): a thread probes at each interval and half-opens without any call."""
    clock = FakeClock(auto_advance=False)
    check = Check(clock, healthy=False)
    breaker = CircuitBreaker(
        minimum_calls=2, window=4, window_type="count", break_duration=60.0, health_check=check
    )
    pipeline = Pipeline("svc", breaker, clock=clock, **otel_capture.providers)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            pipeline.call(down)
    runner = breaker.start_health_probes()
    try:
        clock.wait_for_sleepers(1, timeout=GUARD)
        assert clock.sleeps == [5.0]  # sleeps until the first probe is due
        clock.advance(5.0)
        clock.wait_for_sleepers(1, timeout=GUARD)
        assert check.ran == [5.0]
        assert breaker.state is CircuitState.OPEN
        check.healthy = True
        clock.advance(5.0)
        clock.wait_for_sleepers(1, timeout=GUARD)
        assert check.ran == [5.0, 10.0]
        assert breaker.state is CircuitState.HALF_OPEN
    finally:
        runner.stop()
        clock.advance(5.0)
        runner.join(GUARD)
    assert not runner.running
    logs = otel_capture.logs(semconv.LOG_EVENT_HEALTH_PROBE)
    assert [r.log_record.attributes[semconv.HEALTH_PROBE_RESULT] for r in logs] == [
        "failed",
        "passed",
    ]


def test_background_task_probes_with_an_async_check():
    """With an async check the runner is a task of the running loop, stopped by stop()."""
    clock = FakeClock(auto_advance=False)
    ran: list[float] = []

    async def check() -> bool:
        ran.append(clock.monotonic())
        return len(ran) > 1

    async def scenario() -> None:
        breaker, _ = opened(clock, check)
        runner = breaker.start_health_probes()
        await clock.wait_for_sleepers_async(1, timeout=GUARD)
        clock.advance(5.0)
        await clock.wait_for_sleepers_async(1, timeout=GUARD)
        assert breaker.state is CircuitState.OPEN
        clock.advance(5.0)
        await clock.wait_for_sleepers_async(1, timeout=GUARD)
        assert breaker.state is CircuitState.HALF_OPEN
        runner.stop()
        with pytest.raises(asyncio.CancelledError):
            await runner.task
        assert not runner.running

    asyncio.run(scenario())
    assert ran == [5.0, 10.0]


def test_registry_breakers_share_the_check(fake_clock):
    """A registry hands its health_check to every breaker it makes."""
    check = Check(fake_clock, healthy=True)
    registry = CircuitBreakerRegistry(
        minimum_calls=2, window=4, window_type="count", health_check=check, clock=fake_clock
    )
    breaker = registry.get("a")
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            pipeline.call(down)
    fake_clock.advance(5.0)
    assert pipeline.call(lambda: "ok") == "ok"
    assert check.ran == [5.0]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"health_check": "not callable"}, "health_check"),
        ({"health_interval": 0}, "health_interval"),
        ({"health_interval": float("nan")}, "health_interval"),
        ({"health_timeout": -1.0}, "health_timeout"),
    ],
)
def test_invalid_health_options_fail_fast(kw, field):
    """Bad health options raise a ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        CircuitBreaker(**kw)


def test_background_probes_need_a_check():
    """start_health_probes() without a health_check is a ValueError."""
    with pytest.raises(ValueError, match="health_check"):
        CircuitBreaker().start_health_probes()


def test_background_thread_on_the_system_clock_stops_at_once():
    """On the real clock stop() wakes the thread: it ends without waiting out the interval."""
    breaker = CircuitBreaker(health_check=lambda: True, health_interval=600.0)
    runner = breaker.start_health_probes()
    assert runner.running
    runner.stop()
    runner.join(GUARD)  # a 600 s interval: only a prompt wake-up ends it within the guard
    assert not runner.running
