"""The sync round of a RedisStateStore: idle breakers cost O(1) commands per round, and what
moved in the fleet still reaches every process (real redis-server)."""

from __future__ import annotations

from otel_resilience import CircuitBreaker, Pipeline
from otel_resilience.store import RedisStateStore
from otel_resilience.store._scripts import FLEET_LOG_CAP
from tests import store_support
from tests.store_support import RedisServer, until
from tests.test_store_breaker import QUIET, _breaker, _fail

redis_server = store_support.redis_server
# One failure opens; the break outlasts the test (an elapsed break would read half-open).
ONE: dict[str, object] = {"minimum_calls": 1, "window": 1, "break_duration": 60.0}


def _breakers(store: RedisStateStore, n: int, prefix: str = "b") -> list[CircuitBreaker]:
    return [_breaker(store, f"{prefix}{i}", **ONE) for i in range(n)]


def _open(store: RedisStateStore, *names: str) -> list[CircuitBreaker]:
    """Open breakers ``names`` in the fleet through ``store`` (one transition each)."""
    held = [_breaker(store, name, **ONE) for name in names]
    for breaker in held:
        _fail(lambda p, f: p.call(f), Pipeline("w", breaker), 1)
    store.sync()
    return held


def _moved(server: RedisServer, before: dict[str, int]) -> dict[str, int]:
    after = server.commands()
    moved = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    # commands()'s own connection and INFO; the store's connection is made before `before`.
    return {k: v for k, v in moved.items() if k not in ("info", "hello")}


def _idle_commands(server: RedisServer, n: int, rounds: int = 3) -> dict[str, int]:
    store = RedisStateStore(server.url, prefix=f"idle{n}", sync_interval=QUIET)
    held = _breakers(store, n)
    store.sync()
    store.sync()
    before = server.commands()
    for _ in range(rounds):
        store.sync()
    moved = _moved(server, before)
    store.close()
    assert len(held) == n
    return moved


def test_idle_round_makes_the_same_few_commands_at_any_size(redis_server):
    """Idle rounds at 1,000 breakers send what they send at 10: one HMGET and one
    ZRANGEBYSCORE per round, no script (before: three commands per breaker per round)."""
    small = _idle_commands(redis_server, 10)
    large = _idle_commands(redis_server, 1000)
    assert large == small == {"hmget": 3, "zrangebyscore": 3}


def test_transition_reaches_another_store_in_one_round_reading_only_it(redis_server):
    """An opening in store a is applied by store b's next round, which reads that breaker's
    state alone (one script call), not its 100 others."""
    a = RedisStateStore(redis_server.url, sync_interval=QUIET)
    b = RedisStateStore(redis_server.url, sync_interval=QUIET)
    ba, bb = _breakers(a, 100), _breakers(b, 100)
    a.sync(), b.sync(), b.sync()
    _fail(lambda p, f: p.call(f), Pipeline("a", ba[42]), 1)
    a.sync()
    a.close()  # joins a's thread (the failure woke it): only b talks to Redis from here
    before = redis_server.commands()
    b.sync()
    assert _moved(redis_server, before).get("evalsha") == 1
    assert [i for i, br in enumerate(bb) if br.state.value == "open"] == [42]
    b.close()


def test_breaker_linked_later_reads_the_fleet_state(redis_server):
    """A breaker created after its fleet opened (the store already caught up) starts open."""
    a = RedisStateStore(redis_server.url, sync_interval=QUIET)
    b = RedisStateStore(redis_server.url, sync_interval=QUIET)
    held = _open(a, "late")
    held.append(_breaker(b, "other", **ONE))
    b.sync()  # b catches up with the fleet version; it links no "late" yet
    late = _breaker(b, "late", **ONE)
    b.sync()
    assert late.state.value == "open"
    assert len(held) == 2
    a.close(), b.close()


