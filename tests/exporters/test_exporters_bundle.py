"""Debug bundles: loadable OTLP JSON and states, no secret from env, headers or exception
messages (the redaction tests' corpus), and the debug-bundle CLI with --from."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from otel_resilience_exporters import DebugCollector, Redactor, debug_bundle_bytes
from test_exporters_privacy import SECRETS
from test_exporters_redaction import SAMPLES

from otel_resilience import CircuitBreaker, CircuitOpenError, ErrorTracker, Pipeline, Retry
from otel_resilience.policies.cli import main


def _secret_tokens() -> list[str]:
    """The parts of the corpus the redactor removes (long enough not to occur by chance)."""
    redactor = Redactor()
    tokens = set(SECRETS) | {"4111 1111 1111 1111", "(555) 123-4567", "123-45-6789"}
    for text in SAMPLES.values():
        scrubbed = redactor.scrub_text(text)
        tokens.update(
            t for t in text.split() if len(t) >= 6 and not t.isalpha() and t not in scrubbed
        )
    return sorted(tokens)


def _bundle_texts(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name).decode("utf-8") for name in zf.namelist()}


#: The corpus as the run uses it: the privacy tests' bare secrets are values of secret keys.
TEXTS = [*SAMPLES.values(), *(f"password={s}" for s in SECRETS)]


def _run_with_secrets(monkeypatch: pytest.MonkeyPatch) -> tuple[DebugCollector, ErrorTracker]:
    """A run with secrets in the environment, request headers and exception messages."""
    for i, text in enumerate(TEXTS):
        monkeypatch.setenv(f"DEMO_VALUE_{i}", text)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout alice@example.com")  # allow-listed
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer s3cr3tT0ken99")
    collector = DebugCollector(capture=lambda s: s.get("resilience.outcome") == "failure")
    tp, lp = TracerProvider(), LoggerProvider()
    tp.add_span_processor(collector)
    lp.add_log_record_processor(collector)
    # Group templates are kept in the process: scrubbed (by default) before templating.
    tracker = ErrorTracker(tracer_provider=tp, logger_provider=lp)
    breaker = CircuitBreaker(name="payments-api")
    pipeline = Pipeline(
        "pay", tracker.strategy(), Retry(max_attempts=2, base_delay=0), breaker,
        tracer_provider=tp, logger_provider=lp,
    )  # fmt: skip
    tracer = tp.get_tracer("http")
    for text in TEXTS:
        with tracer.start_as_current_span(
            "POST",
            attributes={
                "http.request.method": "POST",
                "url.full": f"https://user:{text.replace(' ', '')}@api.example.com/x",
                "http.request.header.authorization": (text,),
                "http.request.header.x-debug": (text,),
            },
        ):
            tracker.breadcrumb(f"calling with {text}")
            with pytest.raises((ValueError, CircuitOpenError)):
                pipeline.call(_fail, text)
    return collector, tracker


def _fail(text: str) -> None:
    raise ValueError(f"request failed: {text}")


def test_bundle_is_loadable_and_has_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file of the bundle is JSON or text with none of the corpus' secrets; spans and
    logs are OTLP JSON; states list the breaker and the error groups."""
    collector, tracker = _run_with_secrets(monkeypatch)
    texts = _bundle_texts(debug_bundle_bytes(collector, tracker=tracker))
    leaks = [(name, s) for name, text in texts.items() for s in _secret_tokens() if s in text]
    assert leaks == []
    spans = json.loads(texts["spans.json"])["resourceSpans"][0]["scopeSpans"]
    names = {s["name"] for scope in spans for s in scope["spans"]}
    assert {"pay", "POST"} <= names
    trace_id = spans[0]["spans"][0]["traceId"]
    assert len(trace_id) == 32
    assert int(trace_id, 16)
    logs = json.loads(texts["logs.json"])["resourceLogs"][0]["scopeLogs"]
    assert any(r.get("eventName") == "resilience.error" for s in logs for r in s["logRecords"])
    states = json.loads(texts["states.json"])
    assert {"name": "payments-api", "state": "open"} in states["circuit_breakers"]
    assert "ValueError" in {g["type"] for g in states["error_groups"]}
    env = json.loads(texts["env.json"])
    assert env["OPENAI_API_KEY"] == "[REDACTED]"
    assert env["OTEL_SERVICE_NAME"] == "checkout [REDACTED:email]"
    assert any(name.startswith("traces/") for name in texts)
    assert json.loads(texts["requests.json"])[0]["method"] == "POST"
    assert "otel-resilience" in json.loads(texts["versions.json"])
    assert "python" in json.loads(texts["system.json"])


