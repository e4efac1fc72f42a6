"""Real exceptions and responses from httpx, requests, aiohttp, openai and anthropic.

Every failure is produced for real against 127.0.0.1: a closed port (refused), a socket that
listens but never answers (timeouts with short client timeouts) and a stdlib HTTP server that
replies with canned statuses, headers and provider-style JSON error bodies.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import aiohttp
import anthropic
import httpx
import openai
import pytest
import requests
from http_support import Reply, scripted_server

from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorCategory, ErrorClassifier, ErrorInfo

C = ErrorCategory
TIMEOUT = 0.3  # seconds a client waits on the silent socket; bounded, not a sleep


Server = tuple[str, Callable[[Reply], None]]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A local HTTP server shared by the module; yields its URL and a canned-reply setter."""
    with scripted_server() as httpd:
        yield httpd.url, httpd.always


@pytest.fixture
def closed_url() -> str:
    """A URL on a 127.0.0.1 port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A URL whose socket accepts connections (via the backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def caught(call: Callable[[], object]) -> BaseException:
    """The exception ``call`` raises; fails the test if it raises none."""
    try:
        call()
    except BaseException as exc:  # the point is to catch whatever it is
        return exc
    pytest.fail("expected the call to raise")


def classify(obj: object) -> ErrorInfo:
    return DEFAULT_CLASSIFIER.classify(obj)


# --- httpx ------------------------------------------------------------------------------------


def test_httpx_connect_error_is_a_retryable_connection_failure(closed_url: str) -> None:
    """httpx.ConnectError from a refused port is connection, retryable."""
    exc = caught(lambda: httpx.get(closed_url))
    assert isinstance(exc, httpx.ConnectError)
    info = classify(exc)
    assert (info.category, info.retryable) == (C.CONNECTION, True)


def test_httpx_read_timeout_is_a_timeout(silent_url: str) -> None:
    """httpx.ReadTimeout from a server that never answers is timeout."""
    exc = caught(lambda: httpx.get(silent_url, timeout=TIMEOUT))
    assert isinstance(exc, httpx.ReadTimeout)
    assert classify(exc).category is C.TIMEOUT


def test_httpx_response_and_status_error_carry_status_and_retry_after(server: Server) -> None:
    """A 429 httpx.Response and its HTTPStatusError both say rate_limited with Retry-After."""
    url, answer = server
    answer(Reply(429, {"error": "slow down"}, {"Retry-After": "3"}))
    response = httpx.get(url)
    exc = caught(response.raise_for_status)
    assert isinstance(exc, httpx.HTTPStatusError)
    for obj in (response, exc):
        info = classify(obj)
        assert (info.category, info.retry_after, info.status_code) == (C.RATE_LIMITED, 3.0, 429)


# --- requests ---------------------------------------------------------------------------------


def test_requests_connection_error_and_read_timeout(closed_url: str, silent_url: str) -> None:
    """requests' ConnectionError and ReadTimeout map to connection and timeout."""
    refused = caught(lambda: requests.get(closed_url, timeout=5))
    slow = caught(lambda: requests.get(silent_url, timeout=TIMEOUT))
    assert isinstance(refused, requests.ConnectionError)
    assert isinstance(slow, requests.ReadTimeout)
    assert classify(refused).category is C.CONNECTION
    assert classify(slow).category is C.TIMEOUT


def test_requests_http_error_reads_the_response(server: Server) -> None:
    """requests.HTTPError from raise_for_status is classified by its response's status."""
    url, answer = server
    answer(Reply(503, {}, {"Retry-After": "11"}))
    response = requests.get(url, timeout=5)
    exc = caught(response.raise_for_status)
    assert isinstance(exc, requests.HTTPError)
    info = classify(exc)
    assert (info.category, info.retryable, info.retry_after) == (C.SERVER_ERROR, True, 11.0)
    assert classify(response).status_code == 503


# --- aiohttp ----------------------------------------------------------------------------------


