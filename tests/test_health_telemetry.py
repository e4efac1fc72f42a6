"""HealthRegistry telemetry and background runners, on FakeClock."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from otel_resilience import HealthRegistry, HealthStatus, semconv
from otel_resilience.testing import FakeClock

DOC = Path(__file__).resolve().parent.parent / "docs" / "telemetry.md"


def _flip(answers: list[bool]):
    return lambda: answers.pop(0)


def test_status_gauge_duration_histogram_and_change_events(otel_capture):
    """The gauge reports each check's status, durations are recorded, changes are logged."""
    clock = FakeClock()
    registry = HealthRegistry(
        clock=clock, **{k: v for k, v in otel_capture.providers.items() if k != "tracer_provider"}
    )
    registry.register("db", _flip([False, True]))
    registry.run_once()
    registry.run_once()
    gauge = otel_capture.metric_points(
        semconv.METRIC_HEALTH_STATUS, **{semconv.HEALTH_CHECK_NAME: "db"}
    )
    current = {p.attributes[semconv.HEALTH_STATUS]: p.value for p in gauge}
    assert current == {"healthy": 1, "degraded": 0, "unhealthy": 0, "unknown": 0}
    durations = otel_capture.metric_points(semconv.METRIC_HEALTH_CHECK_DURATION)
    assert sum(p.count for p in durations) == 2
    changes = otel_capture.logs(semconv.LOG_EVENT_HEALTH_STATUS_CHANGE)
    pairs = [
        (
            r.log_record.attributes[semconv.HEALTH_PREVIOUS_STATUS],
            r.log_record.attributes[semconv.HEALTH_STATUS],
        )
        for r in changes
    ]
    assert pairs == [("unknown", "unhealthy"), ("unhealthy", "healthy")]
    assert changes[0].log_record.severity_text == "ERROR"


def test_emitted_health_names_are_constants_and_documented(otel_capture):
    """Every name the registry emits is a semconv constant documented in docs/telemetry.md."""
    registry = HealthRegistry(
        clock=FakeClock(),
        meter_provider=otel_capture.meter_provider,
        logger_provider=otel_capture.logger_provider,
    )
    registry.register("dep", lambda: 1 / 0)
    registry.run_once()
    names: set[str] = set()
    for record in otel_capture.logs():
        names.add(str(record.log_record.event_name))
        names.update(record.log_record.attributes)
    for metric, points in otel_capture.metrics().items():
        names.add(metric)
        for point in points:
            names.update(point.attributes)
            names.add(str(point.attributes.get(semconv.HEALTH_STATUS, semconv.HEALTH_STATUS)))
    constants = {v for k, v in vars(semconv).items() if k.isupper() and isinstance(v, str)}
    assert semconv.LOG_EVENT_HEALTH_STATUS_CHANGE in names
    assert names - constants == set()
    documented = set(re.findall(r"`([^`]+)`", DOC.read_text()))
    assert names - documented == set()


def test_thread_runner_runs_each_check_at_its_interval():
    """start(): checks run at once, then every interval of fake time; stop() ends the thread."""
    clock = FakeClock(auto_advance=False)
    calls = {"fast": 0, "slow": 0}

    def counter(name: str):
        def check() -> bool:
            calls[name] += 1
            return True

        return check

    registry = HealthRegistry(clock=clock)
    registry.register("fast", counter("fast"), interval=10.0)
    registry.register("slow", counter("slow"), interval=30.0)
    handle = registry.start()
    try:
        clock.wait_for_sleepers(1)
        assert calls == {"fast": 1, "slow": 1}
        assert registry.status() is HealthStatus.HEALTHY
        for _ in range(3):
            clock.advance(10.0)
            clock.wait_for_sleepers(1)
        assert calls == {"fast": 4, "slow": 2}
    finally:
        handle.stop()
        clock.advance(60.0)
        handle.join(5.0)
    assert not handle.running


def test_asyncio_runner_runs_checks_and_stops():
    """astart(): a task of the running loop runs due checks; stop() cancels it."""
    clock = FakeClock(auto_advance=False)
    runs: list[float] = []

    async def check() -> bool:
        runs.append(clock.monotonic())
        return True

    async def main() -> None:
        registry = HealthRegistry(clock=clock)
        registry.register("a", check, interval=5.0)
        handle = registry.astart()
        await clock.wait_for_sleepers_async(1)
        clock.advance(5.0)
        await clock.wait_for_sleepers_async(1)
        handle.stop()
        await asyncio.sleep(0)
        assert registry.status() is HealthStatus.HEALTHY

    asyncio.run(main())
    assert runs == [0.0, 5.0]
