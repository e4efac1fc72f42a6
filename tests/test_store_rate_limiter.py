"""RateLimiter on a RedisStateStore, against a real redis-server: one budget for the fleet."""

from __future__ import annotations

import pytest

from otel_resilience import Pipeline, RateLimitedError, RateLimiter, RateLimiterRegistry
from otel_resilience.store import RedisStateStore
from tests import store_support

# Fixture of the real redis-server.
redis_server = store_support.redis_server


def test_two_processes_share_one_burst(redis_server, run):
    """Two stores (two processes) with the same limiter name share its 5 permits."""
    a = RedisStateStore(redis_server.url, sync_interval=60)
    b = RedisStateStore(redis_server.url, sync_interval=60)
    pa = Pipeline("a", RateLimiter(name="api", rate=5, per=60.0, store=a))
    pb = Pipeline("b", RateLimiter(name="api", rate=5, per=60.0, store=b))
    admitted, waits = 0, []
    for pipeline in (pa, pb) * 4:
        try:
            run(pipeline, lambda: None)
            admitted += 1
        except RateLimitedError as refused:
            waits.append(refused.retry_after)
    assert admitted == 5  # not 5 per process
    assert len(waits) == 3
    assert all(0 < w <= 12.0 + 0.5 for w in waits)  # one permit per 12 s
    a.close()
    b.close()


def test_prefetch_takes_a_batch_per_round_trip(redis_server, run, fake_clock):
    """prefetch=5: five calls cost one Lua call; the sixth another (no time passes locally)."""
    store = RedisStateStore(redis_server.url, sync_interval=60)
    limiter = RateLimiter(name="batch", rate=100, store=store, prefetch=5)
    pipeline = Pipeline("batch", limiter, clock=fake_clock)
    run(pipeline, lambda: None)
    before = redis_server.commands().get("evalsha", 0)
    for _ in range(4):
        run(pipeline, lambda: None)
    assert redis_server.commands().get("evalsha", 0) == before
    run(pipeline, lambda: None)
    assert redis_server.commands().get("evalsha", 0) == before + 1
    store.close()


def test_fleet_reservation_waits_its_delay(redis_server, fake_clock):
    """A permit free within max_wait is reserved on the server; the call sleeps the delay."""
    store = RedisStateStore(redis_server.url, sync_interval=60)
    limiter = RateLimiter(name="wait", rate=10, burst=1, max_wait=1.0, store=store)
    pipeline = Pipeline("wait", limiter, clock=fake_clock)
    pipeline.call(lambda: None)
    started = fake_clock.monotonic()
    pipeline.call(lambda: None)
    assert 0.05 <= fake_clock.monotonic() - started <= 0.1 + 1e-6
    store.close()


def test_store_down_limits_locally_at_full_rate(run):
    """With no server, each process's own bucket limits at the full rate (fail open)."""
    url = f"redis://127.0.0.1:{store_support.free_port()}/0"
    store = RedisStateStore(url, sync_interval=60, backoff=60.0, max_backoff=60.0)
    pipeline = Pipeline("down", RateLimiter(name="down", rate=3, per=60.0, store=store))
    for _ in range(3):
        run(pipeline, lambda: None)
    run.raises(RateLimitedError, pipeline, lambda: None)
    assert store.connected is False
    store.close()


def test_registry_passes_store_and_validates_prefetch(redis_server):
    """RateLimiterRegistry(store=, prefetch=) reaches every limiter; a bad prefetch fails fast."""
    store = RedisStateStore(redis_server.url, sync_interval=60)
    registry = RateLimiterRegistry(name="tenants", rate=2, per=60.0, store=store)
    registry.get("t1")
    other = RateLimiterRegistry(name="tenants", rate=2, per=60.0, store=store)
    Pipeline("r1", registry.get("t1")).call(lambda: None)
    Pipeline("r2", other.get("t1")).call(lambda: None)
    with pytest.raises(RateLimitedError):
        Pipeline("r3", other.get("t1")).call(lambda: None)
    assert redis_server.client().pttl("otel-resilience:rl:{tenants.t1}") > 0
    with pytest.raises(ValueError, match="prefetch"):
        RateLimiter(rate=2, prefetch=3)
    store.close()
