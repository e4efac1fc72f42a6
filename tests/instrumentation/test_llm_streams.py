"""Managed streams through the real SDKs (sync and async) against the local LLM server: the first
chunk is read inside the attempt, the span and metrics end exactly once however the stream ends.
"""

from __future__ import annotations

import pytest
from llm_server import disconnect, ok, server_error, stall
from llm_support import CHAT, MESSAGE, OPENAI_FALLBACK
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, StatusCode
from otel_resilience_instrumentation._llm.providers import ANTHROPIC, OPENAI

from otel_resilience import semconv

#: Warnings are errors, and so are "Failed to detach context" / "Task was destroyed" logs.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.usefixtures("no_leak_logs")]


def spans_named(otel_capture, name):
    """Finished spans called ``name``."""
    return otel_capture.spans(name)


def test_stream_retried_before_first_chunk(llm_sdk, llm_server, instrument, otel_capture):
    """503 then a stream: 2 server requests, every text chunk delivered, the usage chunk we
    asked for hidden, and one span ended once with the stream's usage and TTFC."""
    instrument("openai")
    llm_server.script(server_error(503))
    chunks = llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT, stream=True), True)
    assert llm_server.count == 2
    assert llm_server.requests[-1].json["stream_options"] == {"include_usage": True}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from gpt-4o."
    assert all(c.choices for c in chunks)  # no usage-only chunk reached the caller
    (span,) = spans_named(otel_capture, "chat gpt-4o")
    assert span.attributes[semconv.LLM_STREAM_END] == "completed"
    assert span.attributes[semconv.ATTEMPTS] == 2
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    (ttfc,) = otel_capture.metric_points(semconv.METRIC_GEN_AI_TIME_TO_FIRST_CHUNK)
    assert ttfc.count == 1
    (duration,) = otel_capture.metric_points(semconv.METRIC_GEN_AI_OPERATION_DURATION)
    assert duration.count == 1


def test_caller_asked_usage_keeps_its_chunk(llm_sdk, llm_server, instrument):
    """A caller who asked include_usage gets the usage chunk."""
    instrument("openai")
    chunks = llm_sdk.run(
        "openai",
        lambda c: c.chat.completions.create(
            **CHAT, stream=True, stream_options={"include_usage": True}
        ),
        True,
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 3


def test_break_ends_the_span_once(llm_sdk, llm_server, instrument, otel_capture):
    """Leaving the stream after one chunk (close) ends the span once: stream.end closed."""
    instrument("openai")

    def first_only(c):
        stream = c.chat.completions.create(**CHAT, stream=True)
        if not llm_sdk.is_async:
            with stream:
                return next(iter(stream))

        async def go():
            s = await stream
            async with s:
                async for chunk in s:
                    return chunk

        return go()

    assert llm_sdk.run("openai", first_only) is not None
    (span,) = spans_named(otel_capture, "chat gpt-4o")
    assert span.attributes[semconv.LLM_STREAM_END] == "closed"
    assert span.status.status_code is StatusCode.UNSET
    assert len(otel_capture.metric_points(semconv.METRIC_GEN_AI_OPERATION_DURATION)) == 1


def test_disconnect_after_first_chunk_is_raised_not_retried(
    llm_sdk, llm_server, instrument, otel_capture
):
    """A hang-up after data reached the caller is raised (classified connection), never
    retried: 1 server request, the span failed with the partial usage recorded."""
    from otel_resilience.classify import DEFAULT_CLASSIFIER

    instrument("openai")
    llm_server.script(disconnect(after=2))
    with pytest.raises(Exception) as info:
        llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT, stream=True), True)
    assert DEFAULT_CLASSIFIER.classify(info.value).category.value == "connection"
    assert llm_server.count == 1
    (span,) = spans_named(otel_capture, "chat gpt-4o")
    assert span.attributes[semconv.LLM_STREAM_END] == "failed"
    assert span.status.status_code is StatusCode.ERROR


def test_disconnect_before_first_chunk_is_retried(llm_sdk, llm_server, instrument):
    """A hang-up before any chunk is retried like a failed request: 2 server requests."""
    instrument("openai")
    llm_server.script(disconnect(after=0))
    chunks = llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT, stream=True), True)
    assert chunks
    assert llm_server.count == 2


def test_stall_before_first_chunk_times_out_and_retries(llm_sdk, llm_server, instrument):
    """No chunk within stall_timeout (0.3 s here) before the first: retried, then served."""
    instrument("openai", stall_timeout=0.3)
    llm_server.script(stall(5.0, after=0))
    chunks = llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT, stream=True), True)
    assert chunks
    assert llm_server.count == 2


