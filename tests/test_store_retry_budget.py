"""RetryBudget on a RedisStateStore, against a real redis-server: one token count per fleet."""

from __future__ import annotations

import pytest

from otel_resilience import Pipeline, Retry, RetryBudget
from otel_resilience.store import RedisStateStore
from tests import store_support
from tests.store_support import until

# Fixture of the real redis-server.
redis_server = store_support.redis_server


def _down() -> None:
    raise ConnectionError("dependency down")


def test_fleet_spends_one_budget(redis_server):
    """Process a drains the shared budget; process b then gets no retry (the local one would)."""
    a = RedisStateStore(redis_server.url, sync_interval=60)
    b = RedisStateStore(redis_server.url, sync_interval=60)
    ba = RetryBudget(name="llm", max_tokens=4, store=a)
    bb = RetryBudget(name="llm", max_tokens=4, store=b)
    pa = Pipeline("a", Retry(max_attempts=5, base_delay=0.0, budget=ba))
    pb = Pipeline("b", Retry(max_attempts=5, base_delay=0.0, budget=bb))
    calls = []

    def down() -> None:
        calls.append(1)
        raise ConnectionError

    with pytest.raises(ConnectionError):
        pa.call(down)
    # 4 tokens, a retry needs more than 2 left: the first failure (3 left) retries, not the 2nd.
    assert len(calls) == 2
    client = redis_server.client()
    until(lambda: a.sync() or client.get("otel-resilience:rb:{llm}") == b"2000", "a's charges")
    b.sync()
    assert bb.tokens() == 2.0
    calls.clear()
    with pytest.raises(ConnectionError):
        pb.call(down)
    assert len(calls) == 1  # the fleet's budget is spent: b does not retry
    a.close()
    b.close()


def test_successes_refill_the_fleet(redis_server):
    """Successes in one process refill the budget every process reads."""
    a = RedisStateStore(redis_server.url, sync_interval=60)
    b = RedisStateStore(redis_server.url, sync_interval=60)
    ba = RetryBudget(name="refill", max_tokens=4, token_ratio=0.5, store=a)
    bb = RetryBudget(name="refill", max_tokens=4, token_ratio=0.5, store=b)
    redis_server.client().set("otel-resilience:rb:{refill}", 1000)
    pa = Pipeline("a", Retry(max_attempts=2, base_delay=0.0, budget=ba))
    for _ in range(4):
        pa.call(lambda: "ok")
    a.sync()
    b.sync()
    assert bb.tokens() == 3.0
    a.close()
    b.close()


def test_store_down_budget_stays_local():
    """With no server, successes and failures still move the local budget (fail open)."""
    url = f"redis://127.0.0.1:{store_support.free_port()}/0"
    store = RedisStateStore(url, sync_interval=60, backoff=60.0, max_backoff=60.0)
    budget = RetryBudget(name="solo", max_tokens=4, token_ratio=1.0, store=store)
    pipeline = Pipeline("solo", Retry(max_attempts=2, base_delay=0.0, budget=budget))
    with pytest.raises(ConnectionError):
        pipeline.call(_down)
    store.sync()
    assert budget.tokens() == 2.0  # two failed attempts charged locally
    pipeline.call(lambda: "ok")
    store.sync()
    assert budget.tokens() == 3.0
    store.close()


def test_percent_kind_refuses_an_explicit_store(redis_server):
    """The shared counter is for kind="tokens": a percent budget with store= fails fast."""
    store = RedisStateStore(redis_server.url, sync_interval=60)
    with pytest.raises(ValueError, match="store"):
        RetryBudget(kind="percent", store=store)
    store.close()
