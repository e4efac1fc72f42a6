"""``jsonl`` exporters: one JSON object per span, metric point and log record, one per line.

All three append to the same file (``OTEL_RESILIENCE_JSONL_PATH``, default ``telemetry.jsonl``);
a lock per path keeps lines from different signals whole. The file is owner-only (0600, also
when it already existed), never reached through a symbolic link, and must be a regular file.
"""

from __future__ import annotations

import base64
import errno
import json
import math
import os
import stat
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from ._settings import ENV_JSONL_PATH, check_directory, jsonl_path_from_env

__all__ = ["JsonlLogRecordExporter", "JsonlMetricExporter", "JsonlSpanExporter"]

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: str) -> threading.Lock:
    key = os.path.abspath(path)
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


# O_NOFOLLOW: a symbolic link planted at the path is refused, not followed; O_NONBLOCK: a FIFO
# without a reader fails at once instead of blocking (it is then refused as not regular).
_FLAGS: Final = (
    os.O_WRONLY
    | os.O_APPEND
    | os.O_CREAT
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
)


def _open_safely(path: str) -> int:
    """A descriptor appending to the regular file ``path``, made owner-only (0600)."""
    fd = os.open(path, _FLAGS, 0o600)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_mode & 0o077:  # an existing file created by someone else, or with 0644
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_path(field: str, path: str) -> None:
    """ValueError naming ``field`` unless ``path`` can be opened as :func:`_open_safely` does."""
    check_directory(field, path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG  # created below
    if stat.S_ISLNK(mode):
        raise ValueError(f"{field}: {path!r} is a symbolic link; refusing to follow it")
    if not stat.S_ISREG(mode):
        raise ValueError(f"{field}: {path!r} is not a regular file")
    try:
        os.close(_open_safely(path))
    except OSError as exc:
        raise ValueError(f"{field}: cannot write {path!r} safely: {exc.strerror}") from None


#: JSON has no NaN or infinities: such floats are written as these strings.
_NON_FINITE: Final = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _reset_locks_after_fork() -> None:
    # A lock held by a writing thread at fork time would stay held in the child.
    global _locks_guard
    _locks_guard = threading.Lock()
    _locks.clear()


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_reset_locks_after_fork)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[repr(value)]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_jsonable(v) for v in value]
    return str(value)


def _attrs(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in (attributes or {}).items()}


def _scope(scope: InstrumentationScope | None) -> dict[str, Any] | None:
    return None if scope is None else {"name": scope.name, "version": scope.version}


def _resource(resource: Resource | None) -> dict[str, Any]:
    return _attrs(resource.attributes) if resource is not None else {}


class _JsonlWriter:
    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        field = "path" if path is not None else ENV_JSONL_PATH
        self.path = os.fspath(path) if path is not None else jsonl_path_from_env()
        if not self.path:
            raise ValueError(f"path: empty; set {ENV_JSONL_PATH} or pass a file name")
        _check_path(field, self.path)
        self._closed = False

    def write(self, objects: Iterable[dict[str, Any]]) -> bool:
        if self._closed:
            return False
        text = "".join(
            json.dumps(_jsonable(o), separators=(",", ":"), allow_nan=False) + "\n" for o in objects
        )
        try:
            # Opened per write: a rotated or deleted file is recreated, with the same checks.
            fd = _open_safely(self.path)
            with _lock_for(self.path), os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(text)
        except OSError:
            return False
        return True

    def close(self) -> None:
        self._closed = True


def span_to_dict(span: ReadableSpan) -> dict[str, Any]:
    """The JSON object written for one span."""
    ctx = span.context
    return {
        "signal": "span",
        "name": span.name,
        "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
        "span_id": f"{ctx.span_id:016x}" if ctx else None,
        "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "kind": span.kind.name,
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        "status": {"code": span.status.status_code.name, "description": span.status.description},
        "attributes": _attrs(span.attributes),
        "events": [
            {"name": e.name, "time_unix_nano": e.timestamp, "attributes": _attrs(e.attributes)}
            for e in span.events
        ],
        "links": [
            {
                "trace_id": f"{link.context.trace_id:032x}",
                "span_id": f"{link.context.span_id:016x}",
                "attributes": _attrs(link.attributes),
            }
            for link in span.links
        ],
        "resource": _resource(span.resource),
        "scope": _scope(span.instrumentation_scope),
    }


