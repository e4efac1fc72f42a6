"""A plain script that retries with tenacity, backoff and stamina and breaks with pybreaker.

It imports neither OpenTelemetry nor otel-resilience. Run it under ``opentelemetry-instrument``
(with otel-resilience-instrumentation installed) and those libraries' decisions come out with
the otel-resilience telemetry contract, with no code change::

    OTEL_PYTHON_DISTRO=otel_resilience OTEL_PYTHON_CONFIGURATOR=otel_resilience \
    OTEL_TRACES_EXPORTER=console OTEL_METRICS_EXPORTER=console OTEL_LOGS_EXPORTER=console \
    opentelemetry-instrument python examples/resilience_libraries_app.py

Each retried function fails twice, then answers; the breaker opens on its first failure.
Sleeps are skipped so the script runs instantly.
"""

from __future__ import annotations

import backoff
import pybreaker
import stamina
import tenacity


class Flaky:
    """Fails twice, then answers."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls < 3:
            raise ConnectionError(f"attempt {self.calls}: service down")
        return "ok"


rates, quotes, users = Flaky(), Flaky(), Flaky()


@tenacity.retry(stop=tenacity.stop_after_attempt(3), sleep=lambda seconds: None)
def fetch_rates() -> str:
    return rates()


@backoff.on_exception(backoff.constant, ConnectionError, interval=0, jitter=None, max_tries=3)
def fetch_quotes() -> str:
    return quotes()


@stamina.retry(on=ConnectionError, attempts=3)
def fetch_users() -> str:
    return users()


def database_down() -> None:
    raise ConnectionError("database down")


database = pybreaker.CircuitBreaker(fail_max=1, name="database")


def main() -> None:
    with stamina.set_testing(True, attempts=3):  # no real backoff sleeps
        print("rates", fetch_rates(), "quotes", fetch_quotes(), "users", fetch_users())
    try:
        database.call(database_down)
    except pybreaker.CircuitBreakerError:
        print("database breaker", database.current_state)


if __name__ == "__main__":
    main()
