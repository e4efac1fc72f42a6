"""Errors openai and anthropic raise in the middle of a stream (no status code): SSE error events
as the SDKs build them, and the raw httpx2 errors anthropic lets through."""

from __future__ import annotations

import anthropic
import httpx2
import openai
import pytest

from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorCategory

C = ErrorCategory
REQUEST = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        # openai: `event: error` data {"error": {...}} -> APIError(body=the error object)
        (
            openai.APIError("boom", REQUEST, body={"message": "x", "type": "server_error"}),
            C.SERVER_ERROR,
        ),
        (
            openai.APIError("slow", REQUEST, body={"message": "x", "type": "rate_limit_exceeded"}),
            C.RATE_LIMITED,
        ),
        # anthropic: `event: error` data {"type": "error", "error": {...}} -> APIError
        (
            anthropic.APIError(
                "boom", REQUEST, body={"type": "error", "error": {"type": "api_error"}}
            ),
            C.SERVER_ERROR,
        ),
        (
            anthropic.APIError(
                "busy", REQUEST, body={"type": "error", "error": {"type": "overloaded_error"}}
            ),
            C.OVERLOADED,
        ),
        # raw httpx2 errors reaching the caller from anthropic's stream iteration
        (httpx2.RemoteProtocolError("peer closed connection", request=REQUEST), C.CONNECTION),
        (httpx2.ReadTimeout("timed out", request=REQUEST), C.TIMEOUT),
        (httpx2.ReadError("reset", request=REQUEST), C.CONNECTION),
    ],
)
def test_mid_stream_errors_are_classified_retryable(exc, category):
    """Each mid-stream failure has the category that says what happened, and is retryable."""
    info = DEFAULT_CLASSIFIER.classify(exc)
    assert info.category is category
    assert info.retryable


def test_529_with_retry_after_ms():
    """anthropic's 529 overloaded carries retry-after-ms: overloaded, wait 0.25 s."""
    response = httpx2.Response(529, headers={"retry-after-ms": "250"}, request=REQUEST)
    exc = anthropic.InternalServerError("overloaded", response=response, body=None)
    info = DEFAULT_CLASSIFIER.classify(exc)
    assert info.category is C.OVERLOADED
    assert info.retry_after == 0.25
