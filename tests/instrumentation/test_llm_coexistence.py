"""Ours next to the official openai instrumentor (opentelemetry-instrumentation-openai-v2, a test
dependency), instrumented in either order: the calls still work, attempts do not multiply, and
each logical call has exactly one GenAI span, ours, with its HTTP attempt spans under it (the
official wrappers are skipped for the calls we manage)."""

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


@pytest.fixture(params=["official-first", "ours-first"])
def both(
    request: pytest.FixtureRequest, otel_capture: Any, fake_clock: FakeClock
) -> Iterator[None]:
    """Both instrumentors with the same providers, the official one first, then ours first."""
    official, ours = OfficialInstrumentor(), OpenAIInstrumentor()
    start = [
        lambda: official.instrument(**otel_capture.providers),
        lambda: ours.instrument(**otel_capture.providers, clock=fake_clock),
    ]
    for instrument in start if request.param == "official-first" else start[::-1]:
        instrument()
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


def _genai(spans: list[Any]) -> list[tuple[str, str]]:
    """(name, scope) of every logical GenAI span: named ``{operation} {model}``."""
    ops = ("chat ", "embeddings ")
    return [(s.name, s.instrumentation_scope.name) for s in spans if s.name.startswith(ops)]


def test_one_genai_span_per_call_ours_in_either_order(
    llm_sdk: Sdk, both: None, otel_capture: Any
) -> None:
    """A chat, a stream and an embeddings call with both instrumentors active: exactly one GenAI
    span each, ours, and one operation duration point each (the official ones are skipped)."""
    llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT))
    llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT, stream=True), consume=True)
    llm_sdk.run("openai", lambda c: c.embeddings.create(**EMBED))
    genai = _genai(otel_capture.spans())
    assert sorted(name for name, _ in genai) == sorted(
        [f"chat {OPENAI_MODEL}", f"chat {OPENAI_MODEL}", f"embeddings {EMBED['model']}"]
    )
    assert OFFICIAL_SCOPE not in {scope for _, scope in genai}
    points = otel_capture.metric_points(semconv.METRIC_GEN_AI_OPERATION_DURATION)
    assert sum(p.count for p in points) == 3


def test_official_spans_come_back_when_ours_is_uninstrumented(
    llm_sdk: Sdk, otel_capture: Any, fake_clock: FakeClock
) -> None:
    """After our uninstrument() the official instrumentor records its span again."""
    official, ours = OfficialInstrumentor(), OpenAIInstrumentor()
    ours.instrument(**otel_capture.providers, clock=fake_clock)
    official.instrument(**otel_capture.providers)
    try:
        ours.uninstrument()
        llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT))
        assert _genai(otel_capture.spans()) == [(f"chat {OPENAI_MODEL}", OFFICIAL_SCOPE)]
    finally:
        official.uninstrument()
