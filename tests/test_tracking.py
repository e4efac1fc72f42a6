"""ErrorTracker: fingerprints, groups, recovery through pipelines, export, breadcrumbs, bounds."""

from __future__ import annotations

import asyncio
import threading
import tracemalloc

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_resilience import ErrorTracker, Fallback, Pipeline, Retry, semconv


def _lookup(user_id: int) -> None:
    raise KeyError(f"user {user_id} (session 9f8a7b6c-1d2e-4f3a-8b9c-0d1e2f3a4b5c) not found")


def _from_checkout(tracker: ErrorTracker, user_id: int) -> str | None:
    try:
        _lookup(user_id)
    except KeyError as exc:
        return tracker.capture(exc)
    return None


def _from_profile(tracker: ErrorTracker, user_id: int) -> str | None:
    try:
        _lookup(user_id)
    except KeyError as exc:
        return tracker.capture(exc)
    return None


def test_two_call_sites_group_apart() -> None:
    """The same error raised through two different call sites makes two groups."""
    tracker = ErrorTracker()
    a = _from_checkout(tracker, 1)
    b = _from_profile(tracker, 1)
    assert a is not None
    assert b is not None
    assert a != b
    assert sorted(g["count"] for g in tracker.groups()) == [1, 1]


def test_ids_in_the_message_are_masked() -> None:
    """The same site with other ids, numbers and UUIDs in its message is one group."""
    tracker = ErrorTracker()
    keys = {_from_checkout(tracker, i) for i in (7, 42, 123456)}
    assert len(keys) == 1
    (group,) = tracker.groups()
    assert group["count"] == 3
    assert group["type"] == "KeyError"
    assert "42" not in group["message"]
    assert "<n>" in group["message"]
    assert "<uuid>" in group["message"]


