"""Redaction: each detector, Luhn false positives, secret keys, spans, exception events, logs."""

from __future__ import annotations

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from otel_resilience_exporters import RedactionOptions, Redactor, build

SAMPLES = {
    "email": "write to jane.doe+ops@example.co.uk today",
    "credit_card": "paid with 4111 1111 1111 1111 yesterday",
    "phone": "call +44 20 7946 0958 or (555) 123-4567",
    "ssn": "ssn 123-45-6789 on file",
    "bearer_token": "Authorization: Bearer abcDEF123456.xyz-_",
    "jwt": "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "anthropic_key": "key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv",
    "openai_key": "key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx",
    "aws_access_key": "id AKIAIOSFODNN7EXAMPLE ok",
    "github_token": "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
    "google_api_key": "AIzaSyA-1234567890abcdefghijklmnopqrstu",
    "slack_token": "xoxb-123456789012-abcdefghijklmn",
}


@pytest.mark.parametrize(("kind", "text"), SAMPLES.items())
def test_each_detector_redacts(kind: str, text: str) -> None:
    """Each built-in detector replaces its match with [REDACTED:<kind>]."""
    out = Redactor().scrub_text(text)
    assert f"[REDACTED:{kind}]" in out
    assert out != text


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112 shipped",  # 16 digits failing the Luhn check
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "at 2024-01-15 12:30:45 from 10.0.0.1 version 1.2.3 port 4317",
        "uuid 123e4567-e89b-12d3-a456-426614174000 count 1234567",
        "plain words sk- and AKIA and eyJ alone",
    ],
)
def test_innocent_text_survives(text: str) -> None:
    """Ids, timestamps, versions and non-Luhn digit runs are left as they are (same object)."""
    assert Redactor().scrub_text(text) is text


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("db.password_hash", True),
        ("http.request.header.authorization", True),
        ("x-api-key", True),
        ("OPENAI_API_KEY", True),
        ("apiKey", True),
        ("accessToken", True),
        ("Set-Cookie", True),
        ("client_secret", True),
        # substrings of the letters-and-digits-only key
        ("SECRETKEY", True),
        ("PRIVATEKEY", True),
        ("OPENAIAPIKEY", True),
        ("XApiKey", True),
        ("Passwords", True),
        ("password1", True),
        ("cookies", True),
        ("ClientSecrets", True),
        ("db.credentials", True),
        # token: by segment, plural and suffix included
        ("JWTToken", True),
        ("session_token", True),
        ("api_tokens", True),
        ("x-authtoken", True),
        # token counts and descriptors
        ("gen_ai.usage.input_tokens", False),
        ("gen_ai.usage.output_tokens", False),
        ("max_tokens", False),
        ("maxTokens", False),
        ("cache_read_input_tokens", False),
        ("llm.token_count.prompt", False),
        ("gen_ai.token.type", False),
        ("tokenizer", False),
        ("http.route", False),
    ],
)
def test_secret_key_rule(key: str, secret: bool) -> None:
    """Secret words match as substrings, token by segment; token counts are not secrets."""
    assert Redactor().is_secret_key(key) is secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgresql://admin:hunter2@10.0.0.5:5432/db",
            "postgresql://[REDACTED:url_credentials]@10.0.0.5:5432/db",
        ),
        (
            "https://api.x.com/v1?api_key=Zq83kdLx92mNq&access_token=abcd1234efgh&page=2",
            "https://api.x.com/v1?api_key=[REDACTED:secret_param]"
            "&access_token=[REDACTED:secret_param]&page=2",
        ),
        ("retry with password=hunter2 now", "retry with password=[REDACTED:secret_param] now"),
        ('{"client_secret": "s3cr3t"}', '{"client_secret": "[REDACTED:secret_param]"}'),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: [REDACTED:basic_auth]"),
        ("authorization: bearer abc123def456", "authorization: [REDACTED:bearer_token]"),
        ("BEARER abc123def456ghi", "[REDACTED:bearer_token]"),
    ],
)
def test_credentials_in_urls_and_text(text: str, expected: str) -> None:
    """URL userinfo, secret key=value pairs and Basic/Bearer credentials are redacted."""
    assert Redactor().scrub_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/search?q=shoes&page=2&sort=price",
        "https://docs.example.com:8443/a/b#frag",
        "max_tokens=512 temperature=0.2 tokenizer=bpe",
        "a basic understanding of the bearer responsibilities",
        "at 12:30:45 retries=3 outcome=success",
        "ssh://deploy.example.com:22/repo",
    ],
)
def test_ordinary_urls_and_pairs_survive(text: str) -> None:
    """Ordinary URLs, harmless key=value pairs and prose are left as they are."""
    assert Redactor().scrub_text(text) is text