async def _aiohttp_get(url: str, *, raise_for_status: bool = False) -> None:
    timeout = aiohttp.ClientTimeout(total=5, sock_read=TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout, raise_for_status=raise_for_status) as session,
        session.get(url) as response,
    ):
        await response.read()


def test_aiohttp_connector_error_and_socket_timeout(closed_url: str, silent_url: str) -> None:
    """aiohttp's ClientConnectorError and read timeout map to connection and timeout."""
    refused = caught(lambda: asyncio.run(_aiohttp_get(closed_url)))
    slow = caught(lambda: asyncio.run(_aiohttp_get(silent_url)))
    assert isinstance(refused, aiohttp.ClientConnectorError)
    assert isinstance(slow, aiohttp.ServerTimeoutError)
    assert classify(refused).category is C.CONNECTION
    assert classify(slow).category is C.TIMEOUT


def test_aiohttp_client_response_error_reads_status_and_headers(server: Server) -> None:
    """ClientResponseError's .status and .headers give category and Retry-After."""
    url, answer = server
    answer(Reply(529, {}, {"retry-after-ms": "1500"}))
    exc = caught(lambda: asyncio.run(_aiohttp_get(url, raise_for_status=True)))
    assert isinstance(exc, aiohttp.ClientResponseError)
    info = classify(exc)
    assert (info.category, info.retry_after, info.status_code) == (C.OVERLOADED, 1.5, 529)


# --- openai -----------------------------------------------------------------------------------


def _openai_call(url: str, timeout: float = 5) -> BaseException:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=timeout)
    with client:
        return caught(
            lambda: client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "my secret prompt"}]
            )
        )


def _openai_error(message: str, type_: str | None, code: str | None) -> dict[str, object]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def test_openai_rate_limit_uses_the_exhausted_limit_reset(server: Server) -> None:
    """openai.RateLimitError: rate_limited, waiting for the limit that is at zero."""
    url, answer = server
    headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m30s",
        "x-ratelimit-remaining-tokens": "9000",
        "x-ratelimit-reset-tokens": "20ms",
    }
    body = _openai_error("Rate limit reached", "requests", "rate_limit_exceeded")
    answer(Reply(429, body, headers))
    exc = _openai_call(url)
    assert isinstance(exc, openai.RateLimitError)
    info = classify(exc)
    assert (info.category, info.retryable, info.retry_after) == (C.RATE_LIMITED, True, 90.0)


_FILTERED = {"message": "filtered", "code": "content_filter", "innererror": {"code": "RAIPolicy"}}
_OPENAI_CASES = [
    (429, _openai_error("quota", "insufficient_quota", "insufficient_quota"), C.QUOTA_EXCEEDED),
    (400, _openai_error("long", "invalid_request", "context_length_exceeded"), C.CONTEXT_LENGTH),
    (400, {"error": _FILTERED}, C.CONTENT_FILTER),
    (401, _openai_error("Incorrect API key", "invalid_request_error", "invalid_api_key"), C.AUTH),
    (404, _openai_error("The model does not exist", "invalid_request_error", None), C.NOT_FOUND),
    (500, _openai_error("The server had an error", "server_error", None), C.SERVER_ERROR),
]


@pytest.mark.parametrize(("status", "body", "category"), _OPENAI_CASES)
def test_openai_status_errors_are_refined_by_their_body(
    server: Server, status: int, body: object, category: ErrorCategory
) -> None:
    """openai errors map through status and body code (quota, context length, filter...)."""
    url, answer = server
    answer(Reply(status, body))
    exc = _openai_call(url)
    assert isinstance(exc, openai.APIStatusError)
    info = classify(exc)
    assert (info.category, info.status_code) == (category, status)
    assert info.retryable is (category is C.SERVER_ERROR)
    assert info.alert is (category in {C.AUTH, C.QUOTA_EXCEEDED})
    assert "secret" not in info.user_message


