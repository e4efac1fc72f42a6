"""CircuitBreaker on a RedisStateStore, against a real redis-server: the fleet's breaker."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from otel_resilience import CircuitBreaker, CircuitBreakerRegistry, CircuitOpenError, Pipeline
from otel_resilience.store import RedisStateStore
from tests import store_support
from tests.store_support import until

# Fixtures of the real redis-server (and of a server that never answers).
redis_server = store_support.redis_server

ROOT = Path(__file__).resolve().parents[1]
# A long sync interval: the tests drive store.sync() themselves, so nothing depends on timing.
QUIET = 60.0


def _down() -> None:
    raise ConnectionError("dependency down")


def _breaker(store: RedisStateStore, name: str = "dep", **kw: object) -> CircuitBreaker:
    opts: dict[str, object] = {
        "minimum_calls": 4,
        "window": 100,
        "window_type": "count",
        "break_duration": 0.2,
    }
    opts.update(kw)
    return CircuitBreaker(name=name, store=store, **opts)  # type: ignore[arg-type]


def _fail(run, pipeline: Pipeline, times: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(times):
        with pytest.raises(ConnectionError):
            run(pipeline, _down)


def test_success_path_makes_no_round_trip(redis_server, run):
    """1,000 successful calls send no command; one sync then sends them as one script call."""
    store = RedisStateStore(redis_server.url, sync_interval=QUIET)
    pipeline = Pipeline("quiet", _breaker(store, window=5000))
    run(pipeline, lambda: "warm")
    store.sync()
    before = redis_server.commands()
    for _ in range(1000):
        assert run(pipeline, lambda: "ok") == "ok"
    after = redis_server.commands()
    # Only the probe's own connection (HELLO) and INFO moved: the calls sent nothing.
    moved = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert moved == {"hello": 1, "info": 1}
    store.sync()
    assert redis_server.commands()["evalsha"] == before["evalsha"] + 1
    window = redis_server.client().hgetall("otel-resilience:cb:{dep}:w")
    assert float(window[b"c"]) == 1001
    store.close()


def test_failures_pool_across_processes(redis_server, run):
    """Two stores (two processes) each see 2 failures: together they reach minimum_calls=4."""
    a = RedisStateStore(redis_server.url, sync_interval=QUIET)
    b = RedisStateStore(redis_server.url, sync_interval=QUIET)
    ba, bb = _breaker(a), _breaker(b)
    pa, pb = Pipeline("a", ba), Pipeline("b", bb)
    client = redis_server.client()
    _fail(run, pa, 2)
    a.sync()  # failures also wake the sync thread: either way they reach the fleet
    assert float(client.hget("otel-resilience:cb:{dep}:w", "f")) == 2
    assert (ba.state.value, bb.state.value) == ("closed", "closed")  # 2 of 4: not yet
    _fail(run, pb, 2)
    until(lambda: bb.state.value == "open", "b learns the fleet opened")
    until(lambda: a.sync() or ba.state.value == "open", "a learns it")
    run.raises(CircuitOpenError, pa, lambda: "never")
    a.close()
    b.close()


def test_local_opening_is_broadcast(redis_server):
    """A breaker that opens on its own window opens every process's breaker."""
    a = RedisStateStore(redis_server.url, sync_interval=QUIET)
    b = RedisStateStore(redis_server.url, sync_interval=QUIET)
    # a trips locally at 2 calls; the fleet's rule (b's options) would need 50.
    ba = _breaker(a, minimum_calls=2, window=2)
    bb = _breaker(b, minimum_calls=50)
    _fail(lambda p, f: p.call(f), Pipeline("a", ba), 2)
    assert ba.state.value == "open"
    until(lambda: b.sync() or bb.state.value == "open", "b learns a's decision")
    a.close()
    b.close()


def test_half_open_probes_are_bounded_fleet_wide(redis_server, run):
    """After the break, one probe runs in the whole fleet (half_open_max_calls=1), not one per
    process; its success closes every process's breaker."""
    a = RedisStateStore(redis_server.url, sync_interval=QUIET)
    b = RedisStateStore(redis_server.url, sync_interval=QUIET)
    ba, bb = _breaker(a, break_duration=0.05), _breaker(b, break_duration=0.05)
    pa, pb = Pipeline("a", ba), Pipeline("b", bb)
    _fail(run, pa, 4)
    until(lambda: b.sync() or bb.state.value == "open", "b learns the opening")
    until(lambda: ba.state.value == "half_open" and bb.state.value == "half_open", "break over")
    seen: dict[str, object] = {}

    def probe_in_a() -> str:
        # While a's probe runs, b's call (another thread: its own loop) finds no slot left.
        with ThreadPoolExecutor(1) as pool:
            seen["b"] = pool.submit(lambda: type(run.raises(CircuitOpenError, pb, str))).result()
        return "a"

    assert run(pa, probe_in_a) == "a"
    assert seen["b"] is CircuitOpenError
    until(lambda: b.sync() or bb.state.value == "closed", "the probe's success closes b")
    assert ba.state.value == "closed"
    assert run(pb, lambda: "b") == "b"
    a.close()
    b.close()


