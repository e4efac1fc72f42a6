"""Every query of `otel-resilience dashboard` returns data from a real Prometheus.

A small workload in this process exports our metrics (breaker opening, retries, rejections,
durations, an in-process SLO) through the OpenTelemetry Prometheus reader; the Debian
``prometheus`` binary scrapes it every second and evaluates the rules of
``otel-resilience slo rules``. No GenAI instrumentation exists in the SDK yet (issue 10), so
the workload records the two GenAI histograms the dashboard reads, under their OpenTelemetry
semantic-convention names, from a synthetic recording.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import STARTUP_TIMES, Server, clean_env, free_port, http_get, missing, poll

from otel_resilience import SLO, CircuitBreaker, CircuitOpenError, Pipeline, Retry
from otel_resilience.slo._dashboard import (
    GEN_AI_REQUEST_MODEL,
    GEN_AI_TIME_TO_FIRST_CHUNK,
    GEN_AI_TOKEN_TYPE,
    GEN_AI_TOKEN_USAGE,
)
from otel_resilience.slo._rules import rules_text

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.version_info < (3, 11), reason="grafana-foundation-sdk needs 3.11+"),
]

PAYMENTS, SEARCH = "e2e-dash-payments", "e2e-dash-search"


class Workload:
    """Pipelines, an SLO and GenAI histograms, exported on 127.0.0.1:``port``/metrics."""

    def __init__(self, port: int) -> None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry()  # ours alone: nothing global is touched
        self.provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
        self.server, self.thread = start_http_server(port, addr="127.0.0.1", registry=registry)
        mp = self.provider
        self.breaker = CircuitBreaker(minimum_calls=2, failure_ratio=0.5, break_duration=3600)
        self.payments = Pipeline(
            PAYMENTS, Retry(max_attempts=2, base_delay=0.0), self.breaker, meter_provider=mp
        )
        self.search = Pipeline(SEARCH, Retry(max_attempts=3, base_delay=0.0), meter_provider=mp)
        self.slo = SLO("e2e-payments", pipeline=PAYMENTS, meter_provider=mp)
        meter = mp.get_meter("e2e.genai")
        self.tokens = meter.create_histogram(GEN_AI_TOKEN_USAGE, unit="{token}")
        self.first_chunk = meter.create_histogram(  # the GenAI semconv's bucket advice
            GEN_AI_TIME_TO_FIRST_CHUNK,
            unit="s",
            explicit_bucket_boundaries_advisory=[0.01 * 2**i for i in range(14)],
        )
        self.stop = threading.Event()
        self.rounds = 0
        self.loop = threading.Thread(target=self._run, name="e2e-dashboard-workload", daemon=True)
        self.loop.start()

    def _round(self) -> None:
        def down() -> str:
            raise ConnectionError("payments down")

        failures = iter([True])

        def flaky() -> str:
            if next(failures, False):
                raise ConnectionError("one blip")
            return "ok"

        # Failures, then rejections once the breaker opened.
        with contextlib.suppress(ConnectionError, CircuitOpenError):
            self.payments.call(down)
        self.search.call(flaky)
        for model, ttfc in (("model-a", 0.2), ("model-b", 0.6)):
            attrs = {GEN_AI_REQUEST_MODEL: model, "gen_ai.operation.name": "chat"}
            self.tokens.record(120, {**attrs, GEN_AI_TOKEN_TYPE: "input"})
            self.tokens.record(40, {**attrs, GEN_AI_TOKEN_TYPE: "output"})
            self.first_chunk.record(ttfc, attrs)
        self.rounds += 1

    def _run(self) -> None:
        while not self.stop.wait(0.25):  # a steady trickle: rates stay above zero
            self._round()

    def close(self) -> None:
        self.stop.set()
        self.loop.join(timeout=10)
        self.server.shutdown()
        self.provider.shutdown()


@pytest.fixture
def workload() -> Iterator[Workload]:
    """The exporting workload, stopped at the end."""
    work = Workload(free_port())
    try:
        yield work
    finally:
        work.close()


@pytest.fixture
def prometheus_with_rules(e2e_tmp: Path, workload: Workload) -> Iterator[int]:
    """Prometheus scraping the workload every second, evaluating the default SLO rules."""
    binary = os.environ.get("E2E_PROMETHEUS_BIN") or shutil.which("prometheus")
    if not binary:
        missing("the `prometheus` binary (apt-get install prometheus)")
    workdir = Path(tempfile.mkdtemp(prefix="prometheus-dash-", dir=e2e_tmp))
    (workdir / "rules.yml").write_text(rules_text())
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(workdir / "rules.yml")],
        "scrape_configs": [
            {
                "job_name": "otel-resilience-dashboard",
                "static_configs": [{"targets": [f"127.0.0.1:{workload.server.server_port}"]}],
            }
        ],
    }
    (workdir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    argv = [
        str(binary),
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    server = Server("prometheus-dashboard", argv, clean_env(), workdir / "prometheus.log")
    try:

        def ready() -> bool:
            if not server.alive():
                pytest.fail(f"prometheus exited early:\n{server.tail()}")
            return http_get(f"http://127.0.0.1:{port}/-/ready", timeout=2)[0] == 200

        poll("Prometheus /-/ready", ready, deadline_s=60)
        STARTUP_TIMES.append(("prometheus (dashboard)", time.monotonic() - server.started))
        yield port
    finally:
        server.stop()


def query(port: int, promql: str) -> list[dict[str, Any]]:
    """Instant query; the result vector."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    status, body = http_get(url)
    assert status == 200, f"{promql} -> {status}: {body[:500]!r}"
    doc = json.loads(body)
    assert doc["status"] == "success", doc
    return list(doc["data"]["result"])


