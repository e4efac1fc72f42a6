"""The breaker sync round of a RedisStateStore at 10, 1,000 and 5,000 breakers (issue 12).

* Idle round: a store whose breakers are all synced and idle runs ``store.sync()`` (what its
  thread does every ``sync_interval``); reported: wall and CPU time per round, and the
  commands Redis executed per round (``INFO commandstats``, the INFO calls left out).
* Open to rejected: two processes link the same 1,000 breakers (``sync_interval=0.1``, their
  sync threads running); one breaker opens in the first; the time until the second process's
  breaker rejects (both read the same system-wide monotonic clock).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import statistics
import time
from typing import Any

from otel_resilience import CircuitBreaker, Pipeline
from otel_resilience.store import RedisStateStore

SIZES = (10, 1000, 5000)
FLEET = 1000


def _breakers(store: RedisStateStore, n: int) -> list[CircuitBreaker]:
    opts: dict[str, Any] = {"minimum_calls": 1, "window": 1, "break_duration": 600.0}
    return [CircuitBreaker(name=f"sync-{i}", store=store, **opts) for i in range(n)]


def _commands(client: Any) -> int:
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def idle_round(url: str, n: int, rounds: int) -> tuple[float, float, float]:
    """(wall ms, CPU ms, commands) per idle round at ``n`` breakers."""
    import redis

    client = redis.Redis.from_url(url)
    store = RedisStateStore(url, prefix=f"idle{n}", sync_interval=3600.0)
    held = _breakers(store, n)
    store.sync()
    store.sync()  # every breaker linked, read once, and the fleet version known
    before = _commands(client)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        store.sync()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    commands = _commands(client) - before
    store.close()
    client.close()
    del held
    return wall * 1e3 / rounds, cpu * 1e3 / rounds, commands / rounds


def _follower(url: str, conn: Any) -> None:
    """The second process: links the breakers, then reports when each asked one rejects."""
    store = RedisStateStore(url, prefix="fleet", sync_interval=0.1)
    breakers = _breakers(store, FLEET)
    conn.send("ready")
    while True:
        i = conn.recv()
        if i is None:
            break
        end = time.monotonic() + 10.0  # a bound, not a timing assumption
        while breakers[i].state.value != "open" and time.monotonic() < end:
            time.sleep(0.0005)
        conn.send(time.monotonic())
    store.close()


def open_to_reject(url: str, samples: int) -> list[float]:
    """Milliseconds from an opening in this process to the other process's rejection."""
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    child = ctx.Process(target=_follower, args=(url, there), daemon=True)
    child.start()
    store = RedisStateStore(url, prefix="fleet", sync_interval=0.1)
    breakers = _breakers(store, FLEET)
    delays = []
    try:
        if not here.poll(120.0) or here.recv() != "ready":
            raise RuntimeError("the follower process did not start")
        time.sleep(0.5)  # both processes past their first rounds
        for k in range(samples):
            i = (k * 97) % FLEET
            here.send(i)
            start = time.monotonic()
            with contextlib.suppress(ConnectionError):
                Pipeline("open", breakers[i]).call(_raise)
            delays.append((here.recv() - start) * 1e3)
            time.sleep(0.05)  # the next opening lands anywhere in the round
        here.send(None)
    finally:
        child.join(10.0)
        if child.is_alive():
            child.kill()
        store.close()
    return delays


def _raise() -> None:
    raise ConnectionError("dependency down")


def report(url: str, quick: bool) -> None:
    """Print both tables."""
    print("\n== Breaker sync round (idle breakers, one store) ==")
    print(f"{'breakers':>9}{'wall ms/round':>15}{'CPU ms/round':>14}{'commands/round':>16}")
    for n in SIZES:
        rounds = 3 if quick else 20
        wall, cpu, commands = idle_round(url, n, rounds)
        print(f"{n:>9}{wall:>15.2f}{cpu:>14.2f}{commands:>16.1f}")
    delays = open_to_reject(url, 5 if quick else 20)
    print(f"\n== Open in one process to rejected in another ({FLEET} breakers, 0.1 s) ==")
    print(
        f"median {statistics.median(delays):.1f} ms, max {max(delays):.1f} ms over "
        f"{len(delays)} openings (bound: sync_interval + two round trips)"
    )
