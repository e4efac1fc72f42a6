"""The HTTP attempt spans of managed LLM calls (issue 10) carry the GenAI attributes of their
own attempt: the model actually asked (a fallback's attempts name the fallback), and the tokens
the provider reported for that attempt, also on a stream broken after its usage was sent.
Both SDKs, sync and async, plain and streamed."""

from __future__ import annotations

from typing import Any

import pytest
from llm_server import disconnect, server_error
from llm_support import ANTHROPIC_FALLBACK, CHAT, MESSAGE, OPENAI_FALLBACK

from otel_resilience import semconv

#: Warnings are errors, and so are "Failed to detach context" / "Task was destroyed" logs.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.usefixtures("no_leak_logs")]

#: provider -> (asked model, its fallback, request arguments)
CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "openai": (CHAT["model"], OPENAI_FALLBACK, CHAT),
    "anthropic": (MESSAGE["model"], ANTHROPIC_FALLBACK, MESSAGE),
}
INPUT = semconv.GEN_AI_USAGE_INPUT_TOKENS
OUTPUT = semconv.GEN_AI_USAGE_OUTPUT_TOKENS


def _create(provider: str, **extra: Any) -> Any:
    kwargs = {**CASES[provider][2], **extra}
    if provider == "openai":
        return lambda c: c.chat.completions.create(**kwargs)
    return lambda c: c.messages.create(**kwargs)


def _attempts(otel_capture: Any) -> list[Any]:
    """The HTTP attempt spans, in the order they started."""
    return sorted(otel_capture.spans("POST"), key=lambda s: s.start_time)


def _logical(otel_capture: Any, provider: str) -> Any:
    return otel_capture.span(f"chat {CASES[provider][0]}")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("provider", list(CASES))
def test_attempts_name_the_model_asked_and_the_tokens_it_reported(
    llm_sdk, llm_server, instrument, otel_capture, provider, stream
):
    """Three 503s on the asked model, then its fallback serves: the attempt spans name the model
    each asked (3 x asked, then the fallback), under the logical span; only the served attempt
    has tokens and a response model, and its tokens are what the provider reported."""
    asked, fallback, _ = CASES[provider]
    instrument(provider, fallbacks={asked: [fallback]})
    llm_server.script(*[server_error(503)] * 3, model=asked)
    llm_sdk.run(provider, _create(provider, stream=stream), consume=stream)
    logical = _logical(otel_capture, provider)
    spans = _attempts(otel_capture)
    assert [s.attributes[semconv.GEN_AI_REQUEST_MODEL] for s in spans] == [asked] * 3 + [fallback]
    assert all(s.parent.span_id == logical.context.span_id for s in spans)
    assert all(s.attributes[semconv.GEN_AI_PROVIDER_NAME] == provider for s in spans)
    for failed in spans[:3]:
        assert INPUT not in failed.attributes
        assert semconv.GEN_AI_RESPONSE_MODEL not in failed.attributes
    served = spans[-1].attributes
    assert served[semconv.GEN_AI_RESPONSE_MODEL] == fallback
    assert served[INPUT] == logical.attributes[INPUT] > 0
    assert served[OUTPUT] == logical.attributes[OUTPUT] > 0


@pytest.mark.parametrize("provider", list(CASES))
def test_stream_broken_after_usage_keeps_the_tokens_on_its_attempt(
    llm_sdk, llm_server, instrument, otel_capture, provider
):
    """A stream hung up after its usage event (before the last event): the one attempt span
    still carries the tokens the provider reported for it, as the failed logical span does."""
    instrument(provider)
    llm_server.script(disconnect(after=-1))
    with pytest.raises(Exception):  # the SDK's or httpx2's error (classified elsewhere)
        llm_sdk.run(provider, _create(provider, stream=True), consume=True)
    logical = _logical(otel_capture, provider)
    assert logical.attributes[semconv.LLM_STREAM_END] == "failed"
    (attempt,) = _attempts(otel_capture)
    assert attempt.attributes[semconv.GEN_AI_REQUEST_MODEL] == CASES[provider][0]
    assert attempt.attributes[INPUT] == logical.attributes[INPUT] > 0
    assert attempt.attributes[OUTPUT] == logical.attributes[OUTPUT] > 0
