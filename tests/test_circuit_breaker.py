"""CircuitBreaker: opening on failure and slow-call ratios, half-open probes, control, telemetry."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from otel_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Pipeline,
    Retry,
    semconv,
)
from otel_resilience.testing import FakeClock

REQUEST = httpx.Request("GET", "http://127.0.0.1:9/")


def failing(exc: BaseException):
    """A function that always raises ``exc``."""

    def fn():
        raise exc

    return fn


def trip(run, pipeline, times: int, exc: BaseException | None = None) -> None:
    """Make ``times`` failing calls (connection errors by default) through ``pipeline``."""
    for _ in range(times):
        with pytest.raises((ConnectionError, CircuitOpenError, httpx.HTTPStatusError)):
            run(pipeline, failing(exc or ConnectionError("down")))


def count_breaker(clock, **kw) -> CircuitBreaker:
    """A count-window breaker with small, test-friendly numbers."""
    opts = {"minimum_calls": 4, "window": 10, "window_type": "count", "break_duration": 5.0}
    opts.update(kw)
    return CircuitBreaker(clock=clock, **opts)


def test_opens_at_failure_ratio_after_minimum_calls(run, fake_clock):
    """It stays closed below minimum_calls, then opens once the ratio is reached."""
    breaker = count_breaker(fake_clock)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    run(pipeline, lambda: "ok")
    trip(run, pipeline, 2)
    assert breaker.state is CircuitState.CLOSED  # 3 calls < minimum_calls
    trip(run, pipeline, 1)
    assert breaker.state is CircuitState.OPEN  # 3 failures / 4 calls >= 0.5


def test_open_breaker_rejects_without_calling(run, fake_clock):
    """While open, CircuitOpenError is raised with the name and the time left."""
    breaker = count_breaker(fake_clock)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    trip(run, pipeline, 4)
    fake_clock.advance(2.0)
    calls = []
    err = run.raises(CircuitOpenError, pipeline, lambda: calls.append(1))
    assert calls == []
    assert err.breaker_name == "svc"
    assert err.retry_after == pytest.approx(3.0)


def test_successes_keep_the_ratio_below_threshold(run, fake_clock):
    """Two failures in ten calls do not open a 0.5 breaker."""
    breaker = count_breaker(fake_clock, minimum_calls=10)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    for _ in range(8):
        run(pipeline, lambda: "ok")
    trip(run, pipeline, 2)
    assert breaker.state is CircuitState.CLOSED


def test_count_window_forgets_old_calls(run, fake_clock):
    """Only the last N calls count."""
    breaker = count_breaker(fake_clock, window=4, minimum_calls=4, failure_ratio=0.75)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    trip(run, pipeline, 2)
    for _ in range(4):
        run(pipeline, lambda: "ok")
    trip(run, pipeline, 2)  # window: ok ok fail fail -> 0.5 < 0.75
    assert breaker.state is CircuitState.CLOSED


def test_time_window_forgets_old_failures(run, fake_clock):
    """Failures older than the time window no longer count."""
    breaker = CircuitBreaker(minimum_calls=4, window=10.0, clock=fake_clock)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    trip(run, pipeline, 3)
    fake_clock.advance(11.0)
    trip(run, pipeline, 1)
    assert breaker.state is CircuitState.CLOSED
    trip(run, pipeline, 3)
    assert breaker.state is CircuitState.OPEN


def test_caller_errors_do_not_count(run, fake_clock):
    """An invalid request (400) is not the dependency's fault."""
    breaker = count_breaker(fake_clock)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    response = httpx.Response(400, request=REQUEST)
    trip(run, pipeline, 6, httpx.HTTPStatusError("bad", request=REQUEST, response=response))
    assert breaker.state is CircuitState.CLOSED


def test_custom_failure_predicates(run, fake_clock):
    """is_failure and is_failure_result override the classifier."""
    breaker = count_breaker(
        fake_clock, is_failure=lambda e: False, is_failure_result=lambda r: r == 503
    )
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    trip(run, pipeline, 4)
    assert breaker.state is CircuitState.CLOSED
    for _ in range(4):
        assert run(pipeline, lambda: 503) == 503
    assert breaker.state is CircuitState.OPEN


