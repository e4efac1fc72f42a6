"""The openai responses API streamed through the instrumentor (issue 10): ``responses.create(
stream=True)`` and the ``responses.stream()`` helper, sync and async, are managed streams like
chat's: retried before the first event, one span ended once with what ``response.completed``
reported."""

from __future__ import annotations

import pytest
from llm_server import server_error
from llm_support import RESPONSE, RESPONSES_MODEL

from otel_resilience import semconv

#: Warnings are errors, and so are "Failed to detach context" / "Task was destroyed" logs.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.usefixtures("no_leak_logs")]


def _completed(events):
    """The response of the stream's response.completed event."""
    (done,) = [e for e in events if e.type == "response.completed"]
    return done.response


@pytest.mark.parametrize("helper", [False, True], ids=["create-stream", "stream-helper"])
def test_responses_stream_is_managed(llm_sdk, llm_server, instrument, otel_capture, helper):
    """A 503 then the stream: 2 server requests, every event delivered (the body unchanged: no
    stream_options on the responses API), one span completed with the final usage and id."""
    instrument("openai")
    llm_server.script(server_error(503))
    if helper:
        events, final = llm_sdk.helper("openai", lambda c: c.responses.stream(**RESPONSE))
        assert final.output_text == f"Hello from {RESPONSES_MODEL}."
    else:
        events = llm_sdk.run(
            "openai", lambda c: c.responses.create(**RESPONSE, stream=True), consume=True
        )
    final = _completed(events)
    assert events[0].type == "response.created"
    assert llm_server.count == 2
    assert "stream_options" not in llm_server.requests[-1].json
    (span,) = otel_capture.spans(f"chat {RESPONSES_MODEL}")
    attrs = span.attributes
    assert attrs[semconv.LLM_STREAM_END] == "completed"
    assert attrs[semconv.ATTEMPTS] == 2
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == final.id
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == final.model
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == final.usage.input_tokens
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == final.usage.output_tokens
    (ttfc,) = otel_capture.metric_points(semconv.METRIC_GEN_AI_TIME_TO_FIRST_CHUNK)
    assert ttfc.count == 1
