"""App side of the end-to-end suite: one process per scenario, so global providers start fresh.

Every scenario sets telemetry up with ``otel_resilience_exporters.configure()``, which reads the
``OTEL_*`` variables the test passes in, then drives real pipelines. Results go to stdout as a
single line ``E2E-RESULT {json}`` so exporter output (console, logs) cannot be mistaken for it.

Scenarios (first argument):

``workload RUN_ID``
    A breaker-guarded retry pipeline whose function always fails: two calls exhaust their retries
    and open the breaker, the third is rejected. A second pipeline fails once, then succeeds.
    Flushes, shuts down, prints the outcomes.
``serve RUN_ID``
    The same workload, then ``E2E-READY {json}`` once the Prometheus endpoint is serving; keeps
    serving until a line arrives on stdin (or stdin closes) or ``E2E_SERVE_DEADLINE`` seconds
    (default 120) pass, then shuts down.
``async-workload RUN_ID``
    The workload through ``await pipeline.acall(...)`` with coroutine functions and the fake
    clock's async sleep, plus ``FANOUT`` concurrent calls of a third pipeline
    (``asyncio.gather``). Flushes, shuts down, prints the outcomes.
``collector-down RUN_ID CALLS``
    ``CALLS`` calls through a retry + breaker pipeline whose function succeeds, with exporters
    pointing at a dead endpoint; reports failures, the calls' wall time and ``shutdown()`` time.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import sys
import time
from typing import Any

from otel_resilience_exporters import configure

from otel_resilience import CircuitBreaker, Pipeline, Retry
from otel_resilience.testing import FakeClock

#: Retry delays are deterministic: exponential from BASE_DELAY, no jitter, on a fake clock.
BASE_DELAY = 0.5
MAX_ATTEMPTS = 3
#: Concurrent calls in the async scenario.
FANOUT = 5

#: Every pipeline a scenario builds stays referenced until the process ends, as module-level
#: pipelines do in a real service: the breaker-state gauge only reports breakers still alive.
LIVE: list[Pipeline] = []


class DependencyDown(ConnectionError):
    """What the deliberately failing dependency raises."""


def names(run_id: str) -> dict[str, str]:
    """Pipeline and breaker names of one run; unique so backends never mix runs up."""
    return {
        "checkout": f"e2e.checkout.{run_id}",
        "search": f"e2e.search.{run_id}",
        "fanout": f"e2e.fanout.{run_id}",
        "breaker": f"e2e-breaker-{run_id}",
    }


def emit(tag: str, payload: dict[str, Any]) -> None:
    """Print one machine-readable line for the test to parse."""
    sys.stdout.write(f"{tag} {json.dumps(payload, sort_keys=True)}\n")
    sys.stdout.flush()


def workload_pipelines(n: dict[str, str], clock: FakeClock) -> tuple[Pipeline, Pipeline]:
    """The breaker-guarded ``checkout`` pipeline and the retry-only ``search`` pipeline."""
    checkout = Pipeline(
        n["checkout"],
        CircuitBreaker(
            name=n["breaker"],
            failure_ratio=0.5,
            minimum_calls=2,
            window=10,
            window_type="count",
            break_duration=600.0,
        ),
        Retry(
            max_attempts=MAX_ATTEMPTS,
            backoff="exponential",
            base_delay=BASE_DELAY,
            max_delay=10.0,
            jitter=False,
        ),
        clock=clock,
    )
    search = Pipeline(
        n["search"],
        Retry(
            max_attempts=MAX_ATTEMPTS, backoff="exponential", base_delay=BASE_DELAY, jitter=False
        ),
        clock=clock,
    )
    LIVE.extend((checkout, search))
    return checkout, search


def run_workload(run_id: str) -> dict[str, Any]:
    """Open a breaker through exhausted retries, and succeed after one retry elsewhere."""
    n = names(run_id)
    clock = FakeClock()
    checkout, search = workload_pipelines(n, clock)

    def always_down() -> str:
        raise DependencyDown("payment service unreachable")

    outcomes: list[str] = []
    for _ in range(3):
        try:
            checkout.call(always_down)
        except Exception as exc:  # the test checks which exception each call ended with
            outcomes.append(type(exc).__name__)
        else:
            outcomes.append("ok")

    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise DependencyDown("search index warming up")
        return "results"

    search_result = search.call(flaky)
    return {
        **n,
        "checkout_outcomes": outcomes,
        "search_result": search_result,
        "search_calls": calls,
        "sleeps": clock.sleeps,
    }


async def run_async_workload(run_id: str) -> dict[str, Any]:
    """The workload through ``acall``, then FANOUT concurrent calls of a third pipeline."""
    n = names(run_id)
    clock = FakeClock()
    checkout, search = workload_pipelines(n, clock)

    async def always_down() -> str:
        await asyncio.sleep(0)  # a real suspension inside the call
        raise DependencyDown("payment service unreachable")

    outcomes: list[str] = []
    for _ in range(3):
        try:
            await checkout.acall(always_down)
        except Exception as exc:  # the test checks which exception each call ended with
            outcomes.append(type(exc).__name__)
        else:
            outcomes.append("ok")

    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 1:
            raise DependencyDown("search index warming up")
        return "results"

    search_result = await search.acall(flaky)

    fanout = Pipeline(n["fanout"], Retry(max_attempts=2, jitter=False), clock=clock)
    LIVE.append(fanout)

    async def echo(i: int) -> int:
        await asyncio.sleep(0)  # lets the other calls interleave with this one
        return i

    fanned = await asyncio.gather(*(fanout.acall(echo, i) for i in range(FANOUT)))
    return {
        **n,
        "checkout_outcomes": outcomes,
        "search_result": search_result,
        "search_calls": calls,
        "fanout_results": fanned,
        "sleeps": clock.sleeps,
    }


def wait_for_stop(deadline_s: float) -> str:
    """Block until stdin yields a line or closes, or the deadline passes; say which."""
    end = time.monotonic() + deadline_s
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return "deadline"
        ready, _, _ = select.select([sys.stdin], [], [], left)
        if ready:
            line = sys.stdin.readline()
            return "stdin" if line else "eof"


def run_collector_down(run_id: str, calls: int) -> dict[str, Any]:
    """Many successful calls while every exporter targets a closed port."""
    pipeline = Pipeline(
        f"e2e.down.{run_id}",
        CircuitBreaker(name=f"e2e-down-{run_id}", minimum_calls=10),
        Retry(max_attempts=3, base_delay=0.001, jitter=False),
    )

    def ok(i: int) -> int:
        return i

    failures = 0
    wrong = 0
    start = time.perf_counter()
    for i in range(calls):
        try:
            if pipeline.call(ok, i) != i:
                wrong += 1
        except Exception:  # any exception is a failure caused by telemetry
            failures += 1
    elapsed = time.perf_counter() - start
    return {"calls": calls, "failures": failures, "wrong": wrong, "calls_s": elapsed}


def main(argv: list[str]) -> int:
    """Run the scenario named in ``argv``."""
    scenario, run_id = argv[0], argv[1]
    handle = configure(service_name=os.environ.get("E2E_SERVICE_NAME", "otel-resilience-e2e"))
    if scenario == "workload":
        result = run_workload(run_id)
        handle.flush()
    elif scenario == "async-workload":
        result = asyncio.run(run_async_workload(run_id))
        handle.flush()
    elif scenario == "serve":
        result = run_workload(run_id)
        emit("E2E-READY", result)
        result["stopped_by"] = wait_for_stop(float(os.environ.get("E2E_SERVE_DEADLINE", "120")))
    elif scenario == "collector-down":
        result = run_collector_down(run_id, int(argv[2]))
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    start = time.perf_counter()
    handle.shutdown()
    result["shutdown_s"] = time.perf_counter() - start
    result["emitted_at"] = time.time()  # the test compares it with when the process ended
    emit("E2E-RESULT", result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
