"""A RedisStateStore that loses its server fails open: calls go on, bounded, with telemetry."""

from __future__ import annotations

import contextlib
import logging
import os
import time

import pytest

from otel_resilience import CircuitBreaker, CircuitOpenError, Pipeline, semconv
from otel_resilience.store import RedisStateStore
from tests import store_support
from tests.store_support import until

# Fixtures of the real redis-server (and of a server that never answers).
redis_server = store_support.redis_server
silent_listener = store_support.silent_listener


def _down() -> None:
    raise ConnectionError("dependency down")


def _events(capture, event: str) -> int:  # type: ignore[no-untyped-def]
    points = capture.metrics().get(semconv.METRIC_EVENTS, [])
    return sum(p.value for p in points if p.attributes.get(semconv.EVENT) == event)


def _connected(capture) -> list[int]:  # type: ignore[no-untyped-def]
    return [p.value for p in capture.metrics().get(semconv.METRIC_STATE_STORE_CONNECTED, [])]


def test_server_killed_and_restarted(redis_server, otel_capture, caplog):
    """SIGKILL mid-run: no call fails, one error log and event; back after a restart, one log."""
    store = RedisStateStore(
        redis_server.url,
        sync_interval=0.02,
        backoff=0.05,
        max_backoff=0.1,
        meter_provider=otel_capture.meter_provider,
        logger_provider=otel_capture.logger_provider,
    )
    breaker = CircuitBreaker(
        name="dep", minimum_calls=50, window=100, window_type="count", store=store
    )
    pipeline = Pipeline("calls", breaker)
    caplog.set_level(logging.WARNING, logger="otel_resilience.store")
    for _ in range(50):
        assert pipeline.call(lambda: "ok") == "ok"
    until(lambda: store.connected is True, "first sync")
    assert _connected(otel_capture) == [1]
    redis_server.kill()
    for _ in range(200):  # the dependency is fine: no call may fail because Redis died
        assert pipeline.call(lambda: "ok") == "ok"
    until(lambda: store.connected is False, "the sync thread notices")
    for _ in range(200):
        assert pipeline.call(lambda: "ok") == "ok"
    assert _connected(otel_capture) == [0]
    assert _events(otel_capture, semconv.EVENT_STATE_STORE_ERROR) >= 1
    redis_server.start()  # same port
    until(lambda: store.connected is True, "re-synced after the restart")
    logs = [r.log_record.event_name for r in otel_capture.logs()]
    assert logs.count(semconv.LOG_EVENT_STATE_STORE_DISCONNECTED) == 1
    assert logs.count(semconv.LOG_EVENT_STATE_STORE_RECONNECTED) == 1
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unreachable" in m for m in messages) == 1
    assert sum("is back" in m for m in messages) == 1
    # Re-synced: a failure burst now reaches the restarted server and opens the breaker there.
    for _ in range(60):
        with contextlib.suppress(ConnectionError, CircuitOpenError):
            pipeline.call(_down)
    until(lambda: redis_server.client().hget("otel-resilience:cb:{dep}", "st") == b"1", "fleet")
    store.close()


def test_silent_server_bounds_the_call(silent_listener, run):
    """A Redis that accepts and never answers costs a call at most one command timeout, and
    the calls after it (backing off) nothing."""
    store = RedisStateStore(
        silent_listener.url,
        sync_interval=60,
        command_timeout=0.1,
        connect_timeout=0.1,
        backoff=30.0,
        max_backoff=30.0,
    )
    breaker = CircuitBreaker(
        name="dep", minimum_calls=1, window=1, window_type="count", break_duration=0.01, store=store
    )
    pipeline = Pipeline("silent", breaker)
    with pytest.raises(ConnectionError):
        run(pipeline, _down)
    until(lambda: breaker.state.value == "half_open", "break over")
    started = time.monotonic()
    assert run(pipeline, lambda: "probe") == "probe"  # the fleet slot is not answered: local
    first = time.monotonic() - started
    assert store.connected is False
    with pytest.raises(ConnectionError):
        run(pipeline, _down)
    until(lambda: breaker.state.value == "half_open", "break over again")
    started = time.monotonic()
    assert run(pipeline, lambda: "probe") == "probe"
    second = time.monotonic() - started
    assert first < 0.1 + 0.1 + 1.0  # connect + command timeout, generous for a loaded machine
    assert second < first  # backing off: Redis is not asked again
    store.close()


def test_deadline_shorter_than_a_round_trip_skips_redis(redis_server):
    """A call whose deadline leaves less than command_timeout never waits for Redis."""
    from otel_resilience import deadline

    store = RedisStateStore(redis_server.url, sync_interval=60, command_timeout=0.25)
    with deadline.scope(0.1):
        assert store.acquire("k", 10.0, 1, 0.0) is None
    assert store.acquire("k", 10.0, 1, 0.0) == (True, 0.0)
    store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_forked_child_gets_fresh_connections_and_counts(redis_server):
    """After fork the child has no parent socket, its own sync thread and zero pending counts."""
    store = RedisStateStore(redis_server.url, sync_interval=60)
    breaker = CircuitBreaker(name="forked", store=store)
    pipeline = Pipeline("forked", breaker)
    for _ in range(5):
        pipeline.call(lambda: "ok")
    parent_thread = store._thread
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running pytest's teardown
        try:
            link = breaker._link
            ok = (
                store._client is None
                and store._thread is not parent_thread
                and store._thread is not None
                and store._thread.is_alive()
                and link.batch()[0][0] == 0
            )
            store.sync()
            ok = ok and store.connected is True
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"1"
    assert breaker._link.batch()[0][0] == 5  # the parent's counts are untouched
    store.close()
