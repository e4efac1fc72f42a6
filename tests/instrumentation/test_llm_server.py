"""The local LLM server speaks what the real openai and anthropic SDKs parse: every shape, its
streams and helpers, and every scripted fault surfacing as the SDK's own exception."""

from __future__ import annotations

import json
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from llm_server import (
    LLMServer,
    bad_json,
    disconnect,
    ok,
    overloaded,
    paced,
    rate_limited,
    ratelimit_headers,
    running_llm_server,
    server_error,
    slow_first_byte,
    stall,
)
from llm_support import (
    ANTHROPIC_MODEL,
    CHAT,
    EMBED,
    MESSAGE,
    OPENAI_FALLBACK,
    OPENAI_MODEL,
    RESPONSE,
    RESPONSES_MODEL,
    Sdk,
)

FAST = {"retry_after_ms": 1}  # lets the SDK's own retries run without real backoff


def test_chat_completion_echoes_the_model_with_usage(llm_sdk: Sdk) -> None:
    """A chat completion names the requested model, its text and usage; the request is logged."""
    done = llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT))
    assert (done.model, done.choices[0].message.content) == (OPENAI_MODEL, "Hello from gpt-4o.")
    assert done.usage.completion_tokens == 3
    assert done.usage.prompt_tokens > 0
    (req,) = llm_sdk.server.requests
    assert (req.method, req.path, req.model) == ("POST", "/v1/chat/completions", OPENAI_MODEL)
    assert req.headers["authorization"].startswith("Bearer ")


@pytest.mark.parametrize("include_usage", [False, True])
def test_chat_stream_sends_usage_only_when_asked(llm_sdk: Sdk, include_usage: bool) -> None:
    """Streamed chunks carry the words; a final usage-only chunk comes with include_usage."""
    extra = {"stream_options": {"include_usage": True}} if include_usage else {}
    chunks = llm_sdk.run(
        "openai", lambda c: c.chat.completions.create(**CHAT, stream=True, **extra), consume=True
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "Hello from gpt-4o."
    usage = [ch.usage for ch in chunks if ch.usage is not None]
    assert [u.completion_tokens for u in usage] == ([3] if include_usage else [])
    assert all(ch.model == OPENAI_MODEL for ch in chunks)


def test_chat_stream_helper_builds_the_final_completion(llm_sdk: Sdk) -> None:
    """``chat.completions.stream()`` accumulates the chunks into the final completion."""
    events, final = llm_sdk.helper("openai", lambda c: c.chat.completions.stream(**CHAT))
    assert final.choices[0].message.content == "Hello from gpt-4o."
    assert "content.done" in {e.type for e in events}


def test_responses_json_stream_and_helper(llm_sdk: Sdk) -> None:
    """Responses: the object, the raw event stream and the ``.stream()`` helper all parse."""
    done = llm_sdk.run("openai", lambda c: c.responses.create(**RESPONSE))
    assert (done.model, done.output_text, done.usage.output_tokens) == (
        RESPONSES_MODEL,
        "Hello from gpt-4.1.",
        3,
    )
    events = llm_sdk.run(
        "openai", lambda c: c.responses.create(**RESPONSE, stream=True), consume=True
    )
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage.output_tokens == 3
    _, final = llm_sdk.helper("openai", lambda c: c.responses.stream(**RESPONSE))
    assert final.output_text == "Hello from gpt-4.1."


@pytest.mark.parametrize("encoding", ["base64", "float"])
def test_embeddings_in_both_encodings(llm_sdk: Sdk, encoding: str) -> None:
    """Embeddings decode to one vector per input, as base64 (the SDK's default) or floats."""
    extra = {} if encoding == "base64" else {"encoding_format": "float"}
    done = llm_sdk.run("openai", lambda c: c.embeddings.create(**EMBED, **extra))
    assert [len(d.embedding) for d in done.data] == [4, 4]
    assert done.data[1].embedding[0] == pytest.approx(0.2)
    assert llm_sdk.server.requests[0].json["encoding_format"] == encoding


def test_anthropic_message_stream_helper_and_count_tokens(llm_sdk: Sdk) -> None:
    """Messages: JSON, the raw SSE events with usage, ``messages.stream()``, and count_tokens."""
    done = llm_sdk.run("anthropic", lambda c: c.messages.create(**MESSAGE))
    assert (done.model, done.content[0].text, done.usage.output_tokens) == (
        ANTHROPIC_MODEL,
        "Hello from claude-sonnet-4-6.",
        3,
    )
    events = llm_sdk.run(
        "anthropic", lambda c: c.messages.create(**MESSAGE, stream=True), consume=True
    )
    assert [events[0].type, events[-2].type, events[-1].type] == [
        "message_start",
        "message_delta",
        "message_stop",
    ]
    assert events[0].message.usage.input_tokens == done.usage.input_tokens
    assert events[-2].usage.output_tokens == 3
    _, final = llm_sdk.helper("anthropic", lambda c: c.messages.stream(**MESSAGE))
    assert final.content[0].text == "Hello from claude-sonnet-4-6."
    counted = llm_sdk.run(
        "anthropic",
        lambda c: c.messages.count_tokens(model=ANTHROPIC_MODEL, messages=MESSAGE["messages"]),
    )
    assert counted.input_tokens > 0
    assert llm_sdk.server.requests[-1].path == "/v1/messages/count_tokens"


@pytest.mark.parametrize(
    ("behaviour", "provider", "error"),
    [
        (rate_limited(**FAST), "openai", openai.RateLimitError),
        (server_error(**FAST), "openai", openai.InternalServerError),
        (server_error(503, **FAST), "openai", openai.InternalServerError),
        (overloaded(**FAST), "anthropic", anthropic.OverloadedError),
        (rate_limited(**FAST), "anthropic", anthropic.RateLimitError),
        (server_error(**FAST), "anthropic", anthropic.InternalServerError),
        (server_error(503, **FAST), "anthropic", anthropic.ServiceUnavailableError),
    ],
    ids=["oa-429", "oa-500", "oa-503", "an-529", "an-429", "an-500", "an-503"],
)
def test_statuses_raise_the_sdk_class_after_its_own_retries(
    llm_sdk: Sdk, behaviour: Any, provider: str, error: type[Exception]
) -> None:
    """A scripted status raises the SDK's class after its default 2 retries: 3 requests."""
    llm_sdk.server.default = behaviour
    call = (
        (lambda c: c.chat.completions.create(**CHAT))
        if provider == "openai"
        else (lambda c: c.messages.create(**MESSAGE))
    )
    with pytest.raises(error) as info:
        llm_sdk.run(provider, call)
    assert info.value.status_code == behaviour.status  # type: ignore[attr-defined]
    assert llm_sdk.server.count == 3


def test_a_scripted_429_then_success_is_retried_by_the_sdk(llm_sdk: Sdk) -> None:
    """Scripts run in order, then the default: one 429 costs the SDK one extra request."""
    llm_sdk.server.script(rate_limited(retry_after=0.001))
    done = llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT))
    assert done.model == OPENAI_MODEL
    assert llm_sdk.server.count == 2


