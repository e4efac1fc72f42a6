"""``with_raw_response`` and ``with_streaming_response`` through the LLM instrumentors (issue 10):
both SDKs, sync and async, plain and streamed. They keep working (retried by our pipeline), a
raw stream is the SDK's own (we ask for no usage chunk the caller would then see), and a raw
response whose body was read still gives the span its tokens."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from llm_server import overloaded, server_error
from llm_support import CHAT, MESSAGE

from otel_resilience import semconv

#: Warnings are errors, and so are "Failed to detach context" / "Task was destroyed" logs.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.usefixtures("no_leak_logs")]


def _items(parsed: Any) -> Any:
    """A parsed stream's items (a message or completion as it is)."""
    return list(parsed) if hasattr(parsed, "__next__") else parsed


async def _aitems(parsed: Any) -> Any:
    """Async twin of :func:`_items` (openai's legacy raw response parses without await)."""
    parsed = await parsed if inspect.isawaitable(parsed) else parsed
    return [item async for item in parsed] if hasattr(parsed, "__anext__") else parsed


def _raw_then(llm_sdk: Any, make: Any, read: Any) -> Any:
    """``read`` of ``make(client).parse()``, a stream as its list of items."""

    def call(client: Any) -> Any:
        if not llm_sdk.is_async:
            return read(_items(make(client).parse()))

        async def go() -> Any:
            return read(await _aitems((await make(client)).parse()))

        return go()

    return call


def _streaming_then(llm_sdk: Any, make: Any, read: Any) -> Any:
    """``read(parsed)`` of a with_streaming_response manager, entered and parsed."""

    def call(client: Any) -> Any:
        if not llm_sdk.is_async:
            with make(client) as response:
                return read(_items(response.parse()))

        async def go() -> Any:
            async with make(client) as response:
                return read(await _aitems(response.parse()))

        return go()

    return call


@pytest.mark.parametrize("kind", ["with_raw_response", "with_streaming_response"])
def test_openai_raw_stream_has_no_usage_chunk_the_caller_did_not_ask_for(
    llm_sdk, llm_server, instrument, otel_capture, kind
):
    """A raw chat stream is handed over unread (we cannot hide a chunk in it): the request goes
    out as the caller wrote it (no stream_options), so no usage-only chunk reaches the caller;
    a 503 first is still retried by our pipeline."""
    instrument("openai")
    llm_server.script(server_error(503))

    def make(c: Any) -> Any:
        return getattr(c.chat.completions, kind).create(**CHAT, stream=True)

    then = _raw_then if kind == "with_raw_response" else _streaming_then
    chunks = llm_sdk.run("openai", then(llm_sdk, make, list))
    assert chunks
    assert all(chunk.choices for chunk in chunks)
    assert llm_server.count == 2
    assert [r.json.get("stream_options") for r in llm_server.requests] == [None, None]
    assert otel_capture.span("chat gpt-4o").attributes[semconv.ATTEMPTS] == 2


def test_anthropic_raw_response_keeps_working_and_reports_tokens(
    llm_sdk, llm_server, instrument, otel_capture, monkeypatch
):
    """anthropic with_raw_response: 529 then 200 is 2 requests, the caller's raw response
    parses, and the span has the tokens, model and (opted in) answer of the body read."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    instrument("anthropic")
    llm_server.script(overloaded())
    make = lambda c: c.messages.with_raw_response.create(**MESSAGE)  # noqa: E731
    message = llm_sdk.run("anthropic", _raw_then(llm_sdk, make, lambda m: m))
    assert llm_server.count == 2
    attrs = otel_capture.span(f"chat {MESSAGE['model']}").attributes
    assert attrs[semconv.ATTEMPTS] == 2
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == message.usage.input_tokens
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == message.usage.output_tokens
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == message.model
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == message.id
    (answer,) = json.loads(attrs[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert answer["text"] == message.content[0].text


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("kind", ["with_raw_response", "with_streaming_response"])
def test_anthropic_raw_and_streaming_responses_parse(
    llm_sdk, llm_server, instrument, otel_capture, kind, stream
):
    """anthropic with_raw_response / with_streaming_response, plain and stream=True: the caller
    parses what the SDK would give it, after our retry of a 500, and the span ends once."""
    instrument("anthropic")
    llm_server.script(server_error(500))

    def make(c: Any) -> Any:
        return getattr(c.messages, kind).create(**MESSAGE, stream=stream)

    then = _raw_then if kind == "with_raw_response" else _streaming_then
    parsed = llm_sdk.run("anthropic", then(llm_sdk, make, lambda p: p))
    if stream:
        assert parsed[0].type == "message_start"
        assert parsed[-1].type == "message_stop"
    else:
        assert parsed.content[0].text
    assert llm_server.count == 2
    (span,) = otel_capture.spans(f"chat {MESSAGE['model']}")
    assert span.attributes[semconv.OUTCOME] == "success"