def test_half_open_probe_success_closes(run, fake_clock):
    """After the break one probe goes through; its success closes the breaker."""
    breaker = count_breaker(fake_clock)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    trip(run, pipeline, 4)
    fake_clock.advance(5.0)
    assert breaker.state is CircuitState.HALF_OPEN
    assert run(pipeline, lambda: "ok") == "ok"
    assert breaker.state is CircuitState.CLOSED


def test_half_open_probe_failure_reopens_with_growing_break(run, fake_clock):
    """A failed probe re-opens; the multiplier grows each consecutive break up to the max."""
    breaker = count_breaker(fake_clock, break_duration_multiplier=2.0, max_break_duration=15.0)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    trip(run, pipeline, 4)
    for expected in (10.0, 15.0):
        fake_clock.advance(100.0)
        trip(run, pipeline, 1)  # the probe fails
        assert breaker.state is CircuitState.OPEN
        err = run.raises(CircuitOpenError, pipeline, lambda: "ok")
        assert err.retry_after == pytest.approx(expected)


def test_half_open_admits_limited_probes(fake_clock):
    """half_open_max_calls probes run at once; more are rejected; all must succeed to close."""
    breaker = count_breaker(fake_clock, half_open_max_calls=2)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    for _ in range(4):
        with pytest.raises(ConnectionError):
            pipeline.call(failing(ConnectionError()))
    fake_clock.advance(5.0)

    async def scenario() -> list[object]:
        gate = asyncio.Event()

        async def probe() -> str:
            await gate.wait()
            return "ok"

        first = asyncio.ensure_future(pipeline.acall(probe))
        second = asyncio.ensure_future(pipeline.acall(probe))
        await asyncio.sleep(0)
        with pytest.raises(CircuitOpenError):
            await pipeline.acall(probe)
        gate.set()
        return [await first, await second]

    assert asyncio.run(scenario()) == ["ok", "ok"]
    assert breaker.state is CircuitState.CLOSED


def test_cancelled_probe_frees_its_slot(fake_clock):
    """A half-open probe that is cancelled does not leave the breaker stuck."""
    breaker = count_breaker(fake_clock)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    for _ in range(4):
        with pytest.raises(ConnectionError):
            pipeline.call(failing(ConnectionError()))
    fake_clock.advance(5.0)

    async def scenario() -> str:
        async def hang() -> str:
            await asyncio.Event().wait()
            return "never"

        task = asyncio.ensure_future(pipeline.acall(hang))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        async def ok() -> str:
            return "ok"

        return await pipeline.acall(ok)

    assert asyncio.run(scenario()) == "ok"
    assert breaker.state is CircuitState.CLOSED


def test_slow_calls_open_the_breaker(run, fake_clock):
    """Calls at least slow_call_duration long count toward the slow-call ratio."""
    breaker = count_breaker(fake_clock, slow_call_duration=1.0, slow_call_ratio=0.5)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)

    def slow() -> str:
        fake_clock.advance(2.0)
        return "ok"

    for _ in range(2):
        run(pipeline, lambda: "ok")
    run(pipeline, slow)
    assert breaker.state is CircuitState.CLOSED
    run(pipeline, slow)
    assert breaker.state is CircuitState.OPEN


def test_outcomes_from_before_a_transition_are_ignored(fake_clock):
    """A call that started while closed cannot affect the breaker after it opened."""
    breaker = count_breaker(fake_clock)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)

    def open_meanwhile() -> str:
        breaker.isolate()
        breaker.reset()
        return "ok"

    for _ in range(3):
        with pytest.raises(ConnectionError):
            pipeline.call(failing(ConnectionError()))

    def fail_after_reset() -> None:
        breaker.reset()
        raise ConnectionError

    with pytest.raises(ConnectionError):
        pipeline.call(fail_after_reset)
    assert pipeline.call(open_meanwhile) == "ok"
    assert breaker._core.window.counts(0.0) == (0, 0, 0)


def test_isolate_and_reset(run, fake_clock):
    """isolate() rejects every call, with no retry_after, until reset()."""
    breaker = count_breaker(fake_clock)
    pipeline = Pipeline("svc", breaker, clock=fake_clock)
    breaker.isolate()
    fake_clock.advance(1000.0)
    err = run.raises(CircuitOpenError, pipeline, lambda: "ok")
    assert err.retry_after is None
    breaker.reset()
    assert run(pipeline, lambda: "ok") == "ok"
    assert breaker.state is CircuitState.CLOSED


