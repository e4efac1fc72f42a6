"""A plain script with resilience pipelines and no telemetry setup at all.

Run it under ``opentelemetry-instrument`` and the otel-resilience distro to get its traces,
metrics and breaker log events without changing a line::

    OTEL_PYTHON_DISTRO=otel_resilience OTEL_PYTHON_CONFIGURATOR=otel_resilience \
    OTEL_SERVICE_NAME=inventory-app OTEL_TRACES_EXPORTER=console \
    opentelemetry-instrument python examples/instrumented_app.py

The inventory service it calls is down for good: the first lookup retries to exhaustion, the
breaker (inside the retry, so it sees every attempt) opens during the second, and every lookup
after that is rejected at once. The price service fails on
every other call and recovers with one retry.
"""

from __future__ import annotations

import itertools

from otel_resilience import CircuitBreaker, Pipeline, Retry

inventory = Pipeline(
    "inventory.lookup",
    Retry(max_attempts=3, backoff="exponential", base_delay=0.01, max_delay=0.05, jitter=False),
    CircuitBreaker(
        name="inventory",
        failure_ratio=0.5,
        minimum_calls=4,
        window=10,
        window_type="count",
        break_duration=60.0,
    ),
)
prices = Pipeline("prices.quote", Retry(max_attempts=3, base_delay=0.01, jitter=False))

_price_calls = itertools.count()


def lookup_stock(sku: str) -> int:
    """The inventory service: unreachable."""
    raise ConnectionError(f"inventory service unreachable while looking up {sku}")


def quote(sku: str) -> float:
    """The price service: every other request times out."""
    if next(_price_calls) % 2 == 0:
        raise TimeoutError(f"price service timed out for {sku}")
    return 9.99


def main() -> None:
    """Look up six items, printing what each call ended with."""
    for n in range(6):
        sku = f"sku-{n}"
        price = prices.call(quote, sku)
        try:
            stock = inventory.call(lookup_stock, sku)
        except Exception as exc:  # a real app would degrade; this one reports
            print(f"{sku}: price {price:.2f}, stock unavailable ({type(exc).__name__})")
        else:
            print(f"{sku}: price {price:.2f}, stock {stock}")


if __name__ == "__main__":
    main()