@pytest.fixture
def bundle_server() -> Iterator[tuple[str, list[str]]]:
    """An app serving a bundle at GET /debug/bundle behind the bearer token "t0k"."""
    seen: list[str] = []
    payload = debug_bundle_bytes(DebugCollector())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            ok = self.path == "/debug/bundle" and self.headers.get("Authorization") == "Bearer t0k"
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(payload) if ok else 0))
            self.end_headers()
            if ok:
                self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/debug/bundle", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_cli_debug_bundle_from_url(
    bundle_server: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`debug-bundle -o FILE --from URL` writes this process' facts plus the app's bundle
    under app/; a wrong token fails with exit 1."""
    url, seen = bundle_server
    out = tmp_path / "bundle.zip"
    monkeypatch.setenv("OTEL_RESILIENCE_DEBUG_TOKEN", "t0k")
    assert main(["debug-bundle", "-o", str(out), "--from", url], out=io.StringIO()) == 0
    names = set(_bundle_texts(out.read_bytes()))
    assert {"env.json", "versions.json", "app/spans.json", "app/env.json"} <= names
    assert "t0k" not in "".join(_bundle_texts(out.read_bytes()).values())
    monkeypatch.setenv("OTEL_RESILIENCE_DEBUG_TOKEN", "wrong")
    assert main(["debug-bundle", "-o", str(out), "--from", url], out=io.StringIO()) == 1
    assert seen == ["Bearer t0k", "Bearer wrong"]


def test_collector_export_writes_a_zip(tmp_path: Path) -> None:
    """collector.export(path) writes the same bundle to a file."""
    collector = DebugCollector()
    path = tmp_path / "b.zip"
    collector.export(path)
    assert "README.txt" in _bundle_texts(path.read_bytes())


def test_cli_fetches_a_bundle_from_a_real_serve_without_leaking(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """End to end: an app with secrets in env, headers and exception messages serves its
    bundle from serve(); `otel-resilience debug-bundle --from URL`, run as its own process,
    writes a zip holding the app's telemetry and states and none of the secrets nor the token."""
    import functools
    import subprocess
    import sys

    from otel_resilience import HealthRegistry
    from otel_resilience.endpoints import serve

    collector, tracker = _run_with_secrets(monkeypatch)
    registry = HealthRegistry()
    registry.register("db", lambda: True)
    registry.run_once()
    token = "tok-Zq81xVb7Lm"
    bundle = functools.partial(debug_bundle_bytes, collector, tracker=tracker, health=registry)
    script = Path(sys.executable).with_name("otel-resilience")
    out = tmp_path / "bundle.zip"
    monkeypatch.setenv("OTEL_RESILIENCE_DEBUG_TOKEN", token)
    with serve(token=token, debug_bundle=bundle) as handle:
        done = subprocess.run(
            [str(script), "debug-bundle", "-o", str(out), "--from", handle.url],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    texts = _bundle_texts(out.read_bytes())
    leaks = [(n, s) for n, t in texts.items() for s in [*_secret_tokens(), token] if s in t]
    assert leaks == []
    states = json.loads(texts["app/states.json"])
    assert {"name": "payments-api", "state": "open"} in states["circuit_breakers"]
    assert states["health"]["checks"]["db"]["status"] == "healthy"
    assert "ValueError" in {g["type"] for g in states["error_groups"]}
    assert json.loads(texts["app/spans.json"])["resourceSpans"]
    assert json.loads(texts["env.json"])["OTEL_RESILIENCE_DEBUG_TOKEN"] == "[REDACTED]"
