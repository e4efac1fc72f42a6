"""ResponseCache: hits, keys, what is stored, expiry, stale-if-error, management, options."""

from __future__ import annotations

import re
from typing import Any

import pytest
from core_support import counted, http_response

from otel_resilience import Pipeline
from otel_resilience.cache import ResponseCache
from otel_resilience.testing import FakeClock


def cached(clock: FakeClock | None = None, **options: Any) -> tuple[ResponseCache, Pipeline]:
    """A cache and a pipeline holding only it."""
    cache = ResponseCache(**options)
    return cache, Pipeline("svc", cache, clock=clock or FakeClock())


def test_hit_does_not_call_the_dependency(run):
    """A second identical call is served from the cache."""
    cache, pipeline = cached()
    fn = counted("a")
    assert run(pipeline, fn, 1) == "a"
    assert run(pipeline, fn, 1) == "a"
    assert len(fn.calls) == 1
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.sets, stats.size) == (1, 1, 1, 1)
    assert stats.hit_rate == 0.5


def test_default_key_ignores_keyword_order_and_tells_arguments_apart(run):
    """Keyword order does not matter; different arguments are different entries."""
    cache, pipeline = cached()
    fn = counted()
    first = run(pipeline, fn, 1, a=1, b=2)
    assert run(pipeline, fn, 1, b=2, a=1) == first
    run(pipeline, fn, 2, a=1, b=2)
    assert len(fn.calls) == 2
    assert cache.stats().size == 2


def test_default_key_includes_the_function(run):
    """Two functions with the same arguments do not share entries."""
    _, pipeline = cached()
    f, g = counted("f"), counted("g")

    def other(*args: Any) -> Any:
        return g(*args)

    assert run(pipeline, f, 1) == "f"
    assert run(pipeline, other, 1) == "g"


def test_unhashable_arguments_are_normalised(run):
    """Lists, dicts and sets are made hashable; a list and a tuple stay different keys."""
    cache, pipeline = cached()
    fn = counted()
    run(pipeline, fn, [1, {"a": {2}}])
    run(pipeline, fn, [1, {"a": {2}}])
    assert len(fn.calls) == 1
    run(pipeline, fn, (1,))
    run(pipeline, fn, [1])
    assert len(fn.calls) == 3
    assert cache.stats().size == 3


def test_arguments_that_cannot_be_hashed_bypass_the_cache(run):
    """An argument that no normalisation makes hashable: the call goes through uncached."""

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

    cache, pipeline = cached()
    fn = counted()
    arg = Unhashable()
    run(pipeline, fn, arg)
    run(pipeline, fn, arg)
    assert len(fn.calls) == 2
    assert cache.stats().size == 0


def test_custom_key_and_none_means_do_not_cache(run):
    """A custom key groups calls; returning None bypasses the cache."""
    cache, pipeline = cached(key=lambda x: None if x < 0 else x % 2)
    fn = counted()
    run(pipeline, fn, 1)
    run(pipeline, fn, 3)  # same key as 1
    run(pipeline, fn, -1)
    run(pipeline, fn, -1)
    assert [c[0] for c in fn.calls] == [1, -1, -1]
    assert cache.stats().hits == 1


def test_a_raising_key_function_does_not_fail_the_call(run):
    """A broken key function means "not cached", never a failed call."""

    def key(*_: Any) -> Any:
        raise RuntimeError("broken")

    _, pipeline = cached(key=key)
    fn = counted("ok", "ok")
    assert run(pipeline, fn) == "ok"
    assert run(pipeline, fn) == "ok"
    assert len(fn.calls) == 2


def test_errors_are_not_stored(run):
    """A failed call stores nothing: the next call reaches the dependency."""
    cache, pipeline = cached()
    fn = counted(ConnectionError("down"), "up")
    with pytest.raises(ConnectionError):
        run(pipeline, fn)
    assert run(pipeline, fn) == "up"
    assert run(pipeline, fn) == "up"
    assert len(fn.calls) == 2
    assert cache.stats().sets == 1


def test_cache_if_refuses_results(run):
    """Results cache_if rejects are returned but not stored; a raising cache_if stores nothing."""
    _, pipeline = cached(cache_if=lambda r: r != "bad")
    fn = counted("bad", "good")
    assert run(pipeline, fn) == "bad"
    assert run(pipeline, fn) == "good"
    assert run(pipeline, fn) == "good"
    assert len(fn.calls) == 2

    def broken(_: Any) -> bool:
        raise RuntimeError

    cache2, pipeline2 = cached(cache_if=broken)
    assert run(pipeline2, counted("x")) == "x"
    assert cache2.stats().sets == 0


