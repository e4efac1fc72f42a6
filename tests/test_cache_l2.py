"""ResponseCache(store=RedisStateStore): a local L1 backed by a shared L2, failing open."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from otel_resilience import Pipeline, ResponseCache, deadline, semconv
from otel_resilience.cache.codec import PickleCodec
from otel_resilience.store import MemoryStateStore, RedisStateStore, configure_store
from tests import store_support
from tests.store_support import until

redis_server = store_support.redis_server
silent_listener = store_support.silent_listener


class Dep:
    """A dependency that counts its calls and returns ``result``."""

    def __init__(self, result: Any = "v") -> None:
        self.calls = 0
        self.result = result

    def __call__(self, x: int = 0) -> Any:
        self.calls += 1
        return self.result


def _store(server: Any, **kw: Any) -> RedisStateStore:
    return RedisStateStore(server.url, prefix="t", sync_interval=60, **kw)


def _cache(store: Any, name: str = "users", **kw: Any) -> Pipeline:
    kw.setdefault("key", lambda x=0: ("user", x))
    return Pipeline("p-" + name, ResponseCache(name=name, store=store, **kw))


def _events(capture: Any, event: str) -> int:
    points = capture.metrics().get(semconv.METRIC_EVENTS, [])
    return sum(p.value for p in points if p.attributes.get(semconv.EVENT) == event)


def test_second_process_hits_the_first_ones_entry(redis_server, run):
    """Two stores (two processes): the second cache answers from Redis, the dependency ran once."""
    dep = Dep({"id": 1, "tags": ["a"]})
    a, b = _store(redis_server), _store(redis_server)
    first, second = _cache(a), _cache(b)
    assert run(first, dep, 7) == {"id": 1, "tags": ["a"]}
    assert run(second, dep, 7) == {"id": 1, "tags": ["a"]}
    assert dep.calls == 1
    stats = second.strategies[0].l2_stats()
    assert (stats.hits, stats.misses) == (1, 0)
    assert second.strategies[0].stats().hits == 1
    assert run(second, dep, 8) == {"id": 1, "tags": ["a"]}  # another key: a call
    assert dep.calls == 2
    a.close(), b.close()


def test_cache_name_is_part_of_the_key(redis_server):
    """Caches of different names never share entries."""
    dep = Dep()
    store = _store(redis_server)
    _cache(store, "one").call(dep, 1)
    _cache(store, "two").call(dep, 1)
    assert dep.calls == 2
    keys = sorted(k.decode() for k in redis_server.client().keys("t:cache:*") if b":" in k)
    assert any(k.startswith("t:cache:{one:") for k in keys)
    assert any(k.startswith("t:cache:{two:") for k in keys)
    assert all(redis_server.client().pttl(k) > 0 for k in keys)  # every key expires
    store.close()


def test_default_call_key_is_shared_without_a_key_function(redis_server):
    """A plain module-level function and JSON-able arguments share without ``key=``."""
    a, b = _store(redis_server), _store(redis_server)
    pa = Pipeline("a", ResponseCache(name="fn", store=a))
    pb = Pipeline("b", ResponseCache(name="fn", store=b))
    assert pa.call(_square, 3, scale={"k": [1, 2]}) == 9
    assert pb.call(_square, 3, scale={"k": [1, 2]}) == 9
    assert pb.strategies[0].l2_stats().hits == 1
    a.close(), b.close()


def _square(x: int, scale: Any = None) -> int:
    return x * x


def test_l1_hit_makes_no_round_trip(redis_server, run):
    """Once in L1, hits do not talk to Redis at all."""
    store = _store(redis_server)
    pipeline = _cache(store)
    run(pipeline, Dep(), 1)
    before = redis_server.commands()
    for _ in range(50):
        assert run(pipeline, Dep(), 1) == "v"
    after = redis_server.commands()
    own = ("info", "hello")  # the commands() connection's own
    assert {k: v for k, v in after.items() if k not in own} == {
        k: v for k, v in before.items() if k not in own
    }
    store.close()


def test_value_the_codec_refuses_stays_local(redis_server, otel_capture, run):
    """A tuple (JSON would return a list) is kept in L1 only, and counted."""
    store = _store(redis_server)
    pipeline = Pipeline(
        "p",
        ResponseCache(name="c", store=store, key=lambda x=0: x),
        meter_provider=otel_capture.meter_provider,
    )
    dep = Dep((1, 2))
    assert run(pipeline, dep, 1) == (1, 2)
    assert run(pipeline, dep, 1) == (1, 2)  # L1
    assert pipeline.strategies[0].l2_stats().unencodable == 1
    assert _events(otel_capture, semconv.EVENT_CACHE_L2_UNENCODABLE) == 1
    other = _cache(_store(redis_server), "c", key=lambda x=0: x)
    assert run(other, dep, 1) == (1, 2)
    assert dep.calls == 2  # nothing was shared
    assert redis_server.client().keys("t:cache:{c:*}:lock") == []  # the lock was released
    store.close()


def test_value_too_large_stays_local(redis_server, otel_capture):
    """A value over max_value_bytes is not written, and counted."""
    store = _store(redis_server)
    pipeline = Pipeline(
        "p",
        ResponseCache(name="big", store=store, max_value_bytes=100),
        meter_provider=otel_capture.meter_provider,
    )
    assert pipeline.call(_text, 200) == "x" * 200
    assert pipeline.call(_text, 10) == "x" * 10
    stats = pipeline.strategies[0].l2_stats()
    assert (stats.too_large, stats.stored) == (1, 1)
    assert _events(otel_capture, semconv.EVENT_CACHE_L2_TOO_LARGE) == 1
    store.close()


def _text(n: int) -> str:
    return "x" * n


class Upper:
    """A user codec: str values only, upper-cased on the wire."""

    def encode(self, value: Any) -> bytes:
        return value.upper().encode()

    def decode(self, data: bytes) -> Any:
        return data.decode().lower()


@pytest.mark.parametrize(
    ("codec", "value"), [(PickleCodec(), (1, {2: "x"})), (Upper(), "abc")], ids=["pickle", "user"]
)
def test_explicit_codecs(redis_server, codec, value):
    """pickle (given explicitly) and a user codec round-trip through Redis."""
    a, b = _store(redis_server), _store(redis_server)
    dep = Dep(value)
    _cache(a, codec=codec).call(dep, 1)
    assert _cache(b, codec=codec).call(dep, 1) == value
    assert dep.calls == 1
    a.close(), b.close()


def test_entry_of_another_codec_is_a_miss(redis_server):
    """Bytes the codec cannot decode are a miss, never an error."""
    a, b = _store(redis_server), _store(redis_server)
    dep = Dep("abc")
    _cache(a, codec=PickleCodec()).call(dep, 1)
    assert _cache(b).call(dep, 1) == "abc"  # JSON cannot read pickle
    assert dep.calls == 2
    a.close(), b.close()


def test_cross_process_single_flight(redis_server):
    """While one process computes, another waits for its entry instead of calling."""
    a, b = _store(redis_server), _store(redis_server)
    first, second = _cache(a), _cache(b)
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(x: int) -> str:
        calls.append("slow")
        started.set()
        assert release.wait(store_support.GUARD)
        return "computed"

    leader = threading.Thread(target=lambda: first.call(slow, 1))
    leader.start()
    assert started.wait(store_support.GUARD)
    got: list[str] = []
    fetches = redis_server.commands().get("evalsha", 0)
    follower = threading.Thread(target=lambda: got.append(second.call(slow, 1)))
    follower.start()
    until(lambda: redis_server.commands().get("evalsha", 0) >= fetches + 2, "follower polls")
    release.set()
    leader.join(store_support.GUARD), follower.join(store_support.GUARD)
    assert got == ["computed"]
    assert calls == ["slow"]
    stats = second.strategies[0].l2_stats()
    assert (stats.hits, stats.waits) == (1, 1)
    a.close(), b.close()


def test_lease_is_renewed_while_the_call_runs(redis_server):
    """A call longer than the lease keeps its lock (the renewer extends it)."""
    store = _store(redis_server)
    pipeline = _cache(store, lock_lease=0.2)
    seen: list[int] = []

    def long_call(x: int) -> str:
        time.sleep(0.7)  # real time: the lease (0.2 s) must be renewed in Redis meanwhile
        seen.extend(redis_server.client().pttl(k) for k in redis_server.client().keys("*:lock"))
        return "done"

    assert pipeline.call(long_call, 1) == "done"
    assert len(seen) == 1
    assert 0 < seen[0] <= 200
    assert redis_server.client().keys("*:lock") == []  # released by the write
    store.close()


def test_fencing_refuses_a_writer_whose_lease_lapsed(redis_server):
    """A leader whose lock expired and was taken over cannot overwrite the newer leader."""
    store = _store(redis_server)
    l2 = ResponseCache(name="f", store=store)._l2
    assert l2 is not None
    old = l2.obtain("d")
    assert old.fence == 1
    redis_server.client().delete(old.keys[1])  # the lease lapsed (a long pause)
    new = l2.obtain("d")
    assert new.fence == 2
    new.keep = "new"
    l2.settle(new)
    old.keep = "old"
    l2.settle(old)
    assert redis_server.client().get(old.keys[0]) == b'"new"'
    assert (l2.stats().stored, l2.stats().fenced) == (1, 1)
    store.close()


def test_waiter_gives_up_at_its_deadline(redis_server):
    """A waiter calls the dependency itself rather than wait past its deadline."""
    a, b = _store(redis_server), _store(redis_server)
    l2 = ResponseCache(name="users", store=a)._l2
    assert l2 is not None
    from otel_resilience.cache._stable import stable_key

    held = l2.obtain(stable_key(("user", 1)) or "")  # another process holds the lock
    assert held.fence
    second = _cache(b)
    started = time.monotonic()
    with deadline.scope(0.6):
        assert second.call(Dep("own"), 1) == "own"
    assert time.monotonic() - started < 0.6 + 1.0  # generous: a loaded machine
    assert second.strategies[0].l2_stats().waits == 1
    a.close(), b.close()


def test_dead_redis_fails_open(redis_server, run):
    """Redis killed: calls succeed from the dependency and L1, no error reaches the caller."""
    store = _store(redis_server, backoff=30, max_backoff=30)
    pipeline = _cache(store)
    dep = Dep()
    redis_server.kill()
    assert run(pipeline, dep, 1) == "v"
    assert run(pipeline, dep, 1) == "v"
    assert dep.calls == 1  # L1 still works
    assert store.connected is False
    store.close()


def test_silent_redis_costs_one_bounded_timeout(silent_listener):
    """A Redis that never answers: the first miss pays one command timeout, the next nothing."""
    store = RedisStateStore(
        silent_listener.url, connect_timeout=0.1, command_timeout=0.1, backoff=30, max_backoff=30
    )
    pipeline = _cache(store)
    started = time.monotonic()
    assert pipeline.call(Dep(), 1) == "v"
    first = time.monotonic() - started
    started = time.monotonic()
    assert pipeline.call(Dep(), 2) == "v"
    second = time.monotonic() - started
    assert first < 0.2 + 1.0
    assert second < first
    store.close()


def test_sharing_is_opt_in(redis_server):
    """A configured default store is used only with store=True; the memory store shares nothing."""
    store = configure_store(url=redis_server.url, prefix="t", sync_interval=60)
    try:
        assert ResponseCache(name="x").l2_stats() is None
        assert ResponseCache(name="x", store=True).l2_stats() is not None
        assert ResponseCache(name="x", store=MemoryStateStore()).l2_stats() is None
    finally:
        configure_store()
        store.close()
    assert ResponseCache(name="x", store=True).l2_stats() is None  # default: memory


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"codec": object()}, "codec"),
        ({"max_value_bytes": 0}, "max_value_bytes"),
        ({"lock_lease": 0}, "lock_lease"),
        ({"l2_ttl": -1}, "l2_ttl"),
        ({"store": object()}, "store"),
    ],
)
def test_invalid_options_name_the_field(kwargs, field):
    """Invalid shared-level options fail fast with a ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        ResponseCache(**kwargs)


