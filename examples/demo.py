"""A flaky dependency tamed by a Pipeline(Retry, CircuitBreaker), in simulated time.

Run with ``make demo``. No server and no network: the dependency is simulated and time is a
FakeClock, so the whole story (bursts of errors, rate limits, an outage, recovery) plays in
a couple of seconds and is the same on every run. Three short scenes follow with strategies
that change the call's path: a Fallback chain serving during an outage, a ResponseCache
serving stale entries while its source fails, and a Bulkhead shedding a burst of load.
Telemetry goes to the console (breaker transitions and a sample of spans) or, when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, over OTLP.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from otel_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    ErrorCategory,
    Pipeline,
    Retry,
    RetryPolicy,
    semconv,
)
from otel_resilience.bulkhead import Bulkhead
from otel_resilience.cache import ResponseCache
from otel_resilience.errors import BulkheadFullError
from otel_resilience.fallback import Fallback
from otel_resilience.testing import FakeClock

# (phase name, calls, error rate, share of errors that are 429s, latency in seconds)
PHASES = [
    ("healthy", 60, 0.02, 0.0, 0.05),
    ("error burst", 40, 0.45, 0.0, 0.08),
    ("rate limited", 30, 0.5, 1.0, 0.04),
    ("outage", 40, 1.0, 0.0, 0.5),
    ("recovery", 60, 0.03, 0.0, 0.06),
]


class DependencyError(Exception):
    """What the simulated dependency raises: a status code and response headers."""

    def __init__(self, status_code: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"dependency answered {status_code}")
        self.status_code = status_code
        self.headers = headers or {}


class FlakyDependency:
    """A remote service whose health follows the current phase."""

    def __init__(self, clock: FakeClock, rng: random.Random) -> None:
        self.clock, self.rng = clock, rng
        self.error_rate, self.limited, self.latency = 0.0, 0.0, 0.05
        self.attempts = 0  # every time the dependency is actually called

    def __call__(self, order: int) -> str:
        self.attempts += 1
        self.clock.advance(self.latency * (0.5 + self.rng.random()))
        if self.rng.random() < self.error_rate:
            if self.rng.random() < self.limited:
                raise DependencyError(429, {"Retry-After": "1"})
            if self.error_rate >= 1.0:
                raise ConnectionError("connection refused")
            raise DependencyError(503)
        return f"order-{order}"


def interesting(span: ReadableSpan) -> str:
    """One console line for calls that were retried or failed."""
    attrs = span.attributes or {}
    attempts = attrs.get(semconv.ATTEMPTS, 0)
    if isinstance(attempts, int) and attempts <= 1 and attrs.get(semconv.OUTCOME) != "failure":
        # Plain successes, cache hits and fast rejections (0 attempts): counted in the summaries.
        return ""
    retries = sum(1 for e in span.events if e.name == semconv.SPAN_EVENT_RETRY)
    return (
        f"  span {span.name}: outcome={attrs.get(semconv.OUTCOME)} "
        f"attempts={attrs.get(semconv.ATTEMPTS)} retries={retries} "
        f"error.type={attrs.get(semconv.ERROR_TYPE, '-')}\n"
    )


def providers(reader: InMemoryMetricReader) -> dict[str, Any]:
    """Console exporters by default; OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "demo")})
    tracer_provider = TracerProvider(resource=resource)
    logger_provider = LoggerProvider(resource=resource)
    readers: list[Any] = [reader]
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        print(f"exporting over OTLP to {os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']}")
    else:
        tracer_provider.add_span_processor(
            SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stdout, formatter=interesting))
        )
        logger_provider.add_log_record_processor(
            SimpleLogRecordProcessor(
                ConsoleLogRecordExporter(
                    out=sys.stdout,
                    formatter=lambda r: (
                        f"  log  {r.log_record.event_name}: "
                        f"{r.log_record.attributes[semconv.CIRCUIT_BREAKER_PREVIOUS_STATE]} -> "
                        f"{r.log_record.attributes[semconv.CIRCUIT_BREAKER_STATE]}\n"
                    ),
                )
            )
        )
    return {
        "tracer_provider": tracer_provider,
        "meter_provider": MeterProvider(metric_readers=readers, resource=resource),
        "logger_provider": logger_provider,
    }


