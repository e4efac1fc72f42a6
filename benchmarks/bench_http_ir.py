"""Repeatable instruction counts of the HTTP wrappers with telemetry off, for callgrind.

``bench_http.py --callgrind`` talks to a server in another process, so the client's own
instruction count depends on timing (how often the event loop or a socket read finds nothing
yet): the same variant moves by 15-30k instructions per request between runs. This driver
removes the timing: sync clients send through an in-memory transport (httpx's and httpx2's
``MockTransport``, a stub connection pool under requests' ``HTTPAdapter``), async clients talk
to a server on their own event loop. Garbage collection is off while measuring.

``python benchmarks/bench_http_ir.py`` runs valgrind over every client and variant (a few
minutes) and prints instructions per request, plain and ours with telemetry off, and ours
above plain (target: 20,000, about 5 us on this machine). ``--driver VARIANT CLIENT [--async]``
is what each valgrind run executes: 20 warm-up requests, then batches of 50 and 150 requests,
each inside its own ``functools.reduce`` call, so ``--dump-after=functools_reduce`` gives one
profile per batch and their difference divided by 100 is one request.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import io
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _callgrind import batch_totals

COUNTS = (50, 150)
CLIENTS = (("httpx", False), ("httpx", True), ("httpx2", False), ("httpx2", True))
CLIENTS += (("requests", False), ("aiohttp", True))
TARGET = 20_000


def _sync_get(variant: str, client: str) -> Any:
    """A function sending one GET through ``client`` on an in-memory transport."""
    from otel_resilience_instrumentation._http import HttpRunner

    url = "http://127.0.0.1:8080/"
    if client == "requests":
        import requests
        import urllib3
        from otel_resilience_instrumentation import requests as ours
        from requests.adapters import HTTPAdapter

        class Pool:
            def urlopen(self, method: str, url: str, **kw: Any) -> Any:
                body = io.BytesIO(b"ok")
                return urllib3.HTTPResponse(
                    body=body, headers={"Content-Length": "2"}, status=200,
                    preload_content=False, decode_content=False, request_method=method,
                )  # fmt: skip

        pool = Pool()

        class Stub(HTTPAdapter):
            def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> Any:
                return pool

        adapter: type[HTTPAdapter] = Stub
        if variant == "off":
            send = ours._adapter_send(HttpRunner(ours._Adapter()))
            adapter = type("Ours", (Stub,), {"send": _wrapped(HTTPAdapter.send, send)})
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", adapter())
        return lambda: session.get(url).content
    import importlib

    from otel_resilience_instrumentation import _httpx_like

    lib = importlib.import_module(client)
    cls = lib.Client
    if variant == "off":
        sync_send, _ = _httpx_like._wrappers(lib, HttpRunner(_httpx_like._Adapter(lib)))
        wrapped = _wrapped(lib.Client._send_single_request, sync_send)
        cls = type("Ours", (lib.Client,), {"_send_single_request": wrapped})
    http = cls(transport=lib.MockTransport(lambda request: lib.Response(200, content=b"ok")))
    return lambda: http.get(url).content


def _wrapped(method: Any, wrapper: Any) -> Any:
    import wrapt

    return wrapt.FunctionWrapper(method, wrapper)


def driver(variant: str, client: str, is_async: bool) -> None:
    """What one valgrind run executes (see the module's docstring)."""
    if not is_async:
        get = _sync_get(variant, client)
        for _ in range(20):
            get()
        gc.disable()
        for n in COUNTS:
            functools.reduce(lambda _, __: get(), range(n), None)
        return
    import bench_http
    from _http_clients import KITS, OFF, PLAIN
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    kit = KITS[client]
    kit.instrument({"tracer_provider": TracerProvider(), "meter_provider": MeterProvider()})
    fetch = kit.fetches(True)[{"plain": PLAIN, "off": OFF}[variant]]
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(bench_http._Answer, "127.0.0.1", 0))
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"

    async def run(n: int) -> None:
        for _ in range(n):
            await fetch.get(url)

    loop.run_until_complete(run(20))  # the host planned, the connection open
    gc.disable()
    for n in COUNTS:
        functools.reduce(lambda _, m: loop.run_until_complete(run(m)), [n], None)
    loop.run_until_complete(fetch.close())
    server.close()
    loop.close()


def _per_request(variant: str, client: str, is_async: bool) -> int:
    """Instructions per request of one variant, from one valgrind run."""
    args = [variant, client] + (["--async"] if is_async else [])
    batches = batch_totals(__file__, args)
    return (batches[-1] - batches[-2]) // (COUNTS[1] - COUNTS[0])


def main() -> int:
    """Print the table, or (``--driver``) run one variant's requests."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", nargs=2, metavar=("VARIANT", "CLIENT"))
    parser.add_argument("--async", dest="use_async", action="store_true")
    args = parser.parse_args()
    if args.driver:
        driver(args.driver[0], args.driver[1], args.use_async)
        return 0
    print(f"{'client':<16}{'plain':>12}{'ours, off':>12}{'above':>10}")
    for client, is_async in CLIENTS:
        plain = _per_request("plain", client, is_async)
        off = _per_request("off", client, is_async)
        label = f"{client} {'async' if is_async else 'sync'}"
        mark = "ok" if off - plain <= TARGET else f"over {TARGET:,}"
        print(f"{label:<16}{plain:>12,}{off:>12,}{off - plain:>+10,}  {mark}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
