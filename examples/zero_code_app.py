"""An HTTP client app with no telemetry and no resilience code: only httpx and requests calls.

Run it under ``opentelemetry-instrument`` with otel-resilience-instrumentation installed, and
its calls are retried, a dead host's circuit breaker opens, and every attempt is a span,
configured from the environment alone::

    OTEL_PYTHON_DISTRO=otel_resilience OTEL_SERVICE_NAME=orders-app \
    OTEL_RESILIENCE_EXPORTER=jsonl OTEL_RESILIENCE_JSONL_PATH=/tmp/telemetry.jsonl \
    OTEL_RESILIENCE_HTTP_BASE_DELAY=0.05 OTEL_RESILIENCE_HTTP_BREAKER_MINIMUM_CALLS=3 \
    opentelemetry-instrument python examples/zero_code_app.py \
        http://127.0.0.1:8000 http://127.0.0.1:9

The first argument (or ``APP_SERVICE_URL``) is a service that sometimes answers 503; the second
(or ``APP_DEAD_URL``) a host that refuses connections. With httpx the app fetches an order (sync
client) and its stock (async client) from the service, then calls the dead host a few times;
with requests it fetches another order. It prints one line per call. Each client library has
its own function in ``CLIENTS``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

import httpx
import requests

#: Calls to the dead host: the first exhausts its retries, the breaker rejects the others.
DEAD_CALLS = 3
TIMEOUT = 5.0  # seconds, per request


def urls(argv: list[str]) -> tuple[str, str]:
    """The service and dead-host base URLs, from the arguments or the environment."""
    service = argv[1] if len(argv) > 1 else os.environ.get("APP_SERVICE_URL", "")
    dead = argv[2] if len(argv) > 2 else os.environ.get("APP_DEAD_URL", "")
    if not service or not dead:
        sys.exit("usage: zero_code_app.py SERVICE_URL DEAD_URL (or APP_SERVICE_URL, APP_DEAD_URL)")
    return service.rstrip("/"), dead.rstrip("/")


async def _stock(service: str) -> int:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.get(f"{service}/stock/42")
        return response.status_code


def with_httpx(service: str, dead: str) -> list[str]:
    """The app's httpx calls; one line per call."""
    lines = []
    with httpx.Client(timeout=TIMEOUT) as client:
        order = client.get(f"{service}/orders/42")
        lines.append(f"httpx order: {order.status_code}")
    lines.append(f"httpx async stock: {asyncio.run(_stock(service))}")
    for n in range(1, DEAD_CALLS + 1):
        try:
            httpx.get(f"{dead}/health", timeout=TIMEOUT)
        except Exception as exc:  # a real app would degrade; this one reports
            lines.append(f"httpx dead host call {n}: {type(exc).__name__}")
        else:
            lines.append(f"httpx dead host call {n}: answered")
    return lines


def with_requests(service: str, dead: str) -> list[str]:
    """The app's requests calls; one line per call."""
    order = requests.get(f"{service}/orders/43", timeout=TIMEOUT)
    return [f"requests order: {order.status_code}"]


#: Each client library's calls: name -> function(service_url, dead_url) -> printed lines.
CLIENTS: dict[str, Callable[[str, str], list[str]]] = {
    "httpx": with_httpx,
    "requests": with_requests,
}


def main(argv: list[str]) -> None:
    """Run every client library's calls and print what each ended with."""
    service, dead = urls(argv)
    for run in CLIENTS.values():
        for line in run(service, dead):
            print(line)


if __name__ == "__main__":
    main(sys.argv)