def counted(reader: InMemoryMetricReader, event: str) -> int:
    """Total of resilience.events for ``event`` so far, read back from the metrics."""
    data = reader.get_metrics_data()
    total = 0
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == semconv.METRIC_EVENTS:
                    for point in metric.data.data_points:
                        if point.attributes.get(semconv.EVENT) == event:
                            total += int(point.value)
    return total


def percentile(values: list[float], q: float) -> float:
    """The q-quantile of ``values`` (0 for none)."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def fallback_scene(clock: FakeClock, reader: InMemoryMetricReader, telemetry: Any) -> None:
    """The big model is down: a chain of alternatives, each behind its own breaker, answers."""
    print("\n== scene: fallback chain (the big model is down for 20 requests)")
    rng = random.Random(11)

    def big_model(prompt: str) -> str:
        clock.advance(0.3)
        raise ConnectionError("big model unreachable")

    @Pipeline(
        "small-model",
        CircuitBreaker(failure_ratio=0.5, minimum_calls=4, window=30.0, break_duration=60.0),
        clock=clock,
        **telemetry,
    )
    def small_model(prompt: str) -> str:
        clock.advance(0.1)
        if rng.random() < 0.7:  # the small model buckles under the extra load
            raise ConnectionError("small model overloaded")
        return "small-model"

    def other_provider(prompt: str) -> str:
        clock.advance(0.2)
        return "other-provider"

    chain = Fallback(chain=[("small-model", small_model), ("other-provider", other_provider)])
    chat = Pipeline("chat", chain, clock=clock, **telemetry)
    served: dict[str, int] = {}
    for i in range(20):
        answer = chat.call(big_model, f"question {i}")
        served[answer] = served.get(answer, 0) + 1
    print(
        f"  served by: {served}; fallback_used events: "
        f"{counted(reader, semconv.EVENT_FALLBACK_USED)}\n"
        "  (once the small model's breaker opened, the chain skipped it at once)"
    )


def cache_scene(
    clock: FakeClock, dependency: FlakyDependency, reader: InMemoryMetricReader, telemetry: Any
) -> None:
    """Entries expire while the source is down: stale_if_error keeps answering from them."""
    print("\n== scene: response cache (ttl 30 s, stale_if_error 300 s)")
    cache = ResponseCache(policy="ttl", ttl=30.0, stale_if_error=300.0, key=lambda order: order)
    lookups = Pipeline("orders.lookup", cache, clock=clock, **telemetry)
    dependency.error_rate, dependency.latency = 0.0, 0.05
    attempts_before = dependency.attempts
    for order in [1, 2, 3, 1, 2, 3, 1, 2]:  # 3 misses, then hits
        lookups.call(dependency, order)
    clock.advance(60.0)  # every entry is now 30 s past its ttl
    dependency.error_rate = 1.0  # and the source is down
    failed = 0
    for order in [1, 2, 3, 4]:  # orders 1-3 are served stale; order 4 was never cached
        try:
            lookups.call(dependency, order)
        except ConnectionError:
            failed += 1
    stats = cache.stats()
    print(
        f"  12 lookups: {dependency.attempts - attempts_before} reached the source, "
        f"{stats.hits} hits, {stats.misses} misses,\n"
        f"  {stats.stale_served} served stale during the outage, {failed} failed (never cached); "
        f"hit rate {stats.hit_rate:.0%};\n"
        f"  cache_stale_served events: {counted(reader, semconv.EVENT_CACHE_STALE_SERVED)}"
    )


def bulkhead_scene(clock: FakeClock, reader: InMemoryMetricReader, telemetry: Any) -> None:
    """A burst of 30 concurrent requests meets a slow report service bounded to 4 at a time."""
    print("\n== scene: bulkhead (30 concurrent requests, 4 run at once, 4 may queue)")
    bulkhead = Bulkhead(max_concurrent=4, max_queue=4, name="reports")
    reports = Pipeline("reports.render", bulkhead, clock=clock, **telemetry)

    async def burst() -> tuple[int, int, int, int]:
        slow = asyncio.Event()  # the report service hangs until released

        async def render(n: int) -> str:
            await slow.wait()
            await clock.asleep(2.0)
            return f"report {n}"

        tasks = [asyncio.ensure_future(reports.acall(render, n)) for n in range(30)]
        for _ in range(100):  # let every task reach the bulkhead: running, queued or refused
            if bulkhead.active + bulkhead.queued + sum(t.done() for t in tasks) == len(tasks):
                break
            await asyncio.sleep(0)
        active, queued = bulkhead.active, bulkhead.queued
        slow.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        served = sum(1 for r in results if isinstance(r, str))
        shed = sum(1 for r in results if isinstance(r, BulkheadFullError))
        return active, queued, served, shed

    active, queued, served, shed = asyncio.run(burst())
    print(
        f"  during the burst: {active} running, {queued} queued; afterwards {served} served,\n"
        f"  {shed} shed at once with BulkheadFullError (outcome rejected, never reached the "
        f"service);\n  bulkhead_rejected events: {counted(reader, semconv.EVENT_BULKHEAD_REJECTED)}"
    )


def main() -> int:
    """Play every phase and print a live summary after each."""
    clock, rng = FakeClock(), random.Random(7)
    reader = InMemoryMetricReader()
    telemetry = providers(reader)
    dependency = FlakyDependency(clock, rng)
    breaker = CircuitBreaker(
        failure_ratio=0.5, minimum_calls=10, window=10.0, break_duration=5.0, half_open_max_calls=2
    )
    pipeline = Pipeline(
        "orders-api",
        Retry(
            max_attempts=4,
            base_delay=0.2,
            max_delay=2.0,
            deadline=5.0,
            policies={ErrorCategory.RATE_LIMITED: RetryPolicy(max_attempts=3, backoff="constant")},
            random=rng.random,
        ),
        breaker,
        clock=clock,
        **telemetry,
    )
    header = f"{'phase':<13}{'calls':>6}{'attempts':>9}{'ok':>5}{'failed':>7}{'rejected':>9}"
    header += f"{'retries':>8}"
    header += f"{'breaker':>10}{'p50 ms':>8}{'p95 ms':>8}"
    outcomes: dict[str, int] = {}
    for name, calls, error_rate, limited, latency in PHASES:
        dependency.error_rate, dependency.limited, dependency.latency = error_rate, limited, latency
        print(f"\n== phase: {name} ({calls} calls, {error_rate:.0%} errors)")
        durations: list[float] = []
        tally = {"ok": 0, "failed": 0, "rejected": 0}
        retries_before = counted(reader, semconv.EVENT_RETRY)
        attempts_before = dependency.attempts
        for i in range(calls):
            started = clock.monotonic()
            try:
                pipeline.call(dependency, i)
                tally["ok"] += 1
            except CircuitOpenError:
                tally["rejected"] += 1
                clock.advance(0.25)  # the caller backs off a little before its next request
            except (DependencyError, ConnectionError):
                tally["failed"] += 1
            durations.append(clock.monotonic() - started)
        for key, value in tally.items():
            outcomes[key] = outcomes.get(key, 0) + value
        retries = counted(reader, semconv.EVENT_RETRY) - retries_before
        print(header)
        print(
            f"{name:<13}{calls:>6}{dependency.attempts - attempts_before:>9}"
            f"{tally['ok']:>5}{tally['failed']:>7}{tally['rejected']:>9}"
            f"{retries:>8}{breaker.state.value:>10}"
            f"{percentile(durations, 0.5) * 1000:>8.0f}{percentile(durations, 0.95) * 1000:>8.0f}"
        )
    print(
        f"\nTotal: {sum(outcomes.values())} calls, {outcomes['ok']} ok, "
        f"{outcomes['failed']} failed, {outcomes['rejected']} rejected by the breaker; "
        f"{counted(reader, semconv.EVENT_RETRY)} retries, "
        f"{counted(reader, semconv.EVENT_CIRCUIT_OPENED)} breaker openings, "
        f"simulated time {clock.monotonic():.1f}s."
    )
    fallback_scene(clock, reader, telemetry)
    cache_scene(clock, dependency, reader, telemetry)
    bulkhead_scene(clock, reader, telemetry)
    for provider in telemetry.values():
        provider.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
