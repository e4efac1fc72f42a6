"""Stall handling of managed LLM streams (issue 10), both SDKs, sync and async: no chunk within
``stall_timeout`` before the first is retried; after it, a classified ``timeout`` error reaches
the caller, never retried, with the partial usage recorded."""

from __future__ import annotations

import pytest
from llm_server import stall
from llm_support import STREAM_REQUESTS, stream_create
from opentelemetry.trace import StatusCode

from otel_resilience import semconv
from otel_resilience.classify import DEFAULT_CLASSIFIER

#: Warnings are errors, and so are "Failed to detach context" / "Task was destroyed" logs.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.usefixtures("no_leak_logs")]


@pytest.mark.parametrize("provider", list(STREAM_REQUESTS))
def test_stall_before_the_first_chunk_is_retried(llm_sdk, llm_server, instrument, provider):
    """No event within stall_timeout (0.3 s) before the first: a second request serves."""
    instrument(provider, stall_timeout=0.3)
    llm_server.script(stall(5.0, after=0))
    assert llm_sdk.run(provider, stream_create(provider), consume=True)
    assert llm_server.count == 2


@pytest.mark.parametrize("provider", list(STREAM_REQUESTS))
def test_stall_after_the_first_chunk_raises_a_timeout(
    llm_sdk, llm_server, instrument, otel_capture, provider
):
    """A stall after two events: the caller gets an error classified timeout after one request
    (never retried: it has data), the span failed with what the provider reported so far."""
    instrument(provider, stall_timeout=0.3)
    llm_server.script(stall(5.0, after=2))
    with pytest.raises(Exception) as info:
        llm_sdk.run(provider, stream_create(provider), consume=True)
    assert DEFAULT_CLASSIFIER.classify(info.value).category.value == "timeout"
    assert llm_server.count == 1
    (span,) = otel_capture.spans(f"chat {STREAM_REQUESTS[provider]['model']}")
    assert span.attributes[semconv.LLM_STREAM_END] == "failed"
    assert span.attributes[semconv.ERROR_CATEGORY] == "timeout"
    assert span.status.status_code is StatusCode.ERROR
    if provider == "anthropic":  # message_start reported the input tokens before the stall
        assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
