"""Deadline propagation through the LLM instrumentors (issue 10): every managed request's
timeout is capped at ``otel_resilience.deadline.remaining()``, for every operation of both SDKs,
sync and async, plain and streamed (including the ``.stream()`` helpers).

What the SDK's request really carried is read at the transport (below our HTTP layer), on a
FakeClock deadline, so the figures are exact; a slow first byte on the real clock then shows the
cap ends each kind of call within its deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from llm_server import slow_first_byte
from llm_support import CHAT, CLIENT_TIMEOUT, EMBED, MESSAGE, RESPONSE, Sdk

from otel_resilience import deadline
from otel_resilience.testing import FakeClock

#: Warnings are errors, and so are "Failed to detach context" / "Task was destroyed" logs.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.usefixtures("no_leak_logs")]


class _Seen:
    """The timeout extension of every request a transport handled."""

    def __init__(self) -> None:
        self.timeouts: list[dict[str, float]] = []


def _transports(seen: _Seen) -> tuple[Any, Any]:
    class Sync(httpx2.HTTPTransport):
        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            seen.timeouts.append(dict(request.extensions["timeout"]))
            return super().handle_request(request)

    class Async(httpx2.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            seen.timeouts.append(dict(request.extensions["timeout"]))
            return await super().handle_async_request(request)

    return Sync, Async


def _http_client(sdk: Sdk, provider: str, seen: _Seen) -> Any:
    """The SDK's own default httpx2 client over a transport that records the timeouts."""
    import anthropic
    import openai

    module: Any = openai if provider == "openai" else anthropic
    sync, async_ = _transports(seen)
    if sdk.is_async:
        return module.DefaultAsyncHttpxClient(verify=False, transport=async_(verify=False))
    return module.DefaultHttpxClient(verify=False, transport=sync(verify=False))


#: (provider, how the call is made, fn(client)): "call" returns the result, "consume" a stream
#: to read to its end, "helper" a ``.stream()`` manager to enter.
OPERATIONS: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    "chat": ("openai", "call", lambda c: c.chat.completions.create(**CHAT)),
    "chat-stream": ("openai", "consume", lambda c: c.chat.completions.create(**CHAT, stream=True)),
    "chat-helper": ("openai", "helper", lambda c: c.chat.completions.stream(**CHAT)),
    "responses": ("openai", "call", lambda c: c.responses.create(**RESPONSE)),
    "responses-stream": (
        "openai",
        "consume",
        lambda c: c.responses.create(**RESPONSE, stream=True),
    ),
    "responses-helper": ("openai", "helper", lambda c: c.responses.stream(**RESPONSE)),
    "embeddings": ("openai", "call", lambda c: c.embeddings.create(**EMBED)),
    "messages": ("anthropic", "call", lambda c: c.messages.create(**MESSAGE)),
    "messages-stream": (
        "anthropic",
        "consume",
        lambda c: c.messages.create(**MESSAGE, stream=True),
    ),
    "messages-helper": ("anthropic", "helper", lambda c: c.messages.stream(**MESSAGE)),
    "count_tokens": (
        "anthropic",
        "call",
        lambda c: c.messages.count_tokens(model=MESSAGE["model"], messages=MESSAGE["messages"]),
    ),
}


def _run(sdk: Sdk, name: str, **kwargs: Any) -> Any:
    provider, how, fn = OPERATIONS[name]
    if how == "helper":
        return sdk.helper(provider, fn, **kwargs)
    return sdk.run(provider, fn, consume=how == "consume", **kwargs)


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_each_request_timeout_is_capped_at_the_deadline(llm_sdk, instrument, name):
    """Inside deadline.scope(2.5) every phase of the request's timeout is 2.5 s (the client's is
    10 s, streams' read phase 120 s); outside a deadline the client's own timeout is sent."""
    provider = OPERATIONS[name][0]
    instrument(provider)
    seen = _Seen()
    with deadline.scope(2.5, clock=FakeClock()):
        _run(llm_sdk, name, http_client=_http_client(llm_sdk, provider, seen))
    assert seen.timeouts == [dict.fromkeys(("connect", "read", "write", "pool"), 2.5)]
    free = _Seen()
    _run(llm_sdk, name, http_client=_http_client(llm_sdk, provider, free))
    assert [t["connect"] for t in free.timeouts] == [CLIENT_TIMEOUT]


@pytest.mark.parametrize(
    "name", ["messages", "messages-stream", "chat-stream", "responses", "count_tokens"]
)
def test_slow_first_byte_ends_within_the_deadline(llm_sdk, llm_server, instrument, name):
    """A 5 s slow first byte inside deadline.scope(0.5) fails with the SDK's timeout error
    well before the server would answer, after one request (no retry past the deadline)."""
    import anthropic
    import openai

    provider = OPERATIONS[name][0]
    timeout_error = openai.APITimeoutError if provider == "openai" else anthropic.APITimeoutError
    instrument(provider, clock=None)  # the deadline runs on the real clock: so must the Retry
    llm_server.script(slow_first_byte(5.0))
    started = []

    def timed(client: Any) -> Any:  # timed once the client exists (SDK imports take time)
        started.append(time.monotonic())
        return OPERATIONS[name][2](client)

    with pytest.raises(timeout_error), deadline.scope(0.5):
        llm_sdk.run(provider, timed, consume=OPERATIONS[name][1] == "consume")
    assert time.monotonic() - started[0] < 4.0  # generous: the server alone takes 5 s
    assert llm_server.count == 1
