"""Running telemetry: export outages logged once, log timestamps, fork, safe jsonl files."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from exporters_support import OtlpServer, closed_port
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from otel_resilience_exporters import JsonlSpanExporter, build


def _export_some(handle: object, rounds: int) -> None:
    tracer = handle.tracer_provider.get_tracer("t")  # type: ignore[attr-defined]
    for _ in range(rounds):
        with tracer.start_as_current_span("s"):
            pass
        handle.flush(timeout=5)  # type: ignore[attr-defined]


def _sdk_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name.startswith("opentelemetry.exporter") and r.levelno >= logging.WARNING
    ]


def test_dead_collector_is_logged_once_then_summed_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With nothing listening, the failure is logged once (with the exporter's cause), not
    once per batch, and shutdown sums up what was dropped."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("OTEL_RESILIENCE_EXPORT_TIMEOUT", "0.2")
    caplog.set_level(logging.WARNING)
    handle = build(exporter="otlp")
    _export_some(handle, 4)
    handle.shutdown(timeout=5)
    assert _sdk_records(caplog) == []
    ours = [r.getMessage() for r in caplog.records if r.name == "otel_resilience_exporters"]
    assert len(ours) == 2, ours
    assert ours[0].startswith("exporting spans failed: ")
    assert "still failing at shutdown" in ours[1]
    assert "4 spans" in ours[1]


class _Complaining(SpanExporter):
    """Fails every export and logs its cause twice on its own module's logger, as the OTLP
    exporters do."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        logging.getLogger(__name__).warning("Transient error: connection refused by %s", "db:1")
        logging.getLogger(__name__).error("Failed to export batch")
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """Nothing to release."""


def test_the_one_line_carries_the_exporters_cause(caplog: pytest.LogCaptureFixture) -> None:
    """The exporter's own messages are held back and the first two make up the one line."""
    caplog.set_level(logging.WARNING)
    handle = build(exporter="none", span_exporters=[_Complaining()])
    _export_some(handle, 3)
    handle.shutdown(timeout=5)
    mine = [r for r in caplog.records if r.name == __name__]
    assert mine == []
    ours = [r.getMessage() for r in caplog.records if r.name == "otel_resilience_exporters"]
    assert ours[0].startswith(
        "exporting spans failed: Transient error: connection refused by db:1; "
        "Failed to export batch. Further export failures are not logged"
    )
    assert len(ours) == 2


