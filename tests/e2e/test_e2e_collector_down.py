"""With the OTLP collector down, calls never fail and the process still exits promptly."""

from __future__ import annotations

import time
from typing import Any

import pytest
from e2e_support import free_port

pytestmark = pytest.mark.e2e

CALLS = 10_000


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_ten_thousand_calls_survive_a_dead_collector(
    protocol: str, run_app: Any, run_id: str
) -> None:
    """10,000 calls succeed while every exporter targets a closed port; shutdown is bounded;
    the outage is logged once, then summed up, never once per batch."""
    dead = free_port()  # nothing listens here
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{dead}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
    }
    run = run_app(["collector-down", run_id, str(CALLS)], env, timeout=180)
    ended_at = time.time()
    result = run.check()
    assert result["calls"] == CALLS
    assert result["failures"] == 0
    assert result["wrong"] == 0
    assert result["shutdown_s"] < 10, f"shutdown() took {result['shutdown_s']:.1f}s"
    assert ended_at - result["emitted_at"] < 5, "process lingered after shutdown()"
    assert result["calls_s"] < 60, f"{CALLS} calls took {result['calls_s']:.1f}s"
    lines = run.stderr.splitlines()
    first = [line for line in lines if line.startswith("exporting ") and " failed: " in line]
    summary = [line for line in lines if "still failing at shutdown" in line]
    per_batch = [
        line
        for line in lines
        if ("Failed to export" in line or "Transient error" in line) and line not in first
    ]
    assert len(first) == 1, run.stderr[-4000:]
    assert len(summary) == 1, run.stderr[-4000:]
    assert per_batch == [], per_batch[:5]
