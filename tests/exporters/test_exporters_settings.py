"""Settings edge cases, clean-up of a failed set-up, and the jsonl file's format and mode."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from pathlib import Path

import pytest
from exporters_support import closed_port
from otel_resilience_exporters import TelemetrySettings, build


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "-1"])
@pytest.mark.parametrize(
    "variable", ["OTEL_RESILIENCE_SHUTDOWN_TIMEOUT", "OTEL_RESILIENCE_EXPORT_TIMEOUT"]
)
def test_timeouts_must_be_finite_and_positive(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """Non-finite or non-positive timeouts raise ValueError naming the variable."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        TelemetrySettings.from_env()


def test_huge_timeouts_are_capped_and_flush_works(monkeypatch: pytest.MonkeyPatch) -> None:
    """1e10 s is capped, so flush() and shutdown() return instead of overflowing."""
    monkeypatch.setenv("OTEL_RESILIENCE_SHUTDOWN_TIMEOUT", "1e10")
    monkeypatch.setenv("OTEL_RESILIENCE_EXPORT_TIMEOUT", "1e10")
    handle = build(exporter="none")
    assert handle.settings.shutdown_timeout == 3600
    assert handle.settings.export_timeout == 3600
    assert handle.flush() is True
    assert handle.flush(timeout=1e12) is True
    with pytest.raises(ValueError, match="timeout"):
        handle.flush(timeout=float("nan"))
    assert handle.shutdown() is True


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_RESILIENCE_MAX_QUEUE_SIZE", "0"),
        ("OTEL_RESILIENCE_MAX_QUEUE_SIZE", "lots"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "70000"),
        ("OTEL_RESILIENCE_CAPTURE_CONTENT", "sometimes"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """Out-of-range and malformed values raise ValueError naming the variable."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        build(exporter="none")


def test_failed_build_releases_the_prometheus_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """A set-up that fails leaves no server bound and no thread running; a retry works."""
    port = closed_port()
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(port))
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometheus")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "grafana-cloud")  # its variables are missing
    before = set(threading.enumerate())
    with pytest.raises(ValueError, match="GRAFANA_CLOUD"):
        build()
    assert set(threading.enumerate()) <= before
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # free again
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    handle = build()
    handle.shutdown()


def test_jsonl_is_strict_json_and_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NaN and infinities are written as strings; the file is created with mode 0600."""
    path = tmp_path / "t.jsonl"
    monkeypatch.setenv("OTEL_RESILIENCE_JSONL_PATH", str(path))
    old = os.umask(0o022)
    try:
        handle = build(exporter="jsonl")
        attrs = {"score": float("nan"), "lim": float("inf"), "low": float("-inf")}
        with handle.tracer_provider.get_tracer("t").start_as_current_span("s", attributes=attrs):
            pass
        assert handle.shutdown()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def reject(constant: str) -> None:
        raise ValueError(constant)

    (span,) = [json.loads(line, parse_constant=reject) for line in path.read_text().splitlines()]
    assert span["attributes"] == {"score": "NaN", "lim": "Infinity", "low": "-Infinity"}