def test_harmless_pair_value_still_scanned() -> None:
    """A value under a harmless key still gets the other detectors."""
    r = Redactor()
    assert r.scrub_text("max_tokens=5 note=jane@example.com") == (
        "max_tokens=5 note=[REDACTED:email]"
    )
    assert r.scrub_text("card=4111 1111 1111 1111") == "card=[REDACTED:credit_card]"


def test_secret_keys_are_masked_or_dropped() -> None:
    """Secret-keyed values are masked by default, removed with secret_key_action="drop"."""
    attrs = {"password": "hunter2", "gen_ai.usage.input_tokens": 12, "note": "ok"}
    assert Redactor().scrub_attributes(attrs) == {
        "password": "[REDACTED]",
        "gen_ai.usage.input_tokens": 12,
        "note": "ok",
    }
    dropped = Redactor(RedactionOptions(secret_key_action="drop")).scrub_attributes(attrs)
    assert dropped == {"gen_ai.usage.input_tokens": 12, "note": "ok"}
    assert Redactor().scrub_attributes({"note": "ok", "n": 3}) is None  # unchanged: no copy


def test_custom_patterns_keys_and_disabled() -> None:
    """Extra patterns and keys apply; disabled built-ins do not."""
    r = Redactor(
        RedactionOptions(
            patterns={"ticket": r"TICKET-\d+"},
            disabled=frozenset({"email"}),
            secret_keys=("session",),
        )
    )
    assert r.scrub_text("see TICKET-42 by a@b.io") == "see [REDACTED:ticket] by a@b.io"
    assert r.scrub_attributes({"user.session": "abc", "password": "p"}) == {
        "user.session": "[REDACTED]",
        "password": "p",
    }


def test_invalid_options_name_the_field() -> None:
    """Bad options raise ValueError naming the field."""
    with pytest.raises(ValueError, match="patterns"):
        RedactionOptions(patterns={"bad": "("})
    with pytest.raises(ValueError, match="disabled"):
        RedactionOptions(disabled=frozenset({"nope"}))
    with pytest.raises(ValueError, match="secret_key_action"):
        RedactionOptions(secret_key_action="hide")  # type: ignore[arg-type]


def test_sequence_and_mapping_values() -> None:
    """String sequences and nested mappings (log bodies) are scrubbed element-wise."""
    r = Redactor()
    assert r.scrub_value(("a@b.io", "x", 3)) == ("[REDACTED:email]", "x", 3)
    assert r.scrub_value({"user": {"email": "a@b.io", "token": "t"}, "n": 1}) == {
        "user": {"email": "[REDACTED:email]", "token": "[REDACTED]"},
        "n": 1,
    }
    assert r.scrub_value(12345) == 12345


def test_bytes_sets_and_objects() -> None:
    """UTF-8 bytes, sets, frozensets and other objects are scrubbed; binary bytes are masked."""
    r = Redactor()
    assert r.scrub_value(b"carol@example.com") == "[REDACTED:email]"
    clean = b"plain"
    assert r.scrub_value(clean) is clean
    assert r.scrub_value(b"\xff\xfe\x00") == "[REDACTED:bytes]"
    assert r.scrub_value({"bob@example.com", "ok"}) == {"[REDACTED:email]", "ok"}
    assert r.scrub_value(frozenset({"bob@example.com"})) == frozenset({"[REDACTED:email]"})

    class User:
        def __str__(self) -> str:
            return "User(email=bob@example.com)"

    assert r.scrub_value(User()) == "User(email=[REDACTED:email])"