def test_error_responses_are_not_stored(run):
    """A result the pipeline judges a failure (a 503 response) is never cached."""
    cache, pipeline = cached()
    fn = counted(http_response(503), http_response(200))
    assert run(pipeline, fn).status_code == 503
    assert run(pipeline, fn).status_code == 200
    assert run(pipeline, fn).status_code == 200
    assert len(fn.calls) == 2
    assert cache.stats().sets == 1


def test_ttl_expiry_reads_the_pipeline_clock(run):
    """With policy="ttl" an entry expires after ttl seconds of the injected clock."""
    clock = FakeClock()
    _, pipeline = cached(clock, policy="ttl", ttl=10)
    fn = counted("v1", "v2")
    assert run(pipeline, fn) == "v1"
    clock.advance(9.9)
    assert run(pipeline, fn) == "v1"
    clock.advance(0.1)
    assert run(pipeline, fn) == "v2"


def test_lru_evicts_the_least_recently_used():
    """max_size bounds the entries; evictions are counted."""
    cache, pipeline = cached(max_size=2)
    fn = counted()
    for arg in (1, 2, 1, 3):  # 2 is the least recently used when 3 arrives
        pipeline.call(fn, arg)
    pipeline.call(fn, 1)
    assert [c[0] for c in fn.calls] == [1, 2, 3]
    stats = cache.stats()
    assert (stats.size, stats.max_size, stats.evictions) == (2, 2, 1)


def test_lfu_evicts_the_least_frequently_used():
    """policy="lfu" keeps the most used entry even when it is the oldest."""
    cache, pipeline = cached(policy="lfu", max_size=2)
    fn = counted()
    for arg in (1, 1, 1, 2, 3, 1):
        pipeline.call(fn, arg)
    assert [c[0] for c in fn.calls] == [1, 2, 3]
    assert cache.stats().evictions == 1


def test_stale_if_error_serves_a_recently_expired_entry(run):
    """Within stale_if_error after expiry a failure is answered with the old value."""
    clock = FakeClock()
    cache, pipeline = cached(clock, policy="ttl", ttl=10, stale_if_error=5)
    fn = counted("old", ConnectionError("down"), ConnectionError("down"))
    assert run(pipeline, fn) == "old"
    clock.advance(14)  # expired 4 s ago
    assert run(pipeline, fn) == "old"
    clock.advance(1.5)  # expired 5.5 s ago: beyond the window
    with pytest.raises(ConnectionError):
        run(pipeline, fn)
    stats = cache.stats()
    assert (stats.stale_served, stats.misses, stats.hits) == (1, 3, 0)


def test_stale_if_error_on_an_error_response(run):
    """An error response is a failure too: the stale entry is served instead."""
    clock = FakeClock()
    _, pipeline = cached(clock, policy="ttl", ttl=1, stale_if_error=5)
    fn = counted(http_response(200), http_response(503))
    assert run(pipeline, fn).status_code == 200
    clock.advance(2)
    assert run(pipeline, fn).status_code == 200
    assert len(fn.calls) == 2


def test_invalidate_by_regex_and_predicate():
    """invalidate() takes a regex (str or compiled) or a predicate and counts removals."""
    cache, pipeline = cached(key=lambda k: k)
    fn = counted()
    for k in ("user:1", "user:2", "order:1", 7):
        pipeline.call(fn, k)
    assert cache.invalidate(r"^user:") == 2
    assert cache.invalidate(re.compile("order")) == 1
    assert cache.invalidate(lambda k: k == 7) == 1
    assert cache.stats().size == 0
    with pytest.raises(ValueError, match="pattern"):
        cache.invalidate(42)  # type: ignore[arg-type]


def test_invalidate_matches_the_qualified_name_of_default_keys():
    """A regex also matches the module.qualname of default keys."""
    cache, pipeline = cached()

    def price(sku: str) -> str:
        return sku

    def stock(sku: str) -> str:
        return sku

    pipeline.call(price, "a")
    pipeline.call(stock, "a")
    assert cache.invalidate(r"\.price$") == 1
    assert cache.stats().size == 1


