"""LLM content capture (issue 10) end to end: the instrumentor records prompts and answers only
when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT opts in, and our exporters then export
them only through their redaction (and only when their own content switch is on)."""

from __future__ import annotations

from typing import Any

import pytest
from llm_support import OPENAI_MODEL
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_resilience_exporters import build

from otel_resilience import semconv

SECRET_PROMPT = "mail jane.doe@example.com the key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx"


def _exported(instrument: Any, llm_server: Any, openai_client: Any, **build_kw: Any) -> Any:
    """The GenAI span as our exporters export it, after one chat with a secret-laden prompt."""
    spans = InMemorySpanExporter()
    handle = build(exporter="none", span_exporters=[spans], **build_kw)
    try:
        instrument("openai", tracer_provider=handle.tracer_provider)
        openai_client.chat.completions.create(
            model=OPENAI_MODEL, messages=[{"role": "user", "content": SECRET_PROMPT}]
        )
        assert handle.flush()
        (span,) = [s for s in spans.get_finished_spans() if s.name == f"chat {OPENAI_MODEL}"]
        return dict(span.attributes or {})
    finally:
        handle.shutdown()


def test_opted_in_content_is_exported_redacted(monkeypatch, instrument, llm_server, openai_client):
    """Both switches on: the prompt is exported, its email and API key redacted."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    attrs = _exported(instrument, llm_server, openai_client, capture_content=True)
    prompt = attrs[semconv.GEN_AI_INPUT_MESSAGES]
    assert "[REDACTED:email]" in prompt
    assert "jane.doe@example.com" not in prompt
    assert "sk-proj-AbCdEf" not in prompt
    assert semconv.GEN_AI_OUTPUT_MESSAGES in attrs


@pytest.mark.parametrize("capture_env", ["true", None])
def test_content_not_exported_without_both_switches(
    monkeypatch, instrument, llm_server, openai_client, capture_env
):
    """GenAI opt-in alone (the exporters drop content by default), or neither: no content is
    exported, the token counts are."""
    if capture_env:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", capture_env)
    attrs = _exported(instrument, llm_server, openai_client)
    assert semconv.GEN_AI_INPUT_MESSAGES not in attrs
    assert semconv.GEN_AI_OUTPUT_MESSAGES not in attrs
    assert "jane.doe" not in repr(attrs)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