def test_retry_and_ratelimit_headers_on_the_wire(llm_server: LLMServer) -> None:
    """retry-after as seconds, as a fresh HTTP-date, retry-after-ms, and rate-limit headers."""
    llm_server.script(
        rate_limited(retry_after=7, retry_after_ms=7000),
        rate_limited(http_date_in=30),
        ok(headers=ratelimit_headers("anthropic", requests=5)),
    )
    with httpx2.Client(base_url=llm_server.url) as http:
        first, second, third = (
            http.post(path, json={"model": "m"})
            for path in ("/v1/chat/completions", "/v1/chat/completions", "/v1/messages")
        )
    assert (first.headers["retry-after"], first.headers["retry-after-ms"]) == ("7", "7000")
    assert first.json()["error"]["type"] == "rate_limit_exceeded"
    when = parsedate_to_datetime(second.headers["retry-after"]).timestamp() - time.time()
    assert 20 < when <= 31
    assert third.headers["anthropic-ratelimit-requests-remaining"] == "5"
    assert "x-ratelimit-remaining-tokens" in ratelimit_headers("openai")


def test_per_model_scripts_and_defaults(llm_sdk: Sdk) -> None:
    """A model's default and queue apply only to requests for that model (fallback scenarios)."""
    llm_sdk.server.model_defaults[OPENAI_MODEL] = server_error(**FAST)
    llm_sdk.server.script(ok(model="gpt-4o-mini-2024-07-18"), model=OPENAI_FALLBACK)
    with pytest.raises(openai.InternalServerError):
        llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT))
    done = llm_sdk.run(
        "openai", lambda c: c.chat.completions.create(**{**CHAT, "model": OPENAI_FALLBACK})
    )
    assert done.model == "gpt-4o-mini-2024-07-18"
    assert llm_sdk.server.count_for(model=OPENAI_MODEL) == 3
    assert llm_sdk.server.count_for(path="/v1/chat/completions", model=OPENAI_FALLBACK) == 1


