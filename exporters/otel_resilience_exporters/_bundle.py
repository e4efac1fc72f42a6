"""Debug bundles: a zip of recent telemetry, states, configuration, versions and environment.

Everything written passes the redactor; environment values are masked unless allow-listed
(and then still scrubbed). See docs/debugging.md.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import io
import json
import os
import platform
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.trace import ReadableSpan

from . import _env
from ._debug import DebugCollector
from ._processors import redact_span
from ._redaction import MASK, Redactor

__all__ = ["ENV_ALLOW", "debug_bundle_bytes", "fetch_debug_bundle"]

#: Environment variables whose values are kept (scrubbed); every other value is masked.
ENV_ALLOW: frozenset[str] = frozenset(
    {
        "OTEL_SERVICE_NAME",
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_SDK_DISABLED",
        "OTEL_SEMCONV_STABILITY_OPT_IN",
        "OTEL_RESILIENCE_EXPORTER",
        "OTEL_RESILIENCE_REDACT",
        "PYTHONHASHSEED",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "LANG",
        "LC_ALL",
        "TZ",
        "VIRTUAL_ENV",
    }
)
_PACKAGES = ("otel-resilience", "opentelemetry-")
_RELATED = {"tenacity", "cachetools", "wrapt", "httpx", "requests", "aiohttp", "openai",
            "anthropic", "protobuf", "grpcio", "redis"}  # fmt: skip
_ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def _hex_ids(obj: Any) -> Any:
    """OTLP JSON writes ids as hex, protobuf's JSON as base64: convert them."""
    if isinstance(obj, dict):
        return {
            k: base64.b64decode(v).hex() if k in _ID_KEYS and isinstance(v, str) else _hex_ids(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_hex_ids(v) for v in obj]
    return obj


def _otlp_spans(spans: Iterable[ReadableSpan], redactor: Redactor) -> dict[str, Any]:
    scrubbed = [redact_span(s, redactor) for s in spans]
    return _hex_ids(MessageToDict(encode_spans(scrubbed))) if scrubbed else {"resourceSpans": []}


def _scrub_log(record: ReadableLogRecord, redactor: Redactor) -> ReadableLogRecord:
    inner = copy.copy(record.log_record)
    inner.body = redactor.scrub_value(inner.body)
    if inner.event_name:
        inner.event_name = redactor.scrub_text(inner.event_name)
    attrs = redactor.scrub_attributes(inner.attributes)
    if attrs is not None:
        inner.attributes = attrs
    return ReadableLogRecord(
        log_record=inner,
        resource=redactor.scrub_resource(record.resource),
        instrumentation_scope=redactor.scrub_scope(record.instrumentation_scope),
    )


def _otlp_logs(records: Iterable[ReadableLogRecord], redactor: Redactor) -> dict[str, Any]:
    scrubbed = [_scrub_log(r, redactor) for r in records]
    return _hex_ids(MessageToDict(encode_logs(scrubbed))) if scrubbed else {"resourceLogs": []}


def _versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = str(dist.metadata["Name"] or "").lower()
        if name.startswith(_PACKAGES) or name in _RELATED:
            found[name] = dist.version
    return dict(sorted(found.items()))


def _system() -> dict[str, Any]:
    return {
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "pid": os.getpid(),
        "created_unix": time.time(),
    }


def environment(redactor: Redactor, allow: Iterable[str] = ()) -> dict[str, str]:
    """The environment with values masked, except allow-listed ones (scrubbed)."""
    allowed = ENV_ALLOW | set(allow)
    return {
        redactor.scrub_text(k): redactor.scrub_text(v) if k in allowed else MASK
        for k, v in sorted(_env.environment().items())
    }


def _configuration() -> dict[str, Any]:
    from ._settings import TelemetrySettings

    try:
        settings = TelemetrySettings.from_env()
    except Exception as exc:  # the bundle is for broken set-ups too
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {f.name: repr(getattr(settings, f.name)) for f in dataclasses.fields(settings)}


def _breakers(breakers: Iterable[Any] | None) -> list[dict[str, Any]]:
    if breakers is None:  # those reporting a state gauge: every breaker bound to a pipeline
        from otel_resilience import _telemetry

        gauges = _telemetry._state_gauges
        found: list[Any] = list(getattr(gauges, "_global", ()))
        for group in list(getattr(gauges, "_by_provider", {}).values()):
            found.extend(group)
        breakers = found
    out = []
    for breaker in breakers:
        try:
            out.append({"name": breaker.name, "state": str(breaker.state.value)})
        except Exception as exc:
            out.append({"name": repr(breaker), "error": type(exc).__name__})
    return sorted(out, key=lambda b: str(b["name"]))


def _states(tracker: Any, health: Any, breakers: Iterable[Any] | None) -> dict[str, Any]:
    states: dict[str, Any] = {"circuit_breakers": _breakers(breakers)}
    for key, source, method in (("health", health, "report"), ("error_groups", tracker, "groups")):
        if source is not None:
            try:
                states[key] = getattr(source, method)()
            except Exception as exc:
                states[key] = {"error": f"{type(exc).__name__}"}
    return states


_README = """otel-resilience debug bundle
spans.json, logs.json   recent spans and log records (OTLP JSON), from the app's DebugCollector
traces/<trace id>.json  whole traces kept by the collector's capture predicate
requests.json           HTTP/LLM requests seen in those spans (request inspector)
states.json             circuit breakers, health checks, top error groups
config.json             resolved telemetry configuration
versions.json           package versions; system.json: Python and OS facts
env.json                environment variables (values masked unless allow-listed)
app/...                 the same files fetched from a running app (--from)
Every value was scrubbed by the exporters' redaction before it was written.
"""


def debug_bundle_bytes(
    collector: DebugCollector | None = None,
    *,
    tracker: Any = None,
    health: Any = None,
    breakers: Iterable[Any] | None = None,
    remote: bytes | None = None,
    env_allow: Iterable[str] = (),
    redactor: Redactor | None = None,
) -> bytes:
    """A debug bundle (zip bytes): what ``collector`` holds, the states of ``breakers`` (by
    default every breaker bound to a pipeline), ``health`` (``.report()``) and ``tracker``
    (``.groups()``), configuration, versions, system facts and the environment; ``remote``
    (a bundle fetched from an app) goes under ``app/``. Serve it from an authenticated
    ``GET /debug/bundle`` (see docs/debugging.md)."""
    redactor = redactor or (collector.redactor if collector is not None else Redactor())
    files: dict[str, Any] = {
        "states.json": _states(tracker, health, breakers),
        "config.json": _configuration(),
        "versions.json": _versions(),
        "system.json": _system(),
        "env.json": environment(redactor, env_allow),
    }
    if collector is not None:
        files["spans.json"] = _otlp_spans(collector.spans(), redactor)
        files["logs.json"] = _otlp_logs(collector.logs(), redactor)
        files["requests.json"] = collector.requests()
        for trace_id, (spans, logs) in collector.kept_traces().items():
            files[f"traces/{trace_id}.json"] = {
                "spans": _otlp_spans(spans, redactor),
                "logs": _otlp_logs(logs, redactor),
            }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.txt", _README)
        for name, content in files.items():
            zf.writestr(name, _dump(content, redactor))
        if remote is not None:
            _merge_remote(zf, remote, redactor)
    return buffer.getvalue()


def _dump(content: Any, redactor: Redactor) -> str:
    return json.dumps(redactor.scrub_value(_plain(content)), indent=1, default=str)


def _plain(obj: Any) -> Any:
    """Mappings and sequences as dicts and lists, so the redactor sees their keys."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _merge_remote(zf: zipfile.ZipFile, remote: bytes, redactor: Redactor) -> None:
    with zipfile.ZipFile(io.BytesIO(remote)) as src:
        for info in src.infolist():
            raw = src.read(info)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue  # bundles hold text only: anything else is not copied
            if info.filename.endswith(".json"):
                try:
                    text = _dump(json.loads(text), redactor)
                except ValueError:
                    text = redactor.scrub_text(text)
            else:
                text = redactor.scrub_text(text)
            zf.writestr(f"app/{info.filename.lstrip('/')}", text)


def fetch_debug_bundle(url: str, *, token: str | None = None, timeout: float = 10.0) -> bytes:
    """GET a running app's debug bundle with a bearer ``token``: ``url`` is the endpoint
    (``.../debug/bundle``) or the base URL the endpoints are served at."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--from: expected an http(s) URL, got {url!r}")
    if not url.split("?", 1)[0].rstrip("/").endswith("/debug/bundle"):
        url = url.rstrip("/") + "/debug/bundle"
    request = urllib.request.Request(url, headers={"Accept": "application/zip"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: bytes = response.read()
    except urllib.error.HTTPError as exc:
        raise ValueError(f"--from: {url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ValueError(f"--from: {url} could not be fetched: {exc}") from None
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError(f"--from: {url} did not return a zip")
    return data
