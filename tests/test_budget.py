"""Budget: CPU-, memory- and sleep-bound blocks trip the right violation; telemetry; modes."""

from __future__ import annotations

import asyncio
import time

import pytest

from otel_resilience import Budget, BudgetExceededError, Pipeline, semconv


def _spin(cpu_seconds: float) -> None:
    start = time.thread_time()
    while time.thread_time() - start < cpu_seconds:
        pass


def test_cpu_bound_trips_cpu() -> None:
    """A busy loop trips max_cpu, not a generous max_duration."""
    with pytest.raises(BudgetExceededError) as info, Budget(max_cpu=0.02, max_duration=60):
        _spin(0.1)
    (violation,) = info.value.violations
    assert violation.resource == "cpu"
    assert violation.limit == 0.02
    assert violation.used >= 0.1


@pytest.mark.parametrize("memory", ["rss", "tracemalloc"])
def test_memory_bound_trips_memory(memory: str) -> None:
    """Holding 64 MB at the block's end trips a 16 MB max_memory, measured both ways."""

    def hold() -> None:
        with Budget(max_memory=16 << 20, memory=memory):
            held = bytearray(64 << 20)
            held[::4096] = b"x" * len(held[::4096])  # touch every page: resident, not mapped

    with pytest.raises(BudgetExceededError) as info:
        hold()
    assert [v.resource for v in info.value.violations] == ["memory"]
    assert info.value.violations[0].used >= 60 << 20


def test_sleep_bound_trips_duration(fake_clock) -> None:
    """A block that sleeps trips max_duration (on the clock) and not max_cpu."""
    budget = Budget(max_duration=1.0, max_cpu=10.0, clock=fake_clock)
    with pytest.raises(BudgetExceededError) as info, budget:
        fake_clock.sleep(2.5)
    assert [(v.resource, v.used) for v in info.value.violations] == [("duration", 2.5)]


def test_real_sleep_trips_duration() -> None:
    """A short real sleep trips a tiny max_duration; generous bounds, never a timing assert."""
    with pytest.raises(BudgetExceededError) as info, Budget(max_duration=0.001, max_cpu=5.0):
        time.sleep(0.02)
    assert [v.resource for v in info.value.violations] == ["duration"]


def test_strategy_telemetry_and_record_mode(run, fake_clock, otel_capture) -> None:
    """In a pipeline (sync and async), record mode returns the result and records span
    attributes, the budget_exceeded event and resilience.budget.usage by resource."""
    budget = Budget(max_duration=1.0, max_cpu=30.0, mode="record")
    pipeline = Pipeline("report", budget, clock=fake_clock, **otel_capture.providers)

    def slow() -> str:
        fake_clock.advance(3.0)
        return "done"

    assert run(pipeline, slow) == "done"
    span = otel_capture.span("report")
    assert span.attributes[semconv.BUDGET_DURATION] == 3.0
    assert list(span.attributes[semconv.BUDGET_EXCEEDED]) == ["duration"]
    assert semconv.BUDGET_CPU in span.attributes
    events = otel_capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: "budget_exceeded"})
    assert [dict(p.attributes)[semconv.BUDGET_RESOURCE] for p in events] == ["duration"]
    usage = {
        dict(p.attributes)[semconv.BUDGET_RESOURCE]: p.sum
        for p in otel_capture.metric_points(semconv.METRIC_BUDGET_USAGE)
    }
    assert usage["duration"] == 3.0
    assert usage["cpu"] < 1.0
    assert {dict(p.attributes)[semconv.PIPELINE_NAME] for p in events} == {"report"}
    assert {
        dict(p.attributes)[semconv.BUDGET_NAME]
        for p in otel_capture.metric_points(semconv.METRIC_BUDGET_USAGE)
    } == {"report"}


def test_raise_mode_in_pipeline_and_failing_block(run, fake_clock) -> None:
    """Over the limit the pipeline raises BudgetExceededError; a block that raised keeps its
    own exception."""
    pipeline = Pipeline("p", Budget(max_duration=1.0), clock=fake_clock)
    error = run.raises(BudgetExceededError, pipeline, lambda: fake_clock.advance(2.0))
    assert error.name == "p"

    def fails() -> None:
        fake_clock.advance(2.0)
        raise KeyError("own")

    run.raises(KeyError, pipeline, fails)


def test_decorator_sync_and_async(fake_clock) -> None:
    """As a decorator on def and async def, each call is checked."""
    budget = Budget(max_duration=1.0, clock=fake_clock)

    @budget
    def quick() -> int:
        return 1

    @budget
    async def slow() -> int:
        await fake_clock.asleep(5.0)
        return 2

    assert quick() == 1
    with pytest.raises(BudgetExceededError):
        asyncio.run(slow())


def test_invalid_options_name_the_field() -> None:
    """Invalid limits and modes raise ValueError naming the field."""
    for kwargs, field in (
        ({"max_cpu": 0}, "max_cpu"),
        ({"max_duration": -1}, "max_duration"),
        ({"max_memory": True}, "max_memory"),
        ({"mode": "warn"}, "mode"),
        ({"memory": "vms"}, "memory"),
    ):
        with pytest.raises(ValueError, match=field):
            Budget(**kwargs)