def test_openai_connection_and_timeout_errors(closed_url: str, silent_url: str) -> None:
    """openai.APIConnectionError and APITimeoutError map to connection and timeout."""
    refused = _openai_call(closed_url)
    slow = _openai_call(silent_url, timeout=TIMEOUT)
    assert type(refused) is openai.APIConnectionError
    assert isinstance(slow, openai.APITimeoutError)
    assert classify(refused).category is C.CONNECTION
    assert classify(slow).category is C.TIMEOUT


# --- anthropic --------------------------------------------------------------------------------


def _anthropic_call(url: str, timeout: float = 5) -> BaseException:
    client = anthropic.Anthropic(base_url=url, api_key="x", max_retries=0, timeout=timeout)
    with client:
        return caught(
            lambda: client.messages.create(
                model="m", max_tokens=8, messages=[{"role": "user", "content": "secret prompt"}]
            )
        )


def _anthropic_error(type_: str, message: str) -> dict[str, object]:
    return {"type": "error", "error": {"type": type_, "message": message}}


_TOO_LONG = "prompt is too long: 210000 tokens > 200000 maximum"
_ANTHROPIC_CASES = [
    (529, _anthropic_error("overloaded_error", "Overloaded"), C.OVERLOADED),
    (400, _anthropic_error("invalid_request_error", _TOO_LONG), C.CONTEXT_LENGTH),
    (400, _anthropic_error("invalid_request_error", "max_tokens: required"), C.INVALID_REQUEST),
    (401, _anthropic_error("authentication_error", "invalid x-api-key"), C.AUTH),
    (403, _anthropic_error("permission_error", "no access"), C.AUTH),
    (413, _anthropic_error("request_too_large", "Request too large"), C.INVALID_REQUEST),
    (500, _anthropic_error("api_error", "Internal server error"), C.SERVER_ERROR),
]


@pytest.mark.parametrize(("status", "body", "category"), _ANTHROPIC_CASES)
def test_anthropic_status_errors(
    server: Server, status: int, body: object, category: ErrorCategory
) -> None:
    """anthropic errors map through status, error.type and the body's message."""
    url, answer = server
    answer(Reply(status, body))
    exc = _anthropic_call(url)
    assert isinstance(exc, anthropic.APIStatusError)
    info = classify(exc)
    assert (info.category, info.status_code) == (category, status)
    assert info.retryable is (category in {C.OVERLOADED, C.SERVER_ERROR})
    assert "210000" not in info.user_message


def test_anthropic_rate_limit_reads_retry_after_then_reset_timestamps(server: Server) -> None:
    """anthropic.RateLimitError: Retry-After wins; without it, the RFC 3339 reset counts."""
    url, answer = server
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    reset = (now + timedelta(seconds=42)).isoformat().replace("+00:00", "Z")
    headers = {
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": reset,
    }
    body = _anthropic_error("rate_limit_error", "Number of request tokens has exceeded")
    classifier = ErrorClassifier(wall_clock=now.timestamp)
    answer(Reply(429, body, {**headers, "retry-after": "7"}))
    exc = _anthropic_call(url)
    assert isinstance(exc, anthropic.RateLimitError)
    assert classifier.classify(exc).retry_after == 7.0
    answer(Reply(429, body, headers))
    info = classifier.classify(_anthropic_call(url))
    assert (info.category, info.retry_after) == (C.RATE_LIMITED, 42.0)


def test_anthropic_connection_and_timeout_errors(closed_url: str, silent_url: str) -> None:
    """anthropic.APIConnectionError and APITimeoutError map to connection and timeout."""
    refused = _anthropic_call(closed_url)
    slow = _anthropic_call(silent_url, timeout=TIMEOUT)
    assert type(refused) is anthropic.APIConnectionError
    assert isinstance(slow, anthropic.APITimeoutError)
    assert classify(refused).category is C.CONNECTION
    assert classify(slow).category is C.TIMEOUT
