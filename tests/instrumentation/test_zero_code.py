"""examples/zero_code_app.py run by ``opentelemetry-instrument``: retries, a span per attempt and
a breaker opening, configured by OTEL_RESILIENCE_HTTP_* alone and exported to a jsonl file."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections import defaultdict
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from httpx_support import parent_span_id
from servers import InstrServer, closed_port

from otel_resilience import semconv

APP = Path(__file__).resolve().parents[2] / "examples" / "zero_code_app.py"
RUN_TIMEOUT = 180.0  # seconds: a hung run fails the test; it normally takes a few


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_app_has_no_telemetry_or_resilience_code():
    """The example imports httpx, requests and the stdlib only: nothing of OpenTelemetry or ours."""
    imported = _imported(APP)
    assert {"httpx", "requests"} <= imported
    assert not any(n.startswith(("opentelemetry", "otel_resilience")) for n in imported)


def _run(server: InstrServer, dead: str, jsonl: Path) -> subprocess.CompletedProcess[str]:
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    env = {
        **os.environ,  # OTEL_* removed by the autouse fixture
        "OTEL_PYTHON_DISTRO": "otel_resilience",
        "OTEL_SERVICE_NAME": "orders-app",
        "OTEL_RESILIENCE_EXPORTER": "jsonl",
        "OTEL_RESILIENCE_JSONL_PATH": str(jsonl),
        # The documented variables: short real backoffs, and a breaker that opens on a dead
        # host (3 failures of 3) but not on the flaky service (at most 2 failures of 4).
        "OTEL_RESILIENCE_HTTP_BASE_DELAY": "0.01",
        "OTEL_RESILIENCE_HTTP_MAX_DELAY": "0.05",
        "OTEL_RESILIENCE_HTTP_BREAKER_MINIMUM_CALLS": "3",
        "OTEL_RESILIENCE_HTTP_BREAKER_FAILURE_RATIO": "0.9",
    }
    argv = [str(launcher), sys.executable, str(APP), server.url, dead]
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


def _by_parent(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        children[span["parent_span_id"]].append(span)
    for group in children.values():
        group.sort(key=lambda s: s["start_time_unix_nano"])
    return children


def test_zero_code_run_retries_breaks_and_shows_every_attempt(server, tmp_path):
    """Under opentelemetry-instrument (contrib httpx loaded too) the unmodified app's 503s are
    retried, with one CLIENT span of ours per attempt (resend_count on the resend) under the
    pipeline span, and a dead host's breaker opens, logs it and rejects the later calls."""
    assert entry_points(group="opentelemetry_instrumentor", name="httpx"), "contrib is loaded"
    server.script(503, 200, 503, 200, 503)
    dead_port = closed_port()
    jsonl = tmp_path / "telemetry.jsonl"
    run = _run(server, f"http://127.0.0.1:{dead_port}", jsonl)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "httpx order: 200",
        "httpx async stock: 200",
        "httpx dead host call 1: ConnectError",
        "httpx dead host call 2: CircuitOpenError",
        "httpx dead host call 3: CircuitOpenError",
        "requests order: 200",
    ]
    assert "is invalid" not in run.stderr  # every OTEL_RESILIENCE_HTTP_* value was taken
    paths = ["/orders/42", "/stock/42", "/orders/43"]  # httpx, httpx async, requests
    assert [r.path for r in server.received] == [p for p in paths for _ in range(2)]

    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    spans = [o for o in lines if o["signal"] == "span"]
    assert {s["resource"]["service.name"] for s in spans} == {"orders-app"}
    clients = [s for s in spans if s["kind"] == "CLIENT"]
    assert {s["scope"]["name"] for s in clients} == {semconv.HTTP_SCOPE_NAME}  # none of contrib
    children = _by_parent(clients)
    service_key = f"127.0.0.1:{server.server_address[1]}"

    # The service: per request, a pipeline span over a 503 attempt and its resend.
    pipelines = [s for s in spans if s["name"] == f"HTTP {service_key}"]
    assert len(pipelines) == 3
    sent = iter(parent_span_id(r.headers["traceparent"]) for r in server.received)
    for pipeline, path in zip(
        sorted(pipelines, key=lambda s: s["start_time_unix_nano"]),
        paths,
        strict=True,
    ):
        assert pipeline["kind"] == "INTERNAL"
        assert pipeline["attributes"][semconv.ATTEMPTS] == 2
        assert pipeline["attributes"][semconv.OUTCOME] == semconv.OUTCOME_SUCCESS
        first, resend = children[pipeline["span_id"]]
        assert [a["attributes"]["url.full"] for a in (first, resend)] == [server.url + path] * 2
        assert first["attributes"][semconv.HTTP_RESPONSE_STATUS_CODE] == 503
        assert semconv.HTTP_REQUEST_RESEND_COUNT not in first["attributes"]
        assert resend["attributes"][semconv.HTTP_RESPONSE_STATUS_CODE] == 200
        assert resend["attributes"][semconv.HTTP_REQUEST_RESEND_COUNT] == 1
        assert pipeline["start_time_unix_nano"] <= first["start_time_unix_nano"]
        # The resend starts inside the pipeline span; its CLIENT span also covers the body
        # read, which httpx does after the pipeline has handed the response back.
        assert first["end_time_unix_nano"] <= resend["start_time_unix_nano"]
        assert resend["start_time_unix_nano"] <= pipeline["end_time_unix_nano"]
        # The server saw each attempt's own span as the parent.
        assert [next(sent), next(sent)] == [int(first["span_id"], 16), int(resend["span_id"], 16)]

    # The dead host: three refused attempts, then the open breaker rejects without a try.
    dead_key = f"127.0.0.1:{dead_port}"
    dead = sorted(
        (s for s in spans if s["name"] == f"HTTP {dead_key}"),
        key=lambda s: s["start_time_unix_nano"],
    )
    assert [s["attributes"][semconv.OUTCOME] for s in dead] == [
        semconv.OUTCOME_FAILURE,
        semconv.OUTCOME_REJECTED,
        semconv.OUTCOME_REJECTED,
    ]
    attempts = children[dead[0]["span_id"]]
    assert [a["attributes"].get(semconv.HTTP_REQUEST_RESEND_COUNT) for a in attempts] == [
        None,
        1,
        2,
    ]
    assert all(a["attributes"][semconv.ERROR_TYPE] == "httpx.ConnectError" for a in attempts)
    assert all(s["span_id"] not in children for s in dead[1:])
    assert all(s["attributes"][semconv.ERROR_TYPE].endswith("CircuitOpenError") for s in dead[1:])
    changes = [
        o["attributes"]
        for o in lines
        if o["signal"] == "log" and o["event_name"] == semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE
    ]
    assert changes == [
        {
            semconv.CIRCUIT_BREAKER_NAME: dead_key,
            semconv.CIRCUIT_BREAKER_PREVIOUS_STATE: "closed",
            semconv.CIRCUIT_BREAKER_STATE: "open",
        }
    ]
    durations = [
        o
        for o in lines
        if o["signal"] == "metric" and o["name"] == semconv.METRIC_HTTP_CLIENT_REQUEST_DURATION
    ]
    assert sum(p["count"] for p in durations) == 9  # every attempt, refused ones included