def test_registry_hands_its_store_to_every_breaker(redis_server):
    """CircuitBreakerRegistry(store=...) links each breaker by its name; keys expire."""
    store = RedisStateStore(redis_server.url, sync_interval=QUIET, key_ttl=30)
    registry = CircuitBreakerRegistry(
        name="hosts", store=store, minimum_calls=1, window=10, window_type="count"
    )
    pipeline = Pipeline("reg", registry.get("api.example"))
    with pytest.raises(ConnectionError):
        pipeline.call(_down)
    store.sync()
    client = redis_server.client()
    assert client.hget("otel-resilience:cb:{hosts.api.example}", "st") == b"1"
    assert 0 < client.pttl("otel-resilience:cb:{hosts.api.example}") <= 60_000
    store.close()


def test_sync_thread_shares_an_opening_within_the_interval(redis_server):
    """With the background sync on (0.05 s), b rejects soon after a's breaker opened."""
    a = RedisStateStore(redis_server.url, sync_interval=0.05)
    b = RedisStateStore(redis_server.url, sync_interval=0.05)
    ba, bb = _breaker(a, break_duration=30.0), _breaker(b, break_duration=30.0)
    _fail(lambda p, f: p.call(f), Pipeline("a", ba), 4)
    until(lambda: bb.state.value == "open", "b learns the opening")
    a.close()
    b.close()


def test_count_window_drops_the_oldest_calls(redis_server):
    """The fleet's count window holds the last `window` calls: after 10 successes, the 5th
    failure (flushed one at a time) makes 5 of the last 10 and opens it, not the 4th."""
    a = RedisStateStore(redis_server.url, sync_interval=QUIET)
    b = RedisStateStore(redis_server.url, sync_interval=QUIET)
    ba = _breaker(a, name="ring", window=10, minimum_calls=10)
    bb = _breaker(b, name="ring", window=10, minimum_calls=10)
    pa, pb = Pipeline("a", ba), Pipeline("b", bb)
    for _ in range(10):
        pa.call(lambda: "ok")
    a.sync()
    client = redis_server.client()
    for n in range(1, 6):
        with pytest.raises(ConnectionError):
            pb.call(_down)
        b.sync()
        until(
            lambda n=n: float(client.hget("otel-resilience:cb:{ring}:w", "f") or 5) >= n,
            "the failure reached the fleet",
        )
        state = client.hget("otel-resilience:cb:{ring}", "st")
        assert state == (b"1" if n == 5 else None), n
    a.close()
    b.close()


def test_acl_user_limited_to_the_prefix(redis_server):
    """The ACL of docs/shared-state.md is enough for breakers, limiters and budgets, and
    keeps the user out of other keys."""
    import redis

    from otel_resilience import RateLimiter, Retry, RetryBudget

    doc = (ROOT / "docs" / "shared-state.md").read_text(encoding="utf-8")
    acl = next(line for line in doc.splitlines() if line.startswith("ACL SETUSER"))
    admin = redis_server.client()
    admin.execute_command(*acl.split())
    url = f"redis://resilience:secret@127.0.0.1:{redis_server.port}/0"
    store = RedisStateStore(url, prefix="checkout", sync_interval=QUIET)
    breaker = _breaker(store, name="acl", minimum_calls=1, window=1)
    with pytest.raises(ConnectionError):
        Pipeline("acl", breaker).call(_down)
    store.sync()
    assert store.connected is True
    assert admin.hget("checkout:cb:{acl}", "st") == b"1"
    limiter = Pipeline("rl", RateLimiter(name="acl", rate=5, store=store))
    limiter.call(lambda: None)
    budget = RetryBudget(name="acl", store=store)
    with pytest.raises(ConnectionError):
        Pipeline("rb", Retry(max_attempts=2, base_delay=0.0, budget=budget)).call(_down)
    store.sync()
    assert store.connected is True
    assert admin.exists("checkout:rl:{acl}", "checkout:rb:{acl}") == 2
    user = redis.Redis.from_url(url)
    with pytest.raises(redis.exceptions.NoPermissionError):
        user.get("other:key")
    store.close()


def test_time_window_pools_by_server_time_bucket(redis_server):
    """A time-window breaker pools outcomes in the fleet's buckets of Redis server time."""
    a = RedisStateStore(redis_server.url, sync_interval=QUIET)
    b = RedisStateStore(redis_server.url, sync_interval=QUIET)
    opts = {"name": "timed", "window": 60.0, "window_type": "time", "minimum_calls": 4}
    ba, bb = _breaker(a, **opts), _breaker(b, **opts)
    pa, pb = Pipeline("a", ba), Pipeline("b", bb)
    pa.call(lambda: "ok")
    _fail(lambda p, f: p.call(f), pa, 1)
    _fail(lambda p, f: p.call(f), pb, 1)
    a.sync()
    b.sync()
    window = redis_server.client().hgetall("otel-resilience:cb:{timed}:w")
    assert sum(int(v) for k, v in window.items() if k.endswith(b":c")) == 3
    assert redis_server.client().hget("otel-resilience:cb:{timed}", "st") is None  # 3 < 4 calls
    _fail(lambda p, f: p.call(f), pb, 1)  # 3 failures of 4 calls: opens the fleet
    until(lambda: a.sync() or ba.state.value == "open", "a learns the opening")
    a.close()
    b.close()


def test_a_shared_breaker_gives_no_closed_permit(redis_server):
    """The HTTP fast path's permit is refused to a store-shared breaker (a success counted
    there skips on_success, so the fleet would never see it); a local breaker gets one."""
    shared = _breaker(RedisStateStore(redis_server.url, sync_interval=QUIET))
    local = CircuitBreaker(name="local")
    for breaker in (shared, local):
        Pipeline(breaker.name, breaker).call(lambda: "warm")
    assert shared._closed_permit() is None
    assert local._closed_permit() == 0