def test_stream_falls_back(llm_sdk, llm_server, instrument, otel_capture):
    """gpt-4o always 503: the stream comes from the fallback model, span named as asked."""
    instrument("openai", fallbacks={"gpt-4o": [OPENAI_FALLBACK]})
    llm_server.script(*[server_error(503)] * 3, model="gpt-4o")
    chunks = llm_sdk.run("openai", lambda c: c.chat.completions.create(**CHAT, stream=True), True)
    assert chunks[0].model == OPENAI_FALLBACK
    (span,) = spans_named(otel_capture, "chat gpt-4o")
    assert span.attributes[semconv.OUTCOME] == "fallback"
    assert span.attributes[semconv.GEN_AI_RESPONSE_MODEL] == OPENAI_FALLBACK


def test_anthropic_stream_helper(llm_sdk, llm_server, instrument, otel_capture):
    """messages.stream() works through the proxy (final message), one span with usage."""
    instrument("anthropic")
    events, final = llm_sdk.helper("anthropic", lambda c: c.messages.stream(**MESSAGE))
    assert events
    assert final.content[0].text
    (span,) = spans_named(otel_capture, "chat " + MESSAGE["model"])
    assert span.attributes[semconv.LLM_STREAM_END] == "completed"
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == final.usage.output_tokens


def test_openai_stream_helper(llm_sdk, llm_server, instrument, otel_capture):
    """chat.completions.stream() works through the proxy (final completion)."""
    instrument("openai")
    events, final = llm_sdk.helper("openai", lambda c: c.chat.completions.stream(**CHAT))
    assert events
    assert final.choices[0].message.content == "Hello from gpt-4o."
    (span,) = spans_named(otel_capture, "chat gpt-4o")
    assert span.attributes[semconv.LLM_STREAM_END] == "completed"


def test_partial_usage_of_a_broken_stream_is_recorded(
    llm_sdk, llm_server, instrument, otel_capture
):
    """anthropic stream broken after message_start: the input tokens it reported are on the
    span and in the token metric, and count as spent (total) but did not serve (wasted)."""
    instrument("anthropic")
    llm_server.script(disconnect(after=2))
    with pytest.raises(Exception):  # the SDK's or httpx2's error, classified above
        llm_sdk.run("anthropic", lambda c: c.messages.create(**MESSAGE, stream=True), True)
    (span,) = spans_named(otel_capture, "chat " + MESSAGE["model"])
    spent = span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS]
    assert spent > 0
    assert span.attributes[semconv.LLM_TOKENS_TOTAL] >= spent
    assert span.attributes[semconv.LLM_TOKENS_WASTED] == span.attributes[semconv.LLM_TOKENS_TOTAL]
    points = otel_capture.metric_points(
        semconv.METRIC_GEN_AI_TOKEN_USAGE, **{semconv.GEN_AI_TOKEN_TYPE: "input"}
    )
    assert [p.sum for p in points] == [spent]


def _read_counting(llm_sdk, provider, create, clock):
    """Read a managed stream item by item (the FakeClock advancing 0.5 s per item): the items,
    ``metrics.tokens`` after each, and the final metrics."""

    def sync(client):
        stream = create(client)
        items, tokens = [], []
        for item in stream:
            items.append(item)
            tokens.append(stream.metrics.tokens)
            clock.advance(0.5)
        return items, tokens, stream.metrics

    async def go(client):
        stream = await create(client)
        items, tokens = [], []
        async for item in stream:
            items.append(item)
            tokens.append(stream.metrics.tokens)
            clock.advance(0.5)
        return items, tokens, stream.metrics

    return llm_sdk.run(provider, go if llm_sdk.is_async else sync)


