"""The LLM runner through the real openai and anthropic SDKs (sync and async) against a local
server: attempts never multiply, fallbacks, a breaker per model, Retry-After capped, telemetry."""

from __future__ import annotations

import pytest
from llm_calls import (
    MESSAGES,
    Clients,
    bodies,
    chat_reply,
    error_reply,
    json_reply,
    message_reply,
)
from opentelemetry.trace import SpanKind, StatusCode

from otel_resilience import CircuitOpenError, semconv


@pytest.fixture(params=["sync", "async"])
def clients(request: pytest.FixtureRequest, server) -> Clients:
    """The SDK clients, sync then async, pointed at the scripted server."""
    return Clients(request.param, server.url)


def chat(model: str = "gpt-4o", **kw):
    """A chat.completions.create call for Clients.openai."""
    return lambda c: c.chat.completions.create(model=model, messages=MESSAGES, **kw)


def test_one_503_then_200_is_two_server_requests(clients, server, instrument, otel_capture):
    """One 503 then 200: the server sees 2 requests (never 2 x 3), one GenAI span with two
    HTTP attempt spans under it, the second with http.request.resend_count 1."""
    instrument("openai")
    server.script(error_reply(503), chat_reply())
    result = clients.openai(chat(temperature=0.5, max_tokens=9))
    assert result.model == "gpt-4o-2024"
    assert server.count == 2
    assert all(r.headers.get("x-stainless-retry-count", "0") == "0" for r in server.received)
    span = otel_capture.span("chat gpt-4o")
    assert span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes)
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert attrs[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 9
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024"
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-1"
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 5
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1
    assert attrs[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 1
    assert attrs[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[semconv.OUTCOME] == "success"
    assert attrs[semconv.ATTEMPTS] == 2
    assert attrs[semconv.LLM_TOKENS_TOTAL] == 7
    assert attrs[semconv.LLM_TOKENS_WASTED] == 0
    assert attrs[semconv.CIRCUIT_BREAKER_STATE] == "closed"
    assert span.status.status_code is StatusCode.UNSET
    first, second = sorted(otel_capture.spans("POST"), key=lambda s: s.start_time)
    for attempt in (first, second):
        assert attempt.parent.span_id == span.context.span_id
        assert attempt.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert semconv.HTTP_REQUEST_RESEND_COUNT not in first.attributes
    assert first.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 503
    assert second.attributes[semconv.HTTP_REQUEST_RESEND_COUNT] == 1
    assert second.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 5
    assert len(otel_capture.spans()) == 3  # no pipeline span, no other GenAI span


def test_persistent_503_gives_up_after_three_requests(clients, server, instrument, otel_capture):
    """Always 503: 3 server requests (our attempts, SDK retries off), the SDK's error raised,
    the span says failure with error.type and ERROR status."""
    import openai

    instrument("openai")
    server.script(*[error_reply(503)] * 5)
    with pytest.raises(openai.InternalServerError):
        clients.openai(chat())
    assert server.count == 3
    span = otel_capture.span("chat gpt-4o")
    assert span.attributes[semconv.OUTCOME] == "failure"
    assert span.attributes[semconv.ATTEMPTS] == 3
    assert span.attributes[semconv.ERROR_TYPE] == "openai.InternalServerError"
    assert span.attributes[semconv.ERROR_CATEGORY] == "server_error"
    assert span.status.status_code is StatusCode.ERROR
    (point,) = otel_capture.metric_points(semconv.METRIC_GEN_AI_OPERATION_DURATION)
    assert point.count == 1
    assert point.attributes[semconv.ERROR_TYPE] == "openai.InternalServerError"


def test_fallback_serves_after_retries_exhausted(clients, server, instrument, otel_capture):
    """gpt-4o fails 3 times, gpt-4o-mini serves: 4 requests, the last for the fallback; the
    span keeps the requested model's name, shows who served, the chain and the hop's reason."""
    instrument("openai", fallbacks={"gpt-4o": ["gpt-4o-mini"]})
    server.script(*[error_reply(503)] * 3, chat_reply("gpt-4o-mini-2024"))
    result = clients.openai(chat())
    assert result.model == "gpt-4o-mini-2024"
    assert [b["model"] for b in bodies(server)] == ["gpt-4o"] * 3 + ["gpt-4o-mini"]
    span = otel_capture.span("chat gpt-4o")
    assert span.attributes[semconv.OUTCOME] == "fallback"
    assert span.attributes[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024"
    assert span.attributes[semconv.FALLBACK_CHAIN] == ("gpt-4o", "gpt-4o-mini")
    assert span.attributes[semconv.ATTEMPTS] == 4
    assert semconv.ERROR_TYPE not in span.attributes
    assert span.status.status_code is StatusCode.UNSET
    (hop,) = [e for e in span.events if e.name == semconv.SPAN_EVENT_FALLBACK]
    assert dict(hop.attributes) == {
        semconv.FALLBACK_FROM: "gpt-4o",
        semconv.FALLBACK_TO: "gpt-4o-mini",
        semconv.FALLBACK_REASON: "server_error",
        semconv.ERROR_TYPE: "openai.InternalServerError",
    }
    last = max(otel_capture.spans("POST"), key=lambda s: s.start_time)
    assert last.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert last.attributes[semconv.HTTP_REQUEST_RESEND_COUNT] == 3


def test_callable_fallback_gets_the_request(clients, server, instrument, otel_capture):
    """A callable alternative receives the LlmRequest and its return value is the result."""
    seen = []

    def other_provider(request):
        seen.append((request.provider, request.operation, request.model, request.body["model"]))
        return "served elsewhere"

    instrument("openai", fallbacks={"gpt-4o": [other_provider]}, max_attempts=1)
    server.script(error_reply(500))
    assert clients.openai(chat()) == "served elsewhere"
    assert seen == [("openai", "chat", "gpt-4o", "gpt-4o")]
    assert server.count == 1
    assert otel_capture.span("chat gpt-4o").attributes[semconv.OUTCOME] == "fallback"


def test_not_retryable_error_neither_retries_nor_falls_back(clients, server, instrument):
    """A 400 is the caller's problem: one request, no fallback, the SDK's BadRequestError."""
    import openai

    instrument("openai", fallbacks={"gpt-4o": ["gpt-4o-mini"]})
    server.script(error_reply(400, "invalid_request_error"))
    with pytest.raises(openai.BadRequestError):
        clients.openai(chat())
    assert server.count == 1


def test_breaker_is_per_model(clients, server, instrument, otel_capture):
    """An open breaker for gpt-4o rejects it without a request; gpt-4o-mini still goes, and
    with a fallback configured the call goes there at once (reason circuit_open)."""
    inst = instrument("openai")
    inst.runner.breakers.get("gpt-4o").isolate()
    with pytest.raises(CircuitOpenError):
        clients.openai(chat())
    assert server.count == 0
    server.script(chat_reply("gpt-4o-mini"))
    assert clients.openai(chat("gpt-4o-mini")).model == "gpt-4o-mini"
    assert server.count == 1
    rejected = otel_capture.span("chat gpt-4o")
    assert rejected.attributes[semconv.OUTCOME] == "rejected"
    assert rejected.attributes[semconv.CIRCUIT_BREAKER_STATE] == "open"


def test_open_breaker_falls_back_at_once(clients, server, instrument, otel_capture):
    """With gpt-4o's breaker open the fallback serves on the first request."""
    inst = instrument("openai", fallbacks={"gpt-4o": ["gpt-4o-mini"]})
    inst.runner.breakers.get("gpt-4o").isolate()
    server.script(chat_reply("gpt-4o-mini"))
    assert clients.openai(chat()).model == "gpt-4o-mini"
    assert server.count == 1
    span = otel_capture.span("chat gpt-4o")
    (hop,) = [e for e in span.events if e.name == semconv.SPAN_EVENT_FALLBACK]
    assert hop.attributes[semconv.FALLBACK_REASON] == "circuit_open"


def test_retry_after_ms_is_honoured(clients, server, instrument, fake_clock):
    """429 with retry-after-ms: 1500 waits 1.5 s (FakeClock) before the second request."""
    instrument("openai")
    server.script(error_reply(429, "rate_limit_error", **{"retry-after-ms": "1500"}), chat_reply())
    clients.openai(chat())
    assert server.count == 2
    assert fake_clock.monotonic() == pytest.approx(1.5)


def test_retry_after_beyond_max_delay_is_not_waited(clients, server, instrument, fake_clock):
    """429 with Retry-After: 86400 (a day) is not waited: the model gives up at once and the
    fallback serves with no time spent."""
    instrument("openai", fallbacks={"gpt-4o": ["gpt-4o-mini"]})
    server.script(
        error_reply(429, "rate_limit_error", **{"retry-after": "86400"}), chat_reply("gpt-4o-mini")
    )
    assert clients.openai(chat()).model == "gpt-4o-mini"
    assert server.count == 2
    assert fake_clock.monotonic() == 0.0


def test_anthropic_529_overloaded_then_200(clients, server, instrument, otel_capture):
    """anthropic: 529 overloaded then 200 is 2 requests; usage counts cached input tokens in;
    anthropic's own span is off for the managed call (one GenAI span)."""
    instrument("anthropic")
    server.script(error_reply(529, "overloaded_error"), message_reply())
    result = clients.anthropic(
        lambda c: c.messages.create(
            model="claude-x", max_tokens=64, messages=MESSAGES, stop_sequences=["END"]
        ),
        open_telemetry={"tracer_provider": otel_capture.tracer_provider},
    )
    assert result.model == "claude-x-1"
    assert server.count == 2
    span = otel_capture.span("chat claude-x")
    attrs = dict(span.attributes)
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 16
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 4
    assert attrs[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 2
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert attrs[semconv.ATTEMPTS] == 2
    names = sorted(s.name for s in otel_capture.spans())
    assert names == ["POST", "POST", "chat claude-x"]


def test_anthropic_count_tokens_operation(clients, server, instrument, otel_capture):
    """count_tokens is managed as operation count_tokens and records no token usage."""
    instrument("anthropic")
    server.script(json_reply({"input_tokens": 12}))
    result = clients.anthropic(
        lambda c: c.messages.count_tokens(model="claude-x", messages=MESSAGES)
    )
    assert result.input_tokens == 12
    span = otel_capture.span("count_tokens claude-x")
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    assert otel_capture.metric_points(semconv.METRIC_GEN_AI_TOKEN_USAGE) == []


def test_with_raw_response_keeps_working(clients, server, instrument, otel_capture):
    """with_raw_response returns the SDK's raw response (headers, parse()) and still retries
    through our pipeline; the span has what the parsed body says."""
    instrument("openai")
    server.script(error_reply(503), chat_reply(**{"x-request-id": "req-9"}))
    raw = clients.openai(
        lambda c: c.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    )
    assert raw.headers["x-request-id"] == "req-9"
    assert raw.parse().model == "gpt-4o-2024"
    assert server.count == 2
    span = otel_capture.span("chat gpt-4o")
    assert span.attributes[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024"
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2


def test_with_streaming_response_keeps_working(clients, server, instrument, otel_capture):
    """with_streaming_response hands the unread body to the caller, who parses it."""
    instrument("openai")
    server.script(error_reply(503), chat_reply())

    def call(c):
        manager = c.chat.completions.with_streaming_response.create(
            model="gpt-4o", messages=MESSAGES
        )
        if clients.mode == "sync":
            with manager as response:
                return response.parse().model

        async def read():
            async with manager as response:
                return (await response.parse()).model

        return read()

    assert clients.openai(call) == "gpt-4o-2024"
    assert server.count == 2
    span = otel_capture.span("chat gpt-4o")
    assert span.attributes[semconv.OUTCOME] == "success"
    assert span.attributes[semconv.ATTEMPTS] == 2


def test_embeddings(clients, server, instrument, otel_capture):
    """embeddings: operation embeddings, input tokens, encoding format."""
    instrument("openai")
    server.script(
        json_reply(
            {
                "object": "list",
                "model": "text-embedding-3-small",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                "usage": {"prompt_tokens": 4, "total_tokens": 4},
            }
        )
    )
    clients.openai(
        lambda c: c.embeddings.create(
            model="text-embedding-3-small", input="hi", encoding_format="float"
        )
    )
    span = otel_capture.span("embeddings text-embedding-3-small")
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 4
    assert span.attributes[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] == ("float",)
    points = otel_capture.metric_points(semconv.METRIC_GEN_AI_TOKEN_USAGE)
    assert [(p.attributes[semconv.GEN_AI_TOKEN_TYPE], p.sum) for p in points] == [("input", 4)]


def test_metric_points_exact(clients, server, instrument, otel_capture, fake_clock):
    """One duration point per logical call (backoff included, on the FakeClock) and one token
    point per type for the attempt that reported usage, with the semconv attributes."""
    instrument("openai", jitter=False, base_delay=0.5)
    server.script(error_reply(503), chat_reply())
    clients.openai(chat())
    (duration,) = otel_capture.metric_points(semconv.METRIC_GEN_AI_OPERATION_DURATION)
    assert duration.count == 1
    assert duration.sum == pytest.approx(0.5)
    assert dict(duration.attributes) == {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_PROVIDER_NAME: "openai",
        semconv.GEN_AI_REQUEST_MODEL: "gpt-4o",
        semconv.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024",
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: server.server_address[1],
    }
    tokens = {
        p.attributes[semconv.GEN_AI_TOKEN_TYPE]: (p.count, p.sum)
        for p in otel_capture.metric_points(semconv.METRIC_GEN_AI_TOKEN_USAGE)
    }
    assert tokens == {"input": (1, 5), "output": (1, 2)}


def test_timeout_capped_at_the_deadline(llm_sdk, llm_server, instrument):
    """Inside deadline.scope(1.0) a 5 s slow first byte times out within the second (the
    attempt's timeouts are capped at deadline.remaining()) and is not retried past it."""
    import time

    import openai
    from llm_server import slow_first_byte
    from llm_support import CHAT as LOCAL_CHAT

    from otel_resilience import deadline

    instrument("openai", clock=None)  # the deadline runs on the real clock: so must the Retry
    llm_server.script(slow_first_byte(5.0))

    took = []

    def bounded(c):  # timed once the client exists (importing the SDK can take seconds)
        started = time.monotonic()
        if not llm_sdk.is_async:
            try:
                with deadline.scope(1.0):
                    return c.chat.completions.create(**LOCAL_CHAT)
            finally:
                took.append(time.monotonic() - started)

        async def go():
            try:
                with deadline.scope(1.0):
                    return await c.chat.completions.create(**LOCAL_CHAT)
            finally:
                took.append(time.monotonic() - started)

        return go()

    with pytest.raises(openai.APITimeoutError):
        llm_sdk.run("openai", bounded)
    assert took[0] < 4.0  # generous: the server alone would take 5 s
    assert llm_server.count == 1


def test_responses_api(llm_sdk, llm_server, instrument, otel_capture):
    """responses.create is a managed chat operation with the responses API's usage names."""
    from llm_support import RESPONSE, RESPONSES_MODEL

    instrument("openai")
    llm_server.script(error_reply_local(503))
    result = llm_sdk.run("openai", lambda c: c.responses.create(**RESPONSE))
    assert result.output_text
    assert llm_server.count == 2
    span = otel_capture.span(f"chat {RESPONSES_MODEL}")
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == result.usage.output_tokens
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == result.id


def error_reply_local(status):
    """A scripted error of the local LLM server."""
    from llm_server import server_error

    return server_error(status)
