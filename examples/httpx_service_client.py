"""An httpx service client with its own circuit breaker and retry policy for one host, from code.

The client below is plain httpx: no retry loop, no breaker, no spans. One
``ResilienceHttpxInstrumentor().instrument(policies=...)`` at start-up gives the inventory
host a breaker that opens after a few failures and short retries, and leaves every other host
on the defaults (docs/instrumentation.md). While the breaker is open, lookups fail at once
with ``CircuitOpenError`` and never reach the network; the client turns that into "unavailable".

Run it against any service answering ``GET /stock/{sku}`` with ``{"units": N}``::

    OTEL_RESILIENCE_EXPORTER=pretty python examples/httpx_service_client.py http://127.0.0.1:8000

Telemetry goes where ``otel_resilience_exporters.configure()`` sends it
(``OTEL_RESILIENCE_EXPORTER``: ``pretty`` for the console, ``jsonl``, ``otlp``...).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from otel_resilience_instrumentation.httpx import ResilienceHttpxInstrumentor
from otel_resilience_instrumentation.policy import HttpPolicy

from otel_resilience import CircuitOpenError

#: The inventory host: two attempts (one retry) with short waits, and a breaker that opens when
#: half of at least 4 attempts in 30 s failed, and tries again after 10 s.
INVENTORY_POLICY = HttpPolicy(
    max_attempts=2,
    base_delay=0.05,
    max_delay=1.0,
    failure_ratio=0.5,
    minimum_calls=4,
    window=30.0,
    break_duration=10.0,
)


def host_key(url: str) -> str:
    """The policy key of ``url``'s host: ``host``, or ``host:port`` when the URL names a port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return host if parts.port is None else f"{host}:{parts.port}"


def policies(inventory_url: str) -> dict[str, HttpPolicy]:
    """The inventory host's own policy; every other host keeps the defaults."""
    return {host_key(inventory_url): INVENTORY_POLICY, "*": HttpPolicy()}


def instrument(inventory_url: str, **kwargs: Any) -> ResilienceHttpxInstrumentor:
    """Instrument httpx once, at start-up (``kwargs``: providers, or a test's ``clock``)."""
    instrumentor = ResilienceHttpxInstrumentor()
    instrumentor.instrument(policies=policies(inventory_url), **kwargs)
    return instrumentor


@dataclass(frozen=True)
class Stock:
    """A lookup's answer: the units in stock, or ``None`` and why not."""

    units: int | None
    reason: str = ""


class InventoryClient:
    """The inventory service's client: plain httpx, degrading to "unavailable" on failure."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    def stock(self, sku: str) -> Stock:
        """Units in stock of ``sku``; ``units=None`` while the service is failing."""
        try:
            response = self._http.get(f"/stock/{sku}")
        except CircuitOpenError:
            return Stock(None, "circuit open")
        except httpx.TransportError as exc:
            return Stock(None, type(exc).__name__)
        if response.status_code >= 500:  # still failing after the retries
            return Stock(None, f"HTTP {response.status_code}")
        response.raise_for_status()
        return Stock(int(response.json()["units"]))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> InventoryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str]) -> int:
    """Look up a few SKUs and print each answer."""
    if len(argv) != 2:
        print("usage: httpx_service_client.py INVENTORY_URL", file=sys.stderr)
        return 2
    from otel_resilience_exporters import configure

    telemetry = configure(service_name="inventory-client")
    instrumentor = instrument(argv[1])
    try:
        with InventoryClient(argv[1]) as client:
            for n in range(1, 6):
                stock = client.stock(f"sku-{n}")
                shown = stock.units if stock.units is not None else f"unavailable ({stock.reason})"
                print(f"sku-{n}: {shown}")
    finally:
        instrumentor.uninstrument()
        telemetry.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
