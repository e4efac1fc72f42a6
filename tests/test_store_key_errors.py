"""A Redis answering errors for one corrupted key: only that key decides locally, not the store."""

from __future__ import annotations

from otel_resilience import Pipeline
from otel_resilience.store import RedisStateStore
from tests import store_support
from tests.test_store_breaker import QUIET, _breaker, _fail

redis_server = store_support.redis_server


def test_wrong_type_limiter_key_does_not_take_the_store_down(redis_server):
    """A limiter whose key holds a string decides locally; other limiters keep the fleet's."""
    store = RedisStateStore(redis_server.url, prefix="k", sync_interval=QUIET)
    redis_server.client().set("k:rl:{bad}", "not a bucket")
    assert store.acquire("bad", 10.0, 1, 0.0) is None
    assert store.acquire("good", 10.0, 1, 0.0) == (True, 0.0)
    assert store.connected is True
    store.close()


def test_wrong_type_breaker_key_does_not_stop_the_others_syncing(redis_server, run):
    """One breaker's keys corrupted: another breaker still learns the fleet opened it."""
    a = RedisStateStore(redis_server.url, sync_interval=QUIET)
    b = RedisStateStore(redis_server.url, sync_interval=QUIET)
    bad = _breaker(a, "bad")  # held: stores link breakers weakly
    good_a, good_b = _breaker(a, "good"), _breaker(b, "good")
    redis_server.client().lpush("otel-resilience:cb:{bad}", "not a hash")
    _fail(run, Pipeline("b", good_b), 4)
    b.sync()
    assert good_b.state.value == "open"
    a.sync()
    assert good_a.state.value == "open"
    assert a.connected is True
    assert bad.state.value == "closed"
    a.close()
    b.close()


def test_read_only_replica_fails_the_whole_store_open(redis_server):
    """A READONLY replica refuses every write: the store backs off and says it is down."""
    replica = store_support.RedisServer().start()
    try:
        with replica.client() as client:
            client.replicaof("127.0.0.1", redis_server.port)
        store = RedisStateStore(replica.url, prefix="ro", sync_interval=QUIET)
        assert store.acquire("any", 10.0, 1, 0.0) is None
        assert store.connected is False
        assert not store.health.usable()  # backing off: the next calls skip Redis
        store.close()
    finally:
        replica.kill()


def test_wrong_type_budget_key_is_a_key_error(redis_server):
    """A retry budget's corrupted key leaves the store up for the breakers beside it."""
    from otel_resilience import RetryBudget

    store = RedisStateStore(redis_server.url, prefix="rb", sync_interval=QUIET)
    budget = RetryBudget(name="b", store=store)
    redis_server.client().lpush("rb:rb:{b}", "not a counter")
    store.sync()
    assert store.connected is True
    assert budget.name == "b"
    store.close()