def test_group_carries_classification_and_trace(otel_capture) -> None:
    """A group has the classifier's category and severity, and the current trace id."""
    tracker = ErrorTracker(**otel_capture.providers)
    tracer = otel_capture.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("req") as span:
        tracker.capture(TimeoutError("read timed out after 30s"))
    (group,) = tracker.groups()
    assert group["category"] == "timeout"
    assert group["severity"] == "medium"
    assert group["sample_trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_exported_log_record(otel_capture) -> None:
    """Each error is a resilience.error log record with the exception semconv, fingerprint,
    group count and breadcrumbs, correlated with the trace; resilience.errors counts by
    category only."""
    tracker = ErrorTracker(**otel_capture.providers)
    tracer = otel_capture.tracer_provider.get_tracer("t")
    tracker.breadcrumb("checkout started", cart=3)
    with tracer.start_as_current_span("req") as span:
        for i in range(2):
            try:
                raise ConnectionError(f"connect to 10.0.0.{i} refused")
            except ConnectionError as exc:
                key = tracker.capture(exc)
    records = otel_capture.logs(semconv.LOG_EVENT_ERROR)
    assert len(records) == 2
    record = records[1].log_record
    attrs = record.attributes or {}
    assert attrs[semconv.EXCEPTION_TYPE] == "ConnectionError"
    assert attrs[semconv.EXCEPTION_MESSAGE] == "connect to 10.0.0.1 refused"
    assert "raise ConnectionError" in attrs[semconv.EXCEPTION_STACKTRACE]
    assert attrs[semconv.ERROR_FINGERPRINT] == key
    assert attrs[semconv.ERROR_GROUP_COUNT] == 2
    assert attrs[semconv.ERROR_CATEGORY] == "connection"
    assert any("checkout started" in c and "cart=3" in c for c in attrs[semconv.ERROR_BREADCRUMBS])
    assert record.trace_id == span.get_span_context().trace_id
    points = otel_capture.metric_points(semconv.METRIC_ERRORS)
    assert [(dict(p.attributes), p.value) for p in points] == [
        ({semconv.ERROR_CATEGORY: "connection"}, 2)
    ]


def test_retried_failure_is_marked_recovered(run) -> None:
    """Innermost, the strategy captures each attempt's failure; a retry that then succeeds
    marks the group recovered."""
    tracker = ErrorTracker()
    pipeline = Pipeline("p", Retry(max_attempts=3, base_delay=0), tracker.strategy())
    calls: list[int] = []

    def dependency() -> list[str]:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("down")
        return [c.message for c in tracker.breadcrumbs()]

    trail = run(pipeline, dependency)
    (group,) = tracker.groups()
    assert group["recovered"] is True
    assert group["recovered_count"] == 1
    assert trail == ["p: ConnectionError", "p: retrying after 1 failure(s)"]


def test_fallback_recovery_and_final_failure(run, flaky) -> None:
    """Outermost, it marks failures a Fallback served as recovered; a failure nothing
    overcame is captured once (by both instances) and not recovered."""
    tracker = ErrorTracker()
    served = Pipeline("served", tracker.strategy(), Fallback(value="cached"), tracker.strategy())
    assert run(served, flaky(ValueError("bad"), ValueError("bad"))) == "cached"
    failing = Pipeline("failing", tracker.strategy(), tracker.strategy())
    run.raises(OSError, failing, flaky(OSError("disk")))
    by_type = {g["type"]: g for g in tracker.groups()}
    assert by_type["ValueError"]["recovered"] is True
    assert by_type["OSError"]["count"] == 1
    assert by_type["OSError"]["recovered"] is False


def test_ignore_and_repeat_sampling(otel_capture) -> None:
    """Ignored types and patterns are not tracked; repeats are counted but, at rate 0, only
    the first occurrence is exported."""
    tracker = ErrorTracker(
        ignore=(KeyboardInterrupt, r"^ValueError: expected"),
        repeat_sample_rate=0.0,
        **otel_capture.providers,
    )
    assert tracker.capture(KeyboardInterrupt()) is None
    assert tracker.capture(ValueError("expected noise")) is None
    for _ in range(5):
        tracker.capture(RuntimeError("boom"))
    assert [g["count"] for g in tracker.groups()] == [5]
    assert len(otel_capture.logs(semconv.LOG_EVENT_ERROR)) == 1


def test_hostile_exception_never_raises() -> None:
    """An exception whose str() raises, or with a huge message, is still tracked."""

    class Hostile(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    tracker = ErrorTracker()
    assert tracker.capture(Hostile()) is not None
    assert tracker.capture(ValueError("x" * 5_000_000)) is not None
    assert {g["message"][:21] for g in tracker.groups()} == {"<unprintable exceptio", "x" * 21}


def test_breadcrumbs_per_context_and_bounded() -> None:
    """Threads and tasks keep their own trails; a trail keeps the newest max_breadcrumbs."""
    tracker = ErrorTracker(max_breadcrumbs=3)
    for i in range(5):
        tracker.breadcrumb(f"main {i}")
    seen: dict[str, list[str]] = {}

    def worker(name: str) -> None:
        tracker.breadcrumb(name)
        seen[name] = [c.message for c in tracker.breadcrumbs()]

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def task(name: str) -> list[str]:
        tracker.breadcrumb(name)
        await asyncio.sleep(0)
        return [c.message for c in tracker.breadcrumbs()]

    async def both() -> list[list[str]]:
        return list(await asyncio.gather(task("a"), task("b")))

    assert asyncio.run(both()) == [["main 3", "main 4", "a"], ["main 3", "main 4", "b"]]
    assert seen == {"t0": ["t0"], "t1": ["t1"]}
    assert [c.message for c in tracker.breadcrumbs()] == ["main 2", "main 3", "main 4"]


def _word(i: int) -> str:
    letters = []
    while True:
        i, r = divmod(i, 26)
        letters.append(chr(97 + r))
        if i == 0:
            return "".join(letters)


def test_bounded_under_100k_distinct_errors() -> None:
    """100,000 distinct errors keep max_groups groups, and memory stays flat."""
    tracker = ErrorTracker(max_groups=200, meter_provider=MeterProvider([InMemoryMetricReader()]))
    for i in range(90_000):
        tracker.capture(ValueError(f"failure {_word(i)}"))
    # Tracing slows every allocation ten-fold: trace the last 10,000 only. The first 5,000
    # replace every group (allocated before tracing), the next 5,000 must not add anything.
    tracemalloc.start()
    try:
        for i in range(90_000, 95_000):
            tracker.capture(ValueError(f"failure {_word(i)}"))
        before = tracemalloc.get_traced_memory()[0]
        for i in range(95_000, 100_000):
            tracker.capture(ValueError(f"failure {_word(i)}"))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(tracker.groups()) == 200
    assert tracker.evicted == 100_000 - 200
    assert grown < 16 * 1024, grown


def test_invalid_options_name_the_field() -> None:
    """Invalid options raise ValueError naming the field."""
    for kwargs, field in (
        ({"max_groups": 0}, "max_groups"),
        ({"repeat_sample_rate": 2}, "repeat_sample_rate"),
        ({"ignore": ("(",)}, "ignore"),
        ({"ignore": (3,)}, "ignore"),
    ):
        with pytest.raises(ValueError, match=field):
            ErrorTracker(**kwargs)


def test_scrub_cleans_messages_before_templating(otel_capture) -> None:
    """With scrub, the kept template and the exported message are the scrubbed text."""
    tracker = ErrorTracker(
        scrub=lambda text: text.replace("hunter2", "[REDACTED]"), **otel_capture.providers
    )
    tracker.capture(PermissionError("login failed with password hunter2"))
    (group,) = tracker.groups()
    assert group["message"] == "login failed with password [REDACTED]"
    (record,) = otel_capture.logs(semconv.LOG_EVENT_ERROR)
    assert "hunter2" not in str(record.log_record.attributes)
    assert "hunter2" not in str(record.log_record.body)