def test_invalidate_all_and_cleanup():
    """invalidate_all empties the cache; cleanup drops expired entries now."""
    clock = FakeClock()
    cache, pipeline = cached(clock, policy="ttl", ttl=1)
    fn = counted()
    pipeline.call(fn, 1)
    pipeline.call(fn, 2)
    assert cache.cleanup() == 0
    clock.advance(1)
    assert cache.cleanup() == 2
    assert cache.stats().size == 0
    pipeline.call(fn, 3)
    assert cache.invalidate_all() == 1
    assert cache.stats().size == 0
    lru, _ = cached()
    assert lru.cleanup() == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"policy": "fifo"}, "policy"),
        ({"max_size": 0}, "max_size"),
        ({"max_size": -1}, "max_size"),
        ({"max_size": 1.5}, "max_size"),
        ({"max_size": True}, "max_size"),
        ({"policy": "ttl"}, "ttl"),
        ({"policy": "ttl", "ttl": 0}, "ttl"),
        ({"policy": "ttl", "ttl": float("nan")}, "ttl"),
        ({"policy": "ttl", "ttl": -1}, "ttl"),
        ({"ttl": 5}, "ttl"),
        ({"policy": "ttl", "ttl": 1, "stale_if_error": -1}, "stale_if_error"),
        ({"policy": "ttl", "ttl": 1, "stale_if_error": float("nan")}, "stale_if_error"),
        ({"stale_if_error": 5}, "stale_if_error"),
        ({"key": "not callable"}, "key"),
        ({"cache_if": 3}, "cache_if"),
        ({"name": ""}, "name"),
        ({"name": 3}, "name"),
    ],
)
def test_invalid_options_fail_at_construction(options, field):
    """Invalid options raise a ValueError naming the field."""
    with pytest.raises(ValueError, match=rf"^{field} must"):
        ResponseCache(**options)


def test_options_are_keyword_only():
    """Positional options are refused."""
    with pytest.raises(TypeError):
        ResponseCache("lru")  # type: ignore[misc]


def test_closures_of_one_factory_do_not_share_entries():
    """Two clients made by one factory are different functions; one client re-made still hits."""
    _, pipeline = cached()
    made = []

    def client(base: str) -> Any:
        def get(path: str) -> str:
            made.append(base)
            return base + path

        return get

    a, b = client("a:"), client("b:")
    assert pipeline.call(a, "/x") == "a:/x"
    assert pipeline.call(b, "/x") == "b:/x"
    base = "a:"
    assert pipeline.call(lambda path: base + path, "/x") == "a:/x"
    assert pipeline.call(lambda path: base + path, "/x") == "a:/x"  # same code, same capture
    assert made == ["a:", "b:"]


def test_bound_methods_of_two_instances_do_not_share_entries():
    """A bound method's key includes its instance."""
    _, pipeline = cached()

    class Client:
        def __init__(self, base: str) -> None:
            self.base = base

        def get(self, path: str) -> str:
            return self.base + path

    one, two = Client("1"), Client("2")
    assert pipeline.call(one.get, "/") == "1/"
    assert pipeline.call(two.get, "/") == "2/"
    one.base = "changed"
    assert pipeline.call(one.get, "/") == "1/"  # a hit: same instance, same method


def test_a_call_in_progress_during_invalidation_stores_nothing():
    """Invalidation wins over a result computed before it."""
    cache, pipeline = cached()
    fn = counted()

    def dep() -> str:
        cache.invalidate_all()  # as if another thread invalidated while the call ran
        return fn()

    pipeline.call(dep)
    assert cache.stats().size == 0
    pipeline.call(dep)
    assert len(fn.calls) == 2


def test_a_hit_with_telemetry_off_is_answered_before_the_call_is_built(run, monkeypatch):
    """An outermost cache answers a hit before the pipeline builds a call context (the cost)."""
    cache, pipeline = cached()
    fn = counted("a")
    assert run(pipeline, fn, 1) == "a"

    def no_context(*args: Any) -> Any:
        raise AssertionError("a call context was built for a cache hit")

    monkeypatch.setattr("otel_resilience.pipeline.CallContext", no_context)
    assert run(pipeline, fn, 1) == "a"
    assert len(fn.calls) == 1
    assert cache.stats().hits == 1
    with pytest.raises(AssertionError, match="call context"):  # a miss still builds one
        run(pipeline, fn, 2)
