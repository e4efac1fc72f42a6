"""Send a few resilient calls' telemetry to the backends of examples/compose/docker-compose.yml.

Run with: OTEL_TRACES_EXPORTER=jaeger OTEL_METRICS_EXPORTER=prometheus OTEL_LOGS_EXPORTER=none
(or OTEL_RESILIENCE_EXPORTER=jsonl to inspect telemetry.jsonl without any backend).
"""

from __future__ import annotations

import random

from opentelemetry import trace
from otel_resilience_exporters import configure


def main() -> None:
    """Configure telemetry once, emit a few spans, shut down within the bound."""
    telemetry = configure(service_name="exporters-example")
    tracer = trace.get_tracer("example")
    for i in range(10):
        with tracer.start_as_current_span("checkout", attributes={"user.email": "a@b.io"}) as span:
            span.set_attribute("attempt", i)
            span.set_attribute("ok", random.random() > 0.3)
    print("dropped:", telemetry.dropped())
    telemetry.shutdown()


if __name__ == "__main__":
    main()
