"""Per-request cost of the HTTP instrumentors against one local keep-alive server.

For each client (``--client``: httpx and httpx2 sync and async, requests, aiohttp; all by
default), four variants send ``GET /`` to the same server (a minimal asyncio HTTP/1.1 server
in a child process on 127.0.0.1, answering a fixed 200 on kept-alive connections), in
interleaved rounds in this one process (``_harness``): the plain client, the client under the
contrib instrumentor, under ours with telemetry off (the API's no-op providers) and under ours
with the SDK recording (``_http_clients`` builds them and says how they coexist in one
process; httpx2 has no contrib instrumentor, so no contrib variant).

Both recording variants use the same span processor (``SimpleSpanProcessor`` to an exporter
that drops the spans) and the same MeterProvider (an in-memory reader, never collected). A
check request through each variant confirms which spans it records, and prints what the two
recording variants record per request (spans and metric measurements) to stderr.

Targets: ours recording costs at most 1.2x contrib's overhead; ours with telemetry off at most
5 us per request above plain. Times are the calling thread's CPU time (``thread_time_ns``): the
instrumentation's cost is CPU work in the caller, while wall time on a shared machine is mostly
waiting for the server and for a core (wall median and p99 are printed for context). Medians
come from the harness (per-request mean of each round, median over rounds); p99 from every
request timed alone. ``--quick`` for a short run, ``--check`` to exit 1 on a missed target,
``--callgrind VARIANT --client C [--requests N [N ...]] [--async]`` to send N requests (2,000;
several N: one batch after the other) through one variant untimed, for ``valgrind
--tool=callgrind`` (the server process is not traced; each batch runs inside one
``functools.reduce`` call, so ``--toggle-collect=functools_reduce`` counts the requests alone).

opentelemetry-instrumentation-aiohttp-client is not a workspace dependency (it pins an older
OpenTelemetry release): without it the aiohttp section has no contrib variant; run the script
from a venv that has it for the comparison (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import multiprocessing
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Section, Variant, run_section
from _http_clients import CONTRIB, KITS, OFF, ON, PLAIN, Kit, one_request
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

RECORDING_TARGET = 1.2  # ours recording / contrib, overheads over plain
OFF_TARGET_US = 5.0  # ours telemetry off, above plain
CALIBRATION_CALLS = 1200  # the harness's warm-up (200) and estimate (1000) calls per variant
_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class _Answer(asyncio.Protocol):
    """Answers every request on a connection with the fixed 200, keeping it open."""

    def connection_made(self, transport: Any) -> None:
        self._transport = transport
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:  # GETs only: no body to skip
            self._buffer = self._buffer[end + 4 :]
            self._transport.write(_RESPONSE)


def _serve(conn: Any) -> None:
    """Child process: serve on a free 127.0.0.1 port, sent back through ``conn``."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Answer, "127.0.0.1", 0)
        conn.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