def test_exported_spans_are_scrubbed() -> None:
    """Name, attributes, status, events and exception message/stacktrace are exported scrubbed."""
    spans = InMemorySpanExporter()
    handle = build(exporter="none", span_exporters=[spans])
    tracer = handle.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("lookup jane@example.com") as span:
        span.set_attribute("http.request.header.authorization", "Bearer abcdefghijkl")
        span.set_attribute("gen_ai.usage.input_tokens", 42)
        span.set_attribute("user.phones", ["555-123-4567", "none"])
        span.add_event("resilience.retry", {"detail": "ssn 123-45-6789"})
        try:
            raise RuntimeError("charge 4111-1111-1111-1111 failed for jane@example.com")
        except RuntimeError as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, "key sk-ant-api03-AbCdEfGhIjKlMnOpQrSt"))
    assert handle.flush()
    (out,) = spans.get_finished_spans()
    text = repr((out.name, dict(out.attributes or {}), out.status.description)) + repr(
        [(e.name, dict(e.attributes or {})) for e in out.events]
    )
    for secret in ("jane@example.com", "abcdefghijkl", "555-123-4567", "123-45-6789", "4111"):
        assert secret not in text
    assert "sk-ant" not in text
    assert out.name == "lookup [REDACTED:email]"
    assert out.attributes is not None
    assert out.attributes["gen_ai.usage.input_tokens"] == 42
    assert out.attributes["user.phones"] == ("[REDACTED:phone]", "none")
    exception = next(e for e in out.events if e.name == "exception")
    assert exception.attributes is not None
    assert "[REDACTED:credit_card]" in str(exception.attributes["exception.message"])
    assert "[REDACTED:email]" in str(exception.attributes["exception.stacktrace"])
    assert out.status.status_code is StatusCode.ERROR
    handle.shutdown()


def test_exported_log_records_are_scrubbed() -> None:
    """Log bodies (text and structured), attributes and exception attributes are scrubbed."""
    logs = InMemoryLogRecordExporter()
    handle = build(exporter="none", log_exporters=[logs])
    logger = handle.logger_provider.get_logger("l")
    logger.emit(body="user jane@example.com logged in", attributes={"cookie": "s=1"})
    logger.emit(body={"card": "4111111111111111", "id": "4111111111111112"})
    try:
        raise ValueError("token sk-proj-AbCdEfGhIjKlMnOpQrStUvWx leaked")
    except ValueError as exc:
        logger.emit(body="failed", exception=exc)
    assert handle.flush()
    first, second, third = (r.log_record for r in logs.get_finished_logs())
    assert first.body == "user [REDACTED:email] logged in"
    assert dict(first.attributes or {}) == {"cookie": "[REDACTED]"}
    assert second.body == {"card": "[REDACTED:credit_card]", "id": "4111111111111112"}
    assert "sk-proj" not in repr(dict(third.attributes or {}))
    assert "[REDACTED:openai_key]" in str((third.attributes or {})["exception.message"])
    handle.shutdown()


def test_redaction_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """redact=False, or OTEL_RESILIENCE_REDACT=false, exports attributes unchanged."""
    monkeypatch.setenv("OTEL_RESILIENCE_REDACT", "false")
    spans = InMemorySpanExporter()
    handle = build(exporter="none", span_exporters=[spans])
    with handle.tracer_provider.get_tracer("t").start_as_current_span(
        "s", attributes={"token": "t"}
    ):
        pass
    handle.flush()
    assert spans.get_finished_spans()[0].attributes == {"token": "t"}
    assert handle.settings.redaction is None
    handle.shutdown()


def test_extra_secret_keys_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_RESILIENCE_REDACT_KEYS adds secret keys to the defaults."""
    monkeypatch.setenv("OTEL_RESILIENCE_REDACT_KEYS", "tenant_pin, session")
    handle = build(exporter="none")
    assert handle.settings.redaction is not None
    r = Redactor(handle.settings.redaction)
    assert r.is_secret_key("user.tenant_pin")
    assert r.is_secret_key("password")
    handle.shutdown()