def test_recovery_is_summed_up_once(
    otlp_server: Callable[..., OtlpServer],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When exports succeed again, one line says how much was lost meanwhile."""
    server = otlp_server(status=400)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{server.url}/v1/traces")
    caplog.set_level(logging.WARNING)
    handle = build(exporter="none", span_exporters=[_http_span_exporter()])
    _export_some(handle, 3)
    server.status = 200
    _export_some(handle, 2)
    handle.shutdown(timeout=5)
    assert _sdk_records(caplog) == []
    ours = [r.getMessage() for r in caplog.records if r.name == "otel_resilience_exporters"]
    assert len(ours) == 2, ours
    assert ours[1] == "telemetry export works again; lost while it failed: 3 spans"


def _http_span_exporter() -> object:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(timeout=2)


def test_log_records_carry_a_timestamp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record emitted without a timestamp is exported with its observed time as timestamp,
    also in the jsonl output (time_unix_nano was null)."""
    logs = InMemoryLogRecordExporter()
    path = tmp_path / "t.jsonl"
    monkeypatch.setenv("OTEL_RESILIENCE_JSONL_PATH", str(path))
    handle = build(exporter="jsonl", log_exporters=[logs])
    handle.logger_provider.get_logger("l").emit(LogRecord(event_name="e", body="hi"))
    assert handle.flush()
    handle.shutdown()
    (record,) = logs.get_finished_logs()
    assert record.log_record.timestamp is not None
    assert record.log_record.timestamp == record.log_record.observed_timestamp
    line = next(json.loads(x) for x in path.read_text().splitlines() if '"signal":"log"' in x)
    assert line["time_unix_nano"] == record.log_record.timestamp


_FORK = textwrap.dedent(
    """
    import os, sys, threading
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from otel_resilience_exporters import build

    parent = os.getpid()
    release = threading.Event()

    class Stuck(SpanExporter):
        # Hangs in the parent (a dead collector), records in a child.
        def __init__(self):
            self.names = []
        def export(self, spans):
            if os.getpid() == parent:
                release.wait(30)
                return SpanExportResult.FAILURE
            self.names.extend(s.name for s in spans)
            return SpanExportResult.SUCCESS
        def shutdown(self):
            pass

    os.environ["OTEL_RESILIENCE_MAX_QUEUE_SIZE"] = "4"
    exporter = Stuck()
    handle = build(exporter="none", span_exporters=[exporter])
    tracer = handle.tracer_provider.get_tracer("t")
    for i in range(10):  # fills the queue: the rest is refused
        with tracer.start_as_current_span(f"parent-{i}"):
            pass
    assert handle.dropped()["traces"] > 0
    pid = os.fork()
    if pid == 0:
        for i in range(3):
            with tracer.start_as_current_span(f"child-{i}"):
                pass
        handle.flush(timeout=10)
        ok = exporter.names == ["child-0", "child-1", "child-2"] and handle.dropped()["traces"] == 0
        print("child", exporter.names, handle.dropped(), flush=True)
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    release.set()
    handle.shutdown(timeout=5)
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_forked_child_exports_normally() -> None:
    """A child forked while the parent's queue is full exports its own spans and starts with
    no drops (the parent's queue admissions and drops do not survive the fork)."""
    run = subprocess.run(
        [sys.executable, "-c", _FORK], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_jsonl_refuses_a_missing_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A jsonl path in a directory that does not exist fails at set-up, naming the field."""
    missing = tmp_path / "nope" / "t.jsonl"
    with pytest.raises(ValueError, match="path"):
        JsonlSpanExporter(missing)
    monkeypatch.setenv("OTEL_RESILIENCE_JSONL_PATH", str(missing))
    with pytest.raises(ValueError, match="OTEL_RESILIENCE_JSONL_PATH"):
        build(exporter="jsonl")
    with pytest.raises(ValueError, match="OTEL_RESILIENCE_JSONL_PATH"):
        JsonlSpanExporter()
    monkeypatch.delenv("OTEL_RESILIENCE_JSONL_PATH")
    from otel_resilience_exporters import TelemetrySettings

    with pytest.raises(ValueError, match="jsonl_path"):
        TelemetrySettings(traces_exporters=("jsonl",), jsonl_path=str(missing))


def test_jsonl_makes_an_existing_file_owner_only(tmp_path: Path) -> None:
    """An existing 0644 file is made 0600 at set-up and stays so while written."""
    path = tmp_path / "t.jsonl"
    path.write_text("")
    path.chmod(0o644)
    handle = build(exporter="none", span_exporters=[JsonlSpanExporter(path)])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o640)  # loosened again behind our back
    _export_some(handle, 1)
    handle.shutdown()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert '"signal":"span"' in path.read_text()


def test_jsonl_refuses_a_symlink(tmp_path: Path) -> None:
    """A symbolic link at the path is refused at set-up, and never followed when planted
    later: the target stays untouched."""
    target = tmp_path / "victim.txt"
    target.write_text("keep\n")
    link = tmp_path / "t.jsonl"
    link.symlink_to(target)
    with pytest.raises(ValueError, match="symbolic link"):
        JsonlSpanExporter(link)
    link.unlink()
    exporter = JsonlSpanExporter(link)
    link.unlink()
    link.symlink_to(target)  # planted after set-up
    handle = build(exporter="none", span_exporters=[exporter])
    _export_some(handle, 1)
    handle.shutdown()
    assert target.read_text() == "keep\n"
    assert handle.dropped()["traces"] == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX only")
def test_jsonl_refuses_a_fifo(tmp_path: Path) -> None:
    """A FIFO at the path is refused at once (not a regular file), instead of blocking."""
    fifo = tmp_path / "t.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="regular file"):
        JsonlSpanExporter(fifo)
