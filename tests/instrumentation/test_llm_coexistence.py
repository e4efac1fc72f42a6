"""Ours next to the official openai instrumentor (opentelemetry-instrumentation-openai-v2, a test
dependency): the calls still work, attempts do not multiply, and each logical call has exactly
one GenAI span of ours with its HTTP attempt spans under it. (The official instrumentor still
records its own span around ours.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llm_server import rate_limited
from llm_support import CHAT, EMBED, OPENAI_MODEL, Sdk
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OfficialInstrumentor
from otel_resilience_instrumentation.openai import OpenAIInstrumentor

from otel_resilience import semconv
from otel_resilience.testing import FakeClock

OFFICIAL_SCOPE = "opentelemetry.instrumentation.openai_v2"


@pytest.fixture
def both(otel_capture: Any, fake_clock: FakeClock) -> Iterator[None]:
    """The official instrumentor first (as its entry point loads), then ours; same providers."""
    official, ours = OfficialInstrumentor(), OpenAIInstrumentor()
    official.instrument(**otel_capture.providers)
    ours.instrument(**otel_capture.providers, clock=fake_clock)
    yield
    ours.uninstrument()
    official.uninstrument()


def _ours(spans: list[Any], name: str) -> list[Any]:
    """Our logical spans called ``name``."""
    return [s for s in spans if s.name == name and s.instrumentation_scope.name != OFFICIAL_SCOPE]


def test_a_retried_chat_is_one_genai_span_with_its_attempts(
    llm_sdk: Sdk, both: None, otel_capture: Any
) -> None:
    """A 429 then 200 with both instrumentors: the caller gets the completion, the server saw 2
    requests (no retry multiplication), and there is one GenAI span for the call."""
    llm_sdk.server.script(rate_limited(retry_after_ms=1))
    done = llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT))
    assert done.model == OPENAI_MODEL
    assert llm_sdk.server.count == 2
    spans = otel_capture.spans()
    (logical,) = _ours(spans, f"chat {OPENAI_MODEL}")
    assert logical.attributes[semconv.ATTEMPTS] == 2
    attempts = [s for s in spans if s.parent and s.parent.span_id == logical.context.span_id]
    assert [s.attributes.get(semconv.HTTP_REQUEST_RESEND_COUNT) for s in attempts] == [None, 1]


def test_streams_and_embeddings_work_under_both(
    llm_sdk: Sdk, both: None, otel_capture: Any
) -> None:
    """A stream and an embeddings call under both instrumentors: results intact, one GenAI span
    of ours each, one request each."""
    chunks = llm_sdk.run(
        "openai", lambda c: c.chat.completions.create(**CHAT, stream=True), consume=True
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == f"Hello from {OPENAI_MODEL}."
    vectors = llm_sdk.run("openai", lambda c: c.embeddings.create(**EMBED))
    assert len(vectors.data) == 2
    spans = otel_capture.spans()
    assert len(_ours(spans, f"chat {OPENAI_MODEL}")) == 1
    assert len(_ours(spans, f"embeddings {EMBED['model']}")) == 1
    assert llm_sdk.server.count == 2