def test_every_dashboard_query_returns_data(prometheus_with_rules, workload, capsys):
    """Each target of each panel of the printed dashboard gets series from Prometheus."""
    from otel_resilience.policies.cli import main

    assert main(["dashboard"]) == 0
    doc = json.loads(capsys.readouterr().out)
    port = prometheus_with_rules
    results: dict[str, list[dict[str, Any]]] = {}
    for panel in doc["panels"]:
        for target in panel["targets"]:
            # What Grafana substitutes before sending the query to Prometheus.
            expr = target["expr"].replace("$__rate_interval", "1m")
            results[expr] = poll(
                f"data for panel {panel['title']!r}: {expr}",
                lambda expr=expr: query(port, expr),
                deadline_s=60,
                interval_s=0.5,
            )
    assert len(results) == sum(len(p["targets"]) for p in doc["panels"]) == 7
    by_title = {p["title"]: [results[t["expr"].replace("$__rate_interval", "1m")]
                for t in p["targets"]] for p in doc["panels"]}  # fmt: skip
    (states,) = by_title["Circuit breaker states"]
    (state,) = [s for s in states if s["metric"].get("resilience_circuit_breaker_name") == PAYMENTS]
    assert float(state["value"][1]) == 2.0  # open
    (events,) = by_title["Retries and rejections per pipeline"]
    seen = {
        (s["metric"]["resilience_pipeline_name"], s["metric"]["resilience_event"]) for s in events
    }
    assert {(SEARCH, "retry"), (PAYMENTS, "circuit_rejected")} <= seen, seen
    in_process, from_rules = by_title["Error budget remaining"]
    assert {s["metric"]["resilience_slo_name"] for s in in_process} == {"e2e-payments"}
    assert float(in_process[0]["value"][1]) < 0  # every payments call is bad: overspent
    ruled = {s["metric"]["resilience_pipeline_name"]: float(s["value"][1]) for s in from_rules}
    assert ruled[SEARCH] == 1.0, ruled  # no bad call: the budget is whole
    assert ruled[PAYMENTS] < 0, ruled
    (tokens,) = by_title["GenAI tokens per model"]
    assert {s["metric"]["gen_ai_request_model"] for s in tokens} == {"model-a", "model-b"}
    (ttfc,) = by_title["GenAI time to first chunk per model (p95)"]
    p95 = {s["metric"]["gen_ai_request_model"]: float(s["value"][1]) for s in ttfc}
    assert p95["model-a"] < p95["model-b"], p95
    assert workload.rounds > 0
    assert workload.loop.is_alive()  # no round raised: the trickle ran throughout
