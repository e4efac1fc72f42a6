"""Per-request cost of the httpx instrumentors against one local keep-alive server.

Four httpx clients send ``GET /`` to the same server (a minimal asyncio HTTP/1.1 server in a
child process on 127.0.0.1, answering a fixed 200 on kept-alive connections), in interleaved
rounds in this one process (``_harness``), first ``httpx.Client``s, then ``httpx.AsyncClient``s:

* **plain**: httpx with nothing patched on its path;
* **contrib**: under ``opentelemetry-instrumentation-httpx`` (its ``instrument()``, recording
  into an SDK TracerProvider and MeterProvider);
* **ours, telemetry off**: under our wrapper, with the API's default (no-op) providers;
* **ours, SDK recording**: under our wrapper, recording into the same SDK providers.

Both recording variants use the same span processor (``SimpleSpanProcessor`` to an exporter that
drops the spans) and the same MeterProvider (an in-memory reader, never collected).

Every instrumentation here must coexist in one process, so each is applied to its own client:
contrib is instrumented for real (its patch of the transports' ``handle_request`` is global),
and the other clients use a transport subclass holding the original method. Ours is the very
wrapper ``instrument()`` installs (``_httpx_like._wrappers`` around an ``HttpRunner``), put on
a client subclass with ``wrapt.FunctionWrapper``, as ``wrap_function_wrapper`` does on
``httpx.Client``; a check request through each client confirms who records what.

Targets: ours recording costs at most 1.2x contrib's overhead; ours with telemetry off at most
5 us per request above plain. Times are the calling thread's CPU time (``thread_time_ns``): the
instrumentation's cost is CPU work in the caller, while wall time on a shared machine is mostly
waiting for the server and for a core (wall median and p99 are printed for context). Medians
come from the harness (per-request mean of each round, median over rounds); p99 from every
request timed alone. ``--quick`` for a short run,
``--check`` to exit 1 on a missed target, ``--callgrind VARIANT [--requests N] [--async]``
to send N requests (2,000) through one client untimed, for ``valgrind --tool=callgrind`` (the
server process is not traced); ``--client httpx2|requests|aiohttp`` with ``--callgrind plain|off``
does the same for another client library, plain or under our instrumentor's real patch.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
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

import httpx
import wrapt
from _harness import Section, Variant, run_section
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from otel_resilience_instrumentation._http import HttpRunner
from otel_resilience_instrumentation._httpx_like import _Adapter, _wrappers

RECORDING_TARGET = 1.2  # ours recording / contrib, overheads over plain
OFF_TARGET_US = 5.0  # ours telemetry off, above plain
CALIBRATION_CALLS = 1200  # the harness's warm-up (200) and estimate (1000) calls per variant
PLAIN, CONTRIB, OFF, ON = "plain httpx", "contrib instrumentor", "ours, telemetry off", "ours, SDK"
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


class _Bare(httpx.HTTPTransport):
    """The default transport with the original ``handle_request``, out of contrib's reach."""

    handle_request = httpx.HTTPTransport.handle_request


class _BareAsync(httpx.AsyncHTTPTransport):
    """The async twin of :class:`_Bare`."""

    handle_async_request = httpx.AsyncHTTPTransport.handle_async_request


def _ours_client(runner: HttpRunner[Any], is_async: bool) -> type[Any]:
    """A client subclass whose ``_send_single_request`` is wrapped as ``instrument()`` does."""
    sync_send, async_send = _wrappers(httpx, runner)
    base: type[Any] = httpx.AsyncClient if is_async else httpx.Client
    wrapper = wrapt.FunctionWrapper(
        base._send_single_request, async_send if is_async else sync_send
    )
    return type("OursClient", (base,), {"_send_single_request": wrapper})


