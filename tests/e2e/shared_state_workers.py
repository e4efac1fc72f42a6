"""Worker processes of the shared-state end-to-end tests (spawned: importable by name)."""

from __future__ import annotations

import threading
import time
from typing import Any

from otel_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    Pipeline,
    RateLimitedError,
    RateLimiter,
)
from otel_resilience.store import RedisStateStore


def breaker_worker(url: str, dead: Any, stop: Any, out: Any, opts: dict[str, Any]) -> None:
    """Call a dependency (2 ms, fails while ``dead`` is set) through a shared breaker; report
    ``(kind, wall time)`` of every call: ok, failed or rejected. Puts "ready" first."""
    store = RedisStateStore(url, sync_interval=opts.pop("sync_interval"))
    pipeline = Pipeline("worker", CircuitBreaker(name="e2e-dep", store=store, **opts))
    pipeline.call(lambda: "warm")
    store.sync()  # redis-py imported and connected before the clock starts
    out.put("ready")

    def dependency() -> str:
        time.sleep(0.002)
        if dead.is_set():
            raise ConnectionError("dependency down")
        return "ok"

    events: list[tuple[str, float]] = []
    ok = 0
    while not stop.is_set():
        try:
            pipeline.call(dependency)
            ok += 1
            events.append(("ok", time.time()))
        except ConnectionError:
            events.append(("failed", time.time()))
        except CircuitOpenError:
            events.append(("rejected", time.time()))
            time.sleep(0.002)  # a rejected caller does other work meanwhile
    store.close()
    out.put(events)


def limiter_worker(
    url: str, rate: float, threads: int, go: Any, start: Any, seconds: float, out: Any
) -> None:
    """Put "ready"; once ``go`` is set, ``threads`` threads take permits of one shared limiter
    (waiting up to 1 s for each) from wall time ``start.value`` for ``seconds``; report the
    admission times."""
    store = RedisStateStore(url, sync_interval=0.1)
    pipeline = Pipeline(
        "limited", RateLimiter(name="e2e-limit", rate=rate, burst=1, max_wait=1.0, store=store)
    )
    admitted: list[float] = []
    lock = threading.Lock()
    store.acquire("e2e-warm-up", 1000.0, 1000, 0.0)  # import redis-py and connect first
    out.put("ready")
    go.wait(60)
    begin = start.value

    def loop() -> None:
        while time.time() < begin:
            time.sleep(0.001)
        while time.time() < begin + seconds:
            try:
                pipeline.call(lambda: None)
            except RateLimitedError:
                continue
            now = time.time()
            with lock:
                admitted.append(now)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    store.close()
    out.put(admitted)
