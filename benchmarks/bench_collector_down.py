"""What a dead OTLP collector costs each pipeline call, against telemetry switched off.

One process, one ``configure()`` (traces, metrics and logs over OTLP to a closed 127.0.0.1 port),
otherwise identical pipelines -- a circuit breaker around a retry around a function that
succeeds -- on four sets of providers: explicit no-op ones (telemetry off), bare SDK providers
that record but export nothing (the SDK's own cost), ``build()`` exporting to a live OTLP sink in
a child process (collector up), and the configured global ones (collector down). Rounds are
interleaved (order rotating) so drift and noise hit all alike; the table gives ns/call (median
and best round) and the ratio of medians against telemetry off and against collector up. Then
both handles' ``shutdown()`` are timed.

    uv run --frozen python benchmarks/bench_collector_down.py [--calls 10000] [--rounds 9]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from opentelemetry._logs import NoOpLoggerProvider
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NoOpTracerProvider

from otel_resilience import CircuitBreaker, Pipeline, Retry


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound and released at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: A child process running oteltest's gRPC sink on 127.0.0.1 that discards what it receives.
SINK_PROGRAM = """
import logging, sys, grpc, oteltest.sink as sink_mod
from oteltest.sink.handler import RequestHandler
class Discard(RequestHandler):
    def handle_logs(self, request, headers): pass
    def handle_metrics(self, request, headers): pass
    def handle_trace(self, request, headers): pass
real, ports = grpc.server, []
class Loopback:
    def __init__(self, server): self.server = server
    def add_insecure_port(self, address):
        ports.append(self.server.add_insecure_port("127.0.0.1:" + address.rsplit(":", 1)[1]))
        return ports[-1]
    def __getattr__(self, name): return getattr(self.server, name)
sink_mod.grpc.server = lambda *a, **k: Loopback(real(*a, **k))
sink = sink_mod.GrpcSink(Discard(), logging.getLogger("sink"), port=0)
sink.start()
print(ports[0], flush=True)
sys.stdin.read()
sink.stop()
"""


def start_sink() -> tuple[subprocess.Popen[str], int]:
    """Start the discarding sink; return the process and its port."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SINK_PROGRAM],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def make_pipeline(name: str, **providers: object) -> Pipeline:
    """The pipeline under test: breaker outside, retry inside."""
    return Pipeline(
        name,
        CircuitBreaker(name=f"{name}-breaker", minimum_calls=10),
        Retry(max_attempts=3, base_delay=0.001, jitter=False),
        **providers,  # type: ignore[arg-type]
    )


def ok(i: int) -> int:
    """The dependency: always answers."""
    return i


def time_calls(pipeline: Pipeline, calls: int) -> tuple[float, int]:
    """ns per call over ``calls`` calls, and how many raised."""
    call: Callable[..., object] = pipeline.call
    failures = 0
    start = time.perf_counter_ns()
    for i in range(calls):
        try:
            call(ok, i)
        except Exception:  # counted, never expected
            failures += 1
    return (time.perf_counter_ns() - start) / calls, failures


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000, help="calls per round and mode")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds")
    parser.add_argument("--protocol", default="grpc", choices=["grpc", "http/protobuf"])
    args = parser.parse_args(argv)

    sink, live = start_sink()
    try:
        return run(args, live)
    finally:
        if sink.stdin is not None:
            sink.stdin.close()
        try:
            sink.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sink.kill()
            sink.wait()


def otlp_env(protocol: str, port: int) -> None:
    """Point every signal's OTLP exporter at 127.0.0.1:``port``."""
    os.environ.update(
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
        }
    )


def run(args: argparse.Namespace, live: int) -> int:
    """Build the four modes, time them, print the table."""
    from otel_resilience_exporters import build, configure

    otlp_env("grpc", live)  # the sink speaks gRPC only
    up = build(service_name="bench-collector-up")
    port = closed_port()
    otlp_env(args.protocol, port)
    handle = configure(service_name="bench-collector-down")
    modes = {
        "telemetry off": make_pipeline(
            "bench.off",
            tracer_provider=NoOpTracerProvider(),
            meter_provider=NoOpMeterProvider(),
            logger_provider=NoOpLoggerProvider(),
        ),
        "sdk, no export": make_pipeline(
            "bench.sdk",
            tracer_provider=TracerProvider(),
            meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]),
            logger_provider=LoggerProvider(),
        ),
        "collector up": make_pipeline(
            "bench.up",
            tracer_provider=up.tracer_provider,
            meter_provider=up.meter_provider,
            logger_provider=up.logger_provider,
        ),
        "collector down": make_pipeline("bench.down"),
    }
    for pipeline in modes.values():  # warm-up: imports, caches, first export attempts
        time_calls(pipeline, min(args.calls, 2_000))

    samples: dict[str, list[float]] = {mode: [] for mode in modes}
    failures = dict.fromkeys(modes, 0)
    order = list(modes)
    for _ in range(args.rounds):
        for mode in order:
            ns, failed = time_calls(modes[mode], args.calls)
            samples[mode].append(ns)
            failures[mode] += failed
        order.append(order.pop(0))

    start = time.perf_counter()
    up.shutdown()
    up_shutdown_s = time.perf_counter() - start
    start = time.perf_counter()
    handle.shutdown()
    shutdown_s = time.perf_counter() - start

    base = statistics.median(samples["telemetry off"])
    live_base = statistics.median(samples["collector up"])
    print(
        f"collector down at 127.0.0.1:{port} ({args.protocol}), up at :{live} (grpc); "
        f"{args.rounds} interleaved "
        f"rounds x {args.calls} calls per mode; python {sys.version.split()[0]}"
    )
    print(
        f"{'mode':<16}{'median ns/call':>16}{'best ns/call':>14}"
        f"{'vs off':>8}{'vs up':>8}{'failures':>10}"
    )
    for mode, values in samples.items():
        median = statistics.median(values)
        print(
            f"{mode:<16}{median:>16,.0f}{min(values):>14,.0f}"
            f"{median / base:>8.2f}{median / live_base:>8.2f}{failures[mode]:>10}"
        )
    print(f"shutdown(): collector up {up_shutdown_s:.2f} s, collector down {shutdown_s:.2f} s")
    return 1 if any(failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