def _clients(sdk: dict[str, Any], is_async: bool) -> dict[str, Any]:
    """The four clients (sync or async); contrib must be instrumented already."""
    cls, bare = (httpx.AsyncClient, _BareAsync) if is_async else (httpx.Client, _Bare)
    off = _ours_client(HttpRunner(_Adapter(httpx)), is_async)
    on = _ours_client(HttpRunner(_Adapter(httpx), **sdk), is_async)
    return {
        PLAIN: cls(transport=bare()),
        CONTRIB: cls(),
        OFF: off(transport=bare()),
        ON: on(transport=bare()),
    }


EXPECTED = {
    PLAIN: Counter(),
    CONTRIB: Counter({("opentelemetry.instrumentation.httpx", "CLIENT"): 1}),
    OFF: Counter(),
    ON: Counter(
        {("otel_resilience", "INTERNAL"): 1, ("otel_resilience_instrumentation", "CLIENT"): 1}
    ),
}


def _check(sdk: dict[str, Any], url: str, sink: _DropSpans) -> None:
    """One request per client, sync and async (clients of their own, closed after): each
    records exactly what its label says."""

    async def aget(client: httpx.AsyncClient) -> int:
        async with client:
            return (await client.get(url)).status_code

    for is_async in (False, True):
        for label, client in _clients(sdk, is_async).items():
            sink.seen = Counter()
            if is_async:
                status = asyncio.run(aget(client))
            else:
                with client:
                    status = client.get(url).status_code
            if status != 200 or sink.seen != EXPECTED[label]:
                kind = "async" if is_async else "sync"
                raise SystemExit(f"{label} ({kind}): status {status}, spans {dict(sink.seen)}")
    sink.seen = None


def _measure(clients: dict[str, Any], url: str, is_async: bool, budget: float, quiet: bool) -> bool:
    """Time the four clients in interleaved rounds; print the table and the target lines."""
    cpu: dict[str, list[int]] = {label: [] for label in clients}
    wall: dict[str, list[int]] = {label: [] for label in clients}
    call = "await _get(_url)" if is_async else "_get(_url)"
    stmt = f"_c = _cpu(); _w = _wall(); {call}; _wl.append(_wall() - _w); _cl.append(_cpu() - _c)"
    variants = [
        Variant(
            label,
            stmt,
            {
                "_get": client.get,
                "_url": url,
                "_cpu": time.thread_time_ns,
                "_wall": time.perf_counter_ns,
                "_cl": cpu[label],
                "_wl": wall[label],
            },
        )
        for label, client in clients.items()
    ]
    title = "httpx.AsyncClient GET" if is_async else "httpx.Client GET"
    section = Section(title, variants, budget, is_async=is_async, clock=time.thread_time_ns)
    progress = None if quiet else (lambda m: print(m, file=sys.stderr))
    stats, n, rounds = run_section(section, progress=progress)
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
    ratio = over[ON] / over[CONTRIB] if over[CONTRIB] > 0 else float("inf")
    rec_ok = ratio <= RECORDING_TARGET
    off_us = over[OFF] / 1e3
    off_ok = off_us <= OFF_TARGET_US
    print(
        f"{'PASS' if rec_ok else 'FAIL'} ours recording overhead {over[ON] / 1e3:.1f} us vs "
        f"contrib {over[CONTRIB] / 1e3:.1f} us: {ratio:.2f}x (target <= {RECORDING_TARGET}x)"
    )
    print(
        f"{'PASS' if off_ok else 'FAIL'} ours telemetry off: {off_us:.1f} us above plain "
        f"(target <= {OFF_TARGET_US} us)"
    )
    return rec_ok and off_ok


def _untimed(client: Any, url: str, requests: int) -> None:
    """``requests`` GETs through ``client`` (sync or async), then close it."""
    # functools.reduce is the loop so that callgrind can count it alone:
    # `--collect-atstart=no --toggle-collect=functools_reduce`; the async loop runs in a
    # one-item reduce (with its event loop's set-up: divide the difference of two lengths).
    if isinstance(client, httpx.AsyncClient):

        async def run() -> None:
            async with client:
                for _ in range(requests):
                    await client.get(url)

        functools.reduce(lambda _, __: asyncio.run(run()), range(1), None)
        return
    with client:
        functools.reduce(lambda _, __: client.get(url), range(requests), None)