def test_store_that_missed_rounds_rereads_every_breaker(redis_server):
    """Redis dies and comes back empty; while b could not sync, the new server's fleet made
    three transitions: b re-reads every breaker, so it misses none of them (its log position
    from before the restart would have skipped the first two)."""
    a = RedisStateStore(redis_server.url, sync_interval=QUIET)
    b = RedisStateStore(redis_server.url, sync_interval=QUIET, backoff=0.05, max_backoff=0.1)
    mine = {n: _breaker(b, n, **ONE) for n in ("x", "y", "v", "z1", "z2")}
    held = _open(a, "z1", "z2")  # the fleet version is 2
    until(lambda: b.sync() or mine["z2"].state.value == "open", "b caught up")
    redis_server.kill()
    until(lambda: b.sync() or b.connected is False, "b's round fails")
    redis_server.start()  # same port, no data: the fleet version starts again at 0
    c = RedisStateStore(redis_server.url, sync_interval=QUIET)
    held += _open(c, "x", "y", "v")  # versions 1, 2, 3
    until(lambda: b.sync() or b.connected is True, "b back")
    assert {n: br.state.value for n, br in mine.items() if n in "xyv"} == dict.fromkeys(
        "xyv", "open"
    )
    a.close(), b.close(), c.close()


def test_fleet_state_lost_while_connected_rereads_every_breaker(redis_server):
    """FLUSHALL between two rounds: the fleet version goes back (3 to 1), and b re-reads
    every breaker instead of waiting for versions past 3."""
    a = RedisStateStore(redis_server.url, sync_interval=QUIET)
    b = RedisStateStore(redis_server.url, sync_interval=QUIET)
    mine = _breaker(b, "x", **ONE)
    held = _open(a, "p", "q", "r")
    b.sync()
    redis_server.client().flushall()
    held += _open(a, "x")
    b.sync()
    assert mine.state.value == "open"
    a.close(), b.close()


def test_store_behind_the_log_rereads_every_breaker(redis_server):
    """More breakers moved than the change log keeps: a store whose last round predates the
    oldest kept entry reads all of its breakers, and misses none."""
    a = RedisStateStore(redis_server.url, sync_interval=QUIET)
    b = RedisStateStore(redis_server.url, sync_interval=QUIET)
    n = FLEET_LOG_CAP + 5
    mine = _breakers(b, n)
    b.sync(), b.sync()
    held = _open(a, *(f"b{i}" for i in range(n)))
    assert redis_server.client().zcard("otel-resilience:cb:log") == FLEET_LOG_CAP
    b.sync()
    assert sum(br.state.value == "open" for br in mine) == n
    assert len(held) == n
    a.close(), b.close()


def test_local_opening_lands_on_an_expired_fleet_state(redis_server):
    """Idle processes no longer refresh a breaker's keys, so its fleet state may expire under
    a process that still holds its version. That process's local window (2 old successes and
    2 failures: 4 calls) opens it while the fleet's (the 2 failures: under minimum_calls) does
    not: its decision must open the fleet's breaker, not be refused as made in a stale
    version (which also closed the local breaker again)."""
    b = RedisStateStore(redis_server.url, sync_interval=QUIET)
    mine = _breaker(b, "x", minimum_calls=4, break_duration=60.0)
    admin = redis_server.client()
    admin.hset("otel-resilience:cb:{x}", mapping={"st": 0, "ver": 5, "until": 0, "opens": 0})
    b.sync()  # b holds version 5, closed
    for _ in range(2):
        Pipeline("b", mine).call(lambda: "ok")
    b.sync()
    admin.delete(*(f"otel-resilience:cb:{{x}}{k}" for k in ("", ":w", ":l")))  # expired
    _fail(lambda p, f: p.call(f), Pipeline("b", mine), 2)
    assert mine.state.value == "open"
    b.sync()
    assert admin.hget("otel-resilience:cb:{x}", "st") == b"1"
    assert mine.state.value == "open"
    b.close()