def log_to_dict(record: ReadableLogRecord) -> dict[str, Any]:
    """The JSON object written for one log record."""
    lr = record.log_record
    return {
        "signal": "log",
        "event_name": lr.event_name,
        "body": _jsonable(lr.body),
        "severity_number": lr.severity_number.value if lr.severity_number else None,
        "severity_text": lr.severity_text,
        "attributes": _attrs(lr.attributes),
        "time_unix_nano": lr.timestamp,
        "observed_time_unix_nano": lr.observed_timestamp,
        "trace_id": f"{lr.trace_id:032x}" if lr.trace_id else None,
        "span_id": f"{lr.span_id:016x}" if lr.span_id else None,
        "resource": _resource(record.resource),
        "scope": _scope(record.instrumentation_scope),
    }


def metric_points(data: MetricsData) -> list[dict[str, Any]]:
    """One JSON object per data point of ``data``."""
    out: list[dict[str, Any]] = []
    for rm in data.resource_metrics:
        resource = _resource(rm.resource)
        for sm in rm.scope_metrics:
            scope = _scope(sm.scope)
            for metric in sm.metrics:
                kind = type(metric.data).__name__.lower()
                base: dict[str, Any] = {
                    "signal": "metric",
                    "name": metric.name,
                    "unit": metric.unit,
                    "type": kind,
                }
                if isinstance(metric.data, Sum):
                    base["monotonic"] = metric.data.is_monotonic
                for point in metric.data.data_points:
                    obj = {
                        **base,
                        "attributes": _attrs(point.attributes),
                        "start_time_unix_nano": getattr(point, "start_time_unix_nano", None),
                        "time_unix_nano": point.time_unix_nano,
                        "resource": resource,
                        "scope": scope,
                    }
                    if isinstance(metric.data, Histogram):
                        obj.update(
                            count=point.count,  # type: ignore[union-attr]
                            sum=point.sum,  # type: ignore[union-attr]
                            min=point.min,  # type: ignore[union-attr]
                            max=point.max,  # type: ignore[union-attr]
                            bucket_counts=list(point.bucket_counts),  # type: ignore[union-attr]
                            explicit_bounds=list(point.explicit_bounds),  # type: ignore[union-attr]
                        )
                    elif isinstance(metric.data, (Sum, Gauge)):
                        obj["value"] = point.value  # type: ignore[union-attr]
                    else:  # exponential histograms: keep what is portable
                        obj["count"] = getattr(point, "count", None)
                        obj["sum"] = getattr(point, "sum", None)
                    out.append(obj)
    return out


class JsonlSpanExporter(SpanExporter):
    """Appends one JSON line per span to ``path`` (default: ``OTEL_RESILIENCE_JSONL_PATH``)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._writer = _JsonlWriter(path)
        self.path = self._writer.path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the spans; FAILURE when the file cannot be written."""
        ok = self._writer.write(span_to_dict(s) for s in spans)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """Refuse further exports."""
        self._writer.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Each export is written through; nothing is buffered."""
        return True


class JsonlLogRecordExporter(LogRecordExporter):
    """Appends one JSON line per log record to ``path`` (default: OTEL_RESILIENCE_JSONL_PATH)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._writer = _JsonlWriter(path)
        self.path = self._writer.path

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Write the records; FAILURE when the file cannot be written."""
        ok = self._writer.write(log_to_dict(r) for r in batch)
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        """Refuse further exports."""
        self._writer.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Each export is written through; nothing is buffered."""
        return True


class JsonlMetricExporter(MetricExporter):
    """Appends one JSON line per metric data point to ``path`` (cumulative temporality)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self._writer = _JsonlWriter(path)
        self.path = self._writer.path

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Write the points; FAILURE when the file cannot be written."""
        ok = self._writer.write(metric_points(metrics_data))
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Each export is written through; nothing is buffered."""
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Refuse further exports."""
        self._writer.close()