def test_two_processes_share_one_entry(redis_server):
    """A call cached here is a hit in another Python process (other hash seed): stable keys."""
    import os
    import subprocess
    import sys

    store = _store(redis_server)
    Pipeline("a", ResponseCache(name="fn", store=store)).call(_square, 4, scale={"k": {1, 2}})
    child = (
        "from otel_resilience import Pipeline, ResponseCache\n"
        "from otel_resilience.store import RedisStateStore\n"
        f"from {_square.__module__} import _square\n"  # as pytest named this module
        f"s = RedisStateStore({redis_server.url!r}, prefix='t', sync_interval=60)\n"
        "p = Pipeline('b', ResponseCache(name='fn', store=s))\n"
        "assert p.call(_square, 4, scale={'k': {2, 1}}) == 16\n"
        "print(p.strategies[0].l2_stats().hits)\n"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.pathsep.join([os.path.dirname(here), here, os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": path}
    out = subprocess.run(
        [sys.executable, "-c", child],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "1", (_square.__module__, out.stderr)
    store.close()


def test_interrupted_l2_lookup_leaves_no_flight(redis_server, monkeypatch):
    """An interrupt while asking Redis ends the local flight: followers are not stranded."""
    store = _store(redis_server)
    cache = ResponseCache(name="i", store=store, key=lambda x=0: x)
    pipeline = Pipeline("i", cache)

    def interrupted(digest: str) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cache._l2, "obtain", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipeline.call(Dep(), 1)
    assert cache._core.in_flight() == 0
    store.close()
