"""Run inside a venv holding our wheels and the contrib HTTP instrumentors (see
test_contrib_coexistence.py): for each client and each instrument order, one request that a
local server answers 503 then 200; prints what the server saw and which CLIENT spans exist."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from otel_resilience.testing import FakeClock

HITS: dict[str, int] = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        n = HITS[self.path] = HITS.get(self.path, 0) + 1
        body = b"ok"
        self.send_response(503 if n == 1 else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def clients() -> dict[str, tuple[Any, Any, Any]]:
    """client name -> (our instrumentor, contrib's, a GET returning the status)."""
    import aiohttp
    import httpx
    import requests
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from otel_resilience_instrumentation.aiohttp_client import (
        ResilienceAiohttpClientInstrumentor,
    )
    from otel_resilience_instrumentation.httpx import ResilienceHttpxInstrumentor
    from otel_resilience_instrumentation.requests import ResilienceRequestsInstrumentor

    def httpx_get(url: str) -> int:
        with httpx.Client() as client:
            return client.get(url).status_code

    def aiohttp_get(url: str) -> int:
        async def get() -> int:
            async with aiohttp.ClientSession() as session, session.get(url) as resp:
                await resp.read()
                return resp.status

        return asyncio.run(get())

    def requests_get(url: str) -> int:
        return requests.get(url, timeout=10).status_code

    return {
        "httpx": (ResilienceHttpxInstrumentor(), HTTPXClientInstrumentor(), httpx_get),
        "aiohttp": (
            ResilienceAiohttpClientInstrumentor(),
            AioHttpClientInstrumentor(),
            aiohttp_get,
        ),
        "requests": (ResilienceRequestsInstrumentor(), RequestsInstrumentor(), requests_get),
    }


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    report: dict[str, Any] = {}
    try:
        for name, (ours, contrib, get) in clients().items():
            for order in ("ours_first", "contrib_first"):
                first, second = (ours, contrib) if order == "ours_first" else (contrib, ours)
                for inst in (first, second):
                    extra = {"clock": FakeClock()} if inst is ours else {}
                    inst.instrument(tracer_provider=provider, **extra)
                exporter.clear()
                path = f"/{name}/{order}"
                try:
                    status = get(base + path)
                finally:
                    second.uninstrument()
                    first.uninstrument()
                spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
                report[f"{name}/{order}"] = {
                    "status": status,
                    "server_saw": HITS.get(path, 0),
                    "client_spans": [
                        [
                            s.instrumentation_scope.name if s.instrumentation_scope else None,
                            (s.attributes or {}).get("http.request.resend_count"),
                        ]
                        for s in sorted(spans, key=lambda s: s.start_time or 0)
                    ],
                }
    finally:
        server.shutdown()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