class _DropSpans(SpanExporter):
    """Exports nothing; during the check it notes each span's scope and kind."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.seen is not None:
            self.seen.update((s.instrumentation_scope.name, s.kind.name) for s in spans)  # type: ignore[union-attr]
        return SpanExportResult.SUCCESS


def _recorded(reader: InMemoryMetricReader) -> Counter[str]:
    """Per ``scope: metric``: a histogram's measurements so far; 1 for any other instrument
    with data (a gauge, a counter)."""
    totals: Counter[str] = Counter()
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:  # type: ignore[union-attr]
                    name = f"{scope.scope.name}: {metric.name}"
                    totals[name] = totals[name] + point.count if hasattr(point, "count") else 1
    return totals


def _check(kit: Kit, url: str, sink: _DropSpans, reader: InMemoryMetricReader) -> None:
    """One request per variant (clients of their own, closed after): each records exactly the
    spans its label says; prints what each records (spans and metric measurements)."""
    for is_async in kit.modes:
        expected = kit.expected()
        for label, fetch in kit.fetches(is_async).items():
            sink.seen = Counter()
            before = _recorded(reader)
            status = one_request(fetch, url, is_async)
            after = _recorded(reader)
            metrics = {
                k: v - before[k] for k, v in after.items() if v != before[k] or k not in before
            }
            if status != 200 or sink.seen != expected[label]:
                title = kit.title(is_async)
                raise SystemExit(f"{title}, {label}: status {status}, spans {dict(sink.seen)}")
            if is_async is kit.modes[0] and label in (CONTRIB, ON):
                spans = ", ".join(f"{n} {scope} {kind}" for (scope, kind), n in sink.seen.items())
                print(f"{label}: per request {spans}; metrics {dict(metrics)}", file=sys.stderr)
    sink.seen = None


def _measure(kit: Kit, url: str, is_async: bool, budget: float, quiet: bool) -> bool:
    """Time the variants in interleaved rounds; print the table and the target lines."""
    fetches = kit.fetches(is_async)
    cpu: dict[str, list[int]] = {label: [] for label in fetches}
    wall: dict[str, list[int]] = {label: [] for label in fetches}
    call = "await _get(_url)" if is_async else "_get(_url)"
    stmt = f"_c = _cpu(); _w = _wall(); {call}; _wl.append(_wall() - _w); _cl.append(_cpu() - _c)"
    variants = [
        Variant(
            label,
            stmt,
            {
                "_get": fetch.get,
                "_url": url,
                "_cpu": time.thread_time_ns,
                "_wall": time.perf_counter_ns,
                "_cl": cpu[label],
                "_wl": wall[label],
            },
        )
        for label, fetch in fetches.items()
    ]
    title = kit.title(is_async)

    async def aclose() -> None:
        for fetch in fetches.values():
            await fetch.close()

    section = Section(
        title, variants, budget, is_async=is_async, clock=time.thread_time_ns, cleanup=aclose
    )
    progress = None if quiet else (lambda m: print(m, file=sys.stderr))
    try:
        stats, n, rounds = run_section(section, progress=progress)
    finally:
        if not is_async:
            for fetch in fetches.values():
                fetch.close()
    for values in (*cpu.values(), *wall.values()):
        del values[:CALIBRATION_CALLS]
    print(f"\n== {title}: {rounds} rounds of {n} requests per variant ==")
    return _report(stats, cpu, wall)


def _pct(values: list[int], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _report(stats: dict[str, Any], cpu: dict[str, list[int]], wall: dict[str, list[int]]) -> bool:
    base = stats[PLAIN].median
    base_p99 = _pct(cpu[PLAIN], 99)
    print(
        f"{'':<22}{'---------- CPU us per request ----------':>42}{'-- wall us --':>16}\n"
        f"{'variant':<22}{'median':>8}{'+-':>6}{'overhead':>10}{'p99':>8}{'p99 over':>10}"
        f"{'median':>8}{'p99':>8}"
    )
    over = {}
    for label, st in stats.items():
        over[label] = st.median - base
        p99 = _pct(cpu[label], 99)
        print(
            f"{label:<22}{st.median / 1e3:>8.1f}{st.spread / 1e3:>6.1f}{over[label] / 1e3:>10.1f}"
            f"{p99 / 1e3:>8.1f}{(p99 - base_p99) / 1e3:>10.1f}"
            f"{_pct(wall[label], 50) / 1e3:>8.0f}{_pct(wall[label], 99) / 1e3:>8.0f}"
        )
    if CONTRIB in over:
        ratio = over[ON] / over[CONTRIB] if over[CONTRIB] > 0 else float("inf")
        rec_ok = ratio <= RECORDING_TARGET
        print(
            f"{'PASS' if rec_ok else 'FAIL'} ours recording overhead {over[ON] / 1e3:.1f} us vs "
            f"contrib {over[CONTRIB] / 1e3:.1f} us: {ratio:.2f}x (target <= {RECORDING_TARGET}x)"
        )
    else:
        rec_ok = True
        print("---- no contrib instrumentor installed: recording ratio not measured")
    off_us = over[OFF] / 1e3
    off_ok = off_us <= OFF_TARGET_US
    print(
        f"{'PASS' if off_ok else 'FAIL'} ours telemetry off: {off_us:.1f} us above plain "
        f"(target <= {OFF_TARGET_US} us)"
    )
    return rec_ok and off_ok


def _untimed(kit: Kit, label: str, url: str, is_async: bool, counts: list[int]) -> None:
    """GETs through one variant: for each of ``counts``, that many inside one
    ``functools.reduce`` call (what callgrind counts with ``--collect-atstart=no
    --toggle-collect=functools_reduce``; ``--dump-after=functools_reduce`` writes one profile
    per count, and the difference of two, divided, is one request free of set-up costs)."""
    fetch = kit.fetches(is_async)[label]
    gc.disable()  # a collection landing in one batch and not the other moves figures by ~20k
    if not is_async:
        try:
            for n in counts:
                functools.reduce(lambda _, __: fetch.get(url), range(n), None)
        finally:
            fetch.close()
        return

    async def run(n: int) -> None:
        for _ in range(n):
            await fetch.get(url)

    loop = asyncio.new_event_loop()
    try:
        for n in counts:
            functools.reduce(lambda _, m: loop.run_until_complete(run(m)), [n], None)
        loop.run_until_complete(fetch.close())
    finally:
        loop.close()


def main(argv: list[str] | None = None) -> int:
    """Start the server, measure each client's variants, print tables and target lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about 15 s a client)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--client", choices=[*KITS, "all"], default="all", help="default: all")
    parser.add_argument(
        "--callgrind", choices=["plain", "contrib", "off", "sdk"], help="untimed requests only"
    )
    parser.add_argument(
        "--requests", type=int, nargs="+", default=[2000], help="with --callgrind: N [N ...]"
    )
    parser.add_argument("--async", dest="use_async", action="store_true", help="with --callgrind")
    args = parser.parse_args(argv)
    kits = list(KITS.values()) if args.client == "all" else [KITS[args.client]]
    if args.callgrind and len(kits) != 1:
        parser.error("--callgrind needs --client")
    if args.callgrind and args.use_async not in kits[0].modes:
        parser.error(f"{kits[0].name} has no {'async' if args.use_async else 'sync'} client")
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    sink = _DropSpans()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(sink))
    reader = InMemoryMetricReader()
    sdk = {"tracer_provider": tracer_provider, "meter_provider": MeterProvider([reader])}
    try:
        if not parent.poll(30):
            raise SystemExit("the benchmark server did not start")
        url = f"http://127.0.0.1:{parent.recv()}/"
        ok = True
        for kit in kits:
            kit.instrument(sdk)
            try:
                _check(kit, url, sink, reader)
                if args.callgrind:
                    label = {"plain": PLAIN, "contrib": CONTRIB, "off": OFF, "sdk": ON}
                    _untimed(kit, label[args.callgrind], url, args.use_async, args.requests)
                    return 0
                print(
                    f"otel-resilience HTTP benchmark: Python {platform.python_version()}, "
                    f"{kit.versions()}, one keep-alive connection per client"
                )
                budget = 2.0 if args.quick else 12.0
                for is_async in kit.modes:
                    ok = _measure(kit, url, is_async, budget, args.quick) and ok
            finally:
                kit.uninstrument()
    finally:
        server.terminate()
        server.join(5)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