def test_breaker_name_defaults_to_pipeline_name(fake_clock):
    """An unnamed breaker takes its first pipeline's name."""
    breaker = CircuitBreaker(clock=fake_clock)
    Pipeline("orders", breaker)
    Pipeline("other", breaker)
    assert breaker.name == "orders"
    assert CircuitBreaker(name="explicit").name == "explicit"


def test_retry_outside_breaker_stops_when_it_opens(fake_clock):
    """Retry around a breaker: once the breaker opens the retry loop ends with the rejection."""
    breaker = count_breaker(fake_clock, minimum_calls=2)
    pipeline = Pipeline("svc", Retry(max_attempts=10, base_delay=0.1), breaker, clock=fake_clock)
    calls = []

    def down() -> None:
        calls.append(1)
        raise ConnectionError

    with pytest.raises(CircuitOpenError):
        pipeline.call(down)
    assert len(calls) == 2


def test_thread_safety_under_contention():
    """Concurrent failing calls from threads open the breaker exactly once and never crash."""
    clock = FakeClock()
    breaker = CircuitBreaker(minimum_calls=50, window=200, window_type="count", clock=clock)
    pipeline = Pipeline("svc", breaker, clock=clock)
    errors: list[BaseException] = []

    def worker() -> None:
        for _ in range(200):
            try:
                pipeline.call(failing(ConnectionError()))
            except (ConnectionError, CircuitOpenError):
                pass
            except BaseException as exc:  # pragma: no cover - the assertion reports it
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert breaker.state is CircuitState.OPEN
    assert breaker._core.opens_in_row == 1


def test_state_change_telemetry(run, fake_clock, otel_capture):
    """Transitions are span events, log records and counted events; rejections are counted."""
    breaker = count_breaker(fake_clock)
    pipeline = Pipeline("svc", breaker, clock=fake_clock, **otel_capture.providers)
    trip(run, pipeline, 4)
    run.raises(CircuitOpenError, pipeline, lambda: "ok")
    fake_clock.advance(5.0)
    run(pipeline, lambda: "ok")

    logs = otel_capture.logs(semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE)
    changes = [
        (
            r.log_record.attributes[semconv.CIRCUIT_BREAKER_PREVIOUS_STATE],
            r.log_record.attributes[semconv.CIRCUIT_BREAKER_STATE],
        )
        for r in logs
    ]
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert all(r.log_record.attributes[semconv.CIRCUIT_BREAKER_NAME] == "svc" for r in logs)
    opening_span = otel_capture.spans("svc")[3]
    assert [e.name for e in opening_span.events if e.name.startswith("resilience.circuit")] == [
        semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE
    ]
    rejected = otel_capture.spans("svc")[4]
    assert rejected.attributes[semconv.OUTCOME] == "rejected"
    assert rejected.events[0].name == semconv.SPAN_EVENT_CIRCUIT_REJECTED
    for event in ("circuit_opened", "circuit_half_opened", "circuit_closed", "circuit_rejected"):
        points = otel_capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: event})
        assert [p.value for p in points] == [1], event


def test_state_change_log_without_active_span(fake_clock, otel_capture):
    """isolate() outside any span still emits the log event."""
    breaker = CircuitBreaker(name="manual", clock=fake_clock)
    Pipeline("svc", breaker, clock=fake_clock, **otel_capture.providers)
    breaker.isolate()
    (record,) = otel_capture.logs(semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE)
    assert record.log_record.attributes[semconv.CIRCUIT_BREAKER_STATE] == "open"
    assert not record.log_record.trace_id


def test_state_gauge(run, fake_clock, otel_capture):
    """The state gauge reports 1 for the current state and 0 for the others."""
    breaker = count_breaker(fake_clock)
    pipeline = Pipeline("svc", breaker, clock=fake_clock, **otel_capture.providers)
    run(pipeline, lambda: "ok")

    def gauge() -> dict[str, int]:
        points = otel_capture.metric_points(
            semconv.METRIC_CIRCUIT_BREAKER_STATE, **{semconv.CIRCUIT_BREAKER_NAME: "svc"}
        )
        return {p.attributes[semconv.CIRCUIT_BREAKER_STATE]: p.value for p in points}

    assert gauge() == {"closed": 1, "open": 0, "half_open": 0}
    trip(run, pipeline, 4)
    assert gauge() == {"closed": 0, "open": 1, "half_open": 0}