def test_stream_metrics_count_output_tokens_not_hidden_chunks(
    llm_sdk, llm_server, instrument, fake_clock
):
    """Output tokens per chunk: one per content delta until the provider reports its count,
    which then wins (7 here, for 3 words); openai's hidden usage chunk is not a chunk."""
    instrument("openai")
    instrument("anthropic")
    llm_server.script(ok(text="one two three", output_tokens=7))
    items, tokens, m = _read_counting(
        llm_sdk, "openai", lambda c: c.chat.completions.create(**CHAT, stream=True), fake_clock
    )
    assert all(c.choices for c in items)  # role, 3 words, finish: the usage chunk is hidden
    assert m.chunks == len(items) == 5
    assert tokens == [0, 1, 2, 3, 3]  # the estimate while streaming
    assert m.tokens == 7  # the usage chunk's count, though hidden
    assert m.tokens_per_second_avg == 7 / 2.0  # 7 tokens after the first chunk, over 4 gaps
    assert m.tokens_per_second_peak is not None

    llm_server.script(ok(text="one two three", output_tokens=7))
    items, tokens, m = _read_counting(
        llm_sdk, "anthropic", lambda c: c.messages.create(**MESSAGE, stream=True), fake_clock
    )
    assert m.chunks == len(items)
    # message_start reports 1, each text delta adds one, message_delta reports 7.
    kinds = [e.type for e in items]
    assert tokens[kinds.index("message_start")] == 1
    assert tokens[kinds.index("content_block_stop")] == 4
    assert tokens[kinds.index("message_delta")] == m.tokens == 7
    assert m.tokens_per_second is not None


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_stream_created_in_one_task_and_read_in_another(
    llm_server, instrument, otel_capture, provider
):
    """A web framework's pattern: an async stream created in a handler task and read in another
    task ends its span once, with no context detached in the wrong task (no_leak_logs)."""
    import asyncio

    from llm_support import make_client

    instrument(provider)

    def create(client):
        if provider == "openai":
            return client.chat.completions.create(**CHAT, stream=True)
        return client.messages.create(**MESSAGE, stream=True)

    async def go():
        async with make_client(llm_server, provider, is_async=True) as client:
            stream = await asyncio.create_task(create(client))
            return await asyncio.create_task(_drain(stream))

    assert asyncio.run(go()) > 1
    model = CHAT["model"] if provider == "openai" else MESSAGE["model"]
    (span,) = spans_named(otel_capture, f"chat {model}")
    assert span.attributes[semconv.LLM_STREAM_END] == "completed"


async def _drain(stream):
    """Read an async stream to its end: how many items."""
    return len([item async for item in stream])


def test_stream_metrics_with_telemetry_off_skip_the_full_fold(
    llm_sdk, llm_server, instrument, fake_clock, monkeypatch
):
    """With nothing recording, the same token figures and hidden usage chunk, but the provider's
    full fold (ids, model, finish reasons) runs only on the chunks carrying usage."""
    folded: list[str] = []
    for cls in (type(OPENAI), type(ANTHROPIC)):

        def spy(self, reported, chunk, real=cls.fold):
            folded.append(getattr(chunk, "type", None) or "chunk")
            return real(self, reported, chunk)

        monkeypatch.setattr(cls, "fold", spy)
    off = {"tracer_provider": NoOpTracerProvider(), "meter_provider": NoOpMeterProvider()}
    instrument("openai", **off)
    instrument("anthropic", **off)
    llm_server.script(ok(text="one two three", output_tokens=7))
    items, tokens, m = _read_counting(
        llm_sdk, "openai", lambda c: c.chat.completions.create(**CHAT, stream=True), fake_clock
    )
    assert all(c.choices for c in items)  # the usage chunk is still hidden
    assert (m.chunks, tokens, m.tokens) == (5, [0, 1, 2, 3, 3], 7)
    assert m.tokens_per_second_avg == 7 / 2.0
    assert folded == ["chunk"]  # the usage chunk only

    folded.clear()
    llm_server.script(ok(text="one two three", output_tokens=7))
    items, tokens, m = _read_counting(
        llm_sdk, "anthropic", lambda c: c.messages.create(**MESSAGE, stream=True), fake_clock
    )
    kinds = [e.type for e in items]
    assert tokens[kinds.index("message_start")] == 1
    assert tokens[kinds.index("content_block_stop")] == 4
    assert tokens[kinds.index("message_delta")] == m.tokens == 7
    assert folded == ["message_start", "message_delta"]


def test_recorded_stream_folds_only_the_chunks_the_span_needs(
    llm_sdk, llm_server, instrument, fake_clock, otel_capture, monkeypatch
):
    """Recording, openai's full fold reads the first chunk (id, model), the finish chunk and
    the usage chunk only; the span still gets all of them and the same token figures."""
    folded: list[tuple[bool, str | None]] = []
    real = type(OPENAI).fold

    def spy(self, reported, chunk):
        choices = chunk.choices
        folded.append((bool(choices), choices[0].finish_reason if choices else None))
        return real(self, reported, chunk)

    monkeypatch.setattr(type(OPENAI), "fold", spy)
    instrument("openai")
    llm_server.script(ok(text="one two three", output_tokens=7))
    items, tokens, m = _read_counting(
        llm_sdk, "openai", lambda c: c.chat.completions.create(**CHAT, stream=True), fake_clock
    )
    assert all(c.choices for c in items)  # the usage chunk is still hidden
    assert (m.chunks, tokens, m.tokens) == (5, [0, 1, 2, 3, 3], 7)
    # role chunk (id, model), the finish chunk, the usage chunk: not the three words
    assert folded == [(True, None), (True, "stop"), (False, None)]
    (span,) = spans_named(otel_capture, "chat gpt-4o")
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == items[0].id
    assert span.attributes[semconv.GEN_AI_RESPONSE_MODEL] == items[0].model
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