def test_slow_first_byte_times_out_the_sdk(llm_sdk: Sdk) -> None:
    """A first byte later than the read timeout raises the SDK's timeout error."""
    llm_sdk.server.script(slow_first_byte(5))
    with pytest.raises(openai.APITimeoutError):
        llm_sdk.run(
            "openai", lambda c: c.chat.completions.create(**CHAT), timeout=0.2, max_retries=0
        )
    assert llm_sdk.server.count == 1


def _read_stream(sdk: Sdk, provider: str, received: list[Any]) -> None:
    """Consume a stream, keeping what arrived before it failed."""

    def call(client: Any) -> Any:
        if provider == "openai":
            return client.chat.completions.create(**CHAT, stream=True)
        return client.messages.create(**MESSAGE, stream=True)

    if not sdk.is_async:
        received.extend(sdk.run(provider, call, timeout=0.3))
        return

    async def collect(client: Any) -> None:
        async for item in await call(client):
            received.append(item)

    sdk.run(provider, collect, timeout=0.3)


@pytest.mark.parametrize(
    ("provider", "behaviour", "error"),
    [
        ("openai", stall(10, after=2), openai.APITimeoutError),
        ("anthropic", stall(10, after=2), httpx2.ReadTimeout),
        ("openai", disconnect(after=2), openai.APIConnectionError),
        ("anthropic", disconnect(after=2), httpx2.RemoteProtocolError),
        ("openai", bad_json(after=2), json.JSONDecodeError),
        ("anthropic", bad_json(after=1), json.JSONDecodeError),
    ],
    ids=["oa-stall", "an-stall", "oa-disconnect", "an-disconnect", "oa-bad-json", "an-bad-json"],
)
def test_mid_stream_faults_reach_the_caller_after_the_first_events(
    llm_sdk: Sdk, provider: str, behaviour: Any, error: type[Exception]
) -> None:
    """A stall, disconnect or bad event after 2 events raises once those arrived; no SDK retry."""
    llm_sdk.server.script(behaviour)
    received: list[Any] = []
    with pytest.raises(error):
        _read_stream(llm_sdk, provider, received)
    assert len(received) in {
        1,
        2,
    }  # anthropic's SDK drops the event before (a content_block_start is kept)
    assert llm_sdk.server.count == 1


@pytest.mark.parametrize("behaviour", [disconnect(), bad_json()], ids=["disconnect", "bad-json"])
def test_broken_json_bodies_fail_the_call(llm_sdk: Sdk, behaviour: Any) -> None:
    """A body cut in half or not JSON fails the call instead of returning a half object."""
    llm_sdk.server.script(behaviour)
    with pytest.raises((openai.APIError, json.JSONDecodeError)):
        llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT), max_retries=0)


def test_a_paced_stream_spreads_its_events(llm_sdk: Sdk) -> None:
    """``paced`` waits between SSE events: 6 chat events 20 ms apart take at least 100 ms."""
    llm_sdk.server.script(paced(0.02))
    started = time.monotonic()
    chunks = llm_sdk.run(
        "openai", lambda c: c.chat.completions.create(**CHAT, stream=True), consume=True
    )
    assert time.monotonic() - started >= 0.1  # a lower bound only: never flaky on a slow machine
    assert len(chunks) == 5  # role, 3 words, finish ([DONE] is not a chunk)


def test_a_burst_stream_parses_like_a_flushed_one(llm_sdk: Sdk) -> None:
    """``burst`` sends every event in one write: the SDK still reads the same chunks and usage."""
    llm_sdk.server.script(ok(burst=True))
    extra = {"stream_options": {"include_usage": True}}
    chunks = llm_sdk.run(
        "openai", lambda c: c.chat.completions.create(**CHAT, stream=True, **extra), consume=True
    )
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == (
        "Hello from gpt-4o."
    )
    assert chunks[-1].usage.completion_tokens == 3


def test_traceparent_is_logged(openai_client: openai.OpenAI, llm_server: LLMServer) -> None:
    """The request log keeps the headers a test needs (traceparent of each attempt)."""
    parent = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    openai_client.chat.completions.create(**CHAT, extra_headers={"traceparent": parent})
    assert llm_server.requests[0].traceparent == parent


def test_stop_is_fast_and_leaks_no_thread() -> None:
    """Stopping ends a 30 s stall and kept-alive connections at once and joins every thread."""
    before = set(threading.enumerate())
    with running_llm_server() as server:
        server.default = stall(30, after=1)
        client = openai.OpenAI(base_url=server.openai_url, api_key="k", max_retries=0)
        stream = client.chat.completions.create(**CHAT, stream=True)
        next(iter(stream))
        started = time.monotonic()
    assert time.monotonic() - started < 5  # generous: the stall alone would take 30 s
    client.close()
    assert set(threading.enumerate()) <= before