#: Clients other than httpx, for ``--callgrind plain|off`` only: ours is the real
#: instrumentor's global patch (``instrument()`` with the API's default providers).
_OTHER = {
    "httpx2": "otel_resilience_instrumentation.httpx2:ResilienceHttpx2Instrumentor",
    "requests": "otel_resilience_instrumentation.requests:ResilienceRequestsInstrumentor",
    "aiohttp": "otel_resilience_instrumentation.aiohttp_client:ResilienceAiohttpClientInstrumentor",
}


def _untimed_other(name: str, variant: str, url: str, requests: int, is_async: bool) -> None:
    """``requests`` GETs through a ``name`` client, plain or under ours with telemetry off; the
    async loop runs inside a one-item ``functools.reduce`` (callgrind counts it alone, with the
    loop's set-up: divide the difference of two lengths)."""
    if variant not in ("plain", "off"):
        raise SystemExit(f"--client {name}: --callgrind plain or off only")
    if variant == "off":
        module, _, cls = _OTHER[name].partition(":")
        getattr(importlib.import_module(module), cls)().instrument()

    async def arun() -> None:
        if name == "aiohttp":
            import aiohttp

            async with aiohttp.ClientSession() as session:
                for _ in range(requests):
                    async with session.get(url) as response:
                        await response.read()
            return
        async with importlib.import_module(name).AsyncClient() as client:
            for _ in range(requests):
                await client.get(url)

    if is_async or name == "aiohttp":
        functools.reduce(lambda _, __: asyncio.run(arun()), range(1), None)
        return
    lib = importlib.import_module(name)
    with lib.Session() if name == "requests" else lib.Client() as client:
        functools.reduce(lambda _, __: client.get(url), range(requests), None)


def main(argv: list[str] | None = None) -> int:
    """Start the server, measure the clients sync then async, print tables and target lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about 15 seconds)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--callgrind", choices=["plain", "contrib", "off", "sdk"], help="untimed requests only"
    )
    parser.add_argument("--requests", type=int, default=2000, help="with --callgrind")
    parser.add_argument("--async", dest="use_async", action="store_true", help="with --callgrind")
    parser.add_argument(
        "--client",
        choices=["httpx", *_OTHER],
        default="httpx",
        help="with --callgrind: the client library (others: plain or off only)",
    )
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    sink = _DropSpans()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(sink))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    sdk = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}
    contrib = HTTPXClientInstrumentor()
    contrib.instrument(**sdk)
    try:
        if not parent.poll(30):
            raise SystemExit("the benchmark server did not start")
        url = f"http://127.0.0.1:{parent.recv()}/"
        _check(sdk, url, sink)
        if args.callgrind and args.client != "httpx":
            _untimed_other(args.client, args.callgrind, url, args.requests, args.use_async)
            return 0
        if args.callgrind:
            label = {"plain": PLAIN, "contrib": CONTRIB, "off": OFF, "sdk": ON}[args.callgrind]
            _untimed(_clients(sdk, args.use_async)[label], url, args.requests)
            return 0
        print(
            f"otel-resilience HTTP benchmark: Python {platform.python_version()}, "
            f"httpx {httpx.__version__}, one keep-alive connection per client"
        )
        budget = 2.0 if args.quick else 12.0
        clients = _clients(sdk, is_async=False)
        ok = _measure(clients, url, False, budget, args.quick)
        for client in clients.values():
            client.close()
        # The harness runs the async section in an event loop of its own and closes it, so
        # these clients' connections cannot be closed afterwards: the process exit does.
        ok = _measure(_clients(sdk, is_async=True), url, True, budget, args.quick) and ok
    finally:
        contrib.uninstrument()
        server.terminate()
        server.join(5)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
