"""Fixtures for the LLM tests: the local ``LLMServer`` and the real openai / anthropic clients
pointed at it (``max_retries`` left at the SDK default), sync and async with one test body.

``tests/instrumentation/conftest.py`` imports the fixtures, so every test there can ask for
``llm_server``, ``openai_client``, ``anthropic_client``, ``async_openai_client``,
``async_anthropic_client`` or ``llm_sdk`` (parametrized: sync, then async).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from llm_server import LLMServer, running_llm_server

if TYPE_CHECKING:  # imported lazily: the SDKs cost a second to import for tests that never use them
    import anthropic
    import openai

#: What a context token detached in the wrong context and an abandoned pending task log: they are
#: logged (opentelemetry.context, asyncio), not warned, so filterwarnings("error") misses them.
LEAK_LOGS = ("Failed to detach context", "Task was destroyed")

#: Seconds: a broken test fails instead of hanging; never reached normally.
CLIENT_TIMEOUT = 10.0
API_KEY = "sk-local-test"

#: Models the tests use (current names: anthropic's SDK warns about deprecated ones).
OPENAI_MODEL = "gpt-4o"
OPENAI_FALLBACK = "gpt-4o-mini"
RESPONSES_MODEL = "gpt-4.1"
EMBEDDINGS_MODEL = "text-embedding-3-small"
ANTHROPIC_MODEL = "claude-sonnet-4-6"
ANTHROPIC_FALLBACK = "claude-haiku-4-5"

#: Minimal request arguments per operation.
CHAT = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "Say hello"}]}
RESPONSE = {"model": RESPONSES_MODEL, "input": "Say hello"}
EMBED = {"model": EMBEDDINGS_MODEL, "input": ["first", "second"]}
MESSAGE = {
    "model": ANTHROPIC_MODEL,
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Say hello"}],
}

#: The chat request of each provider whose streams the stream tests read.
STREAM_REQUESTS = {"openai": CHAT, "anthropic": MESSAGE}


def stream_create(provider: str) -> Any:
    """``client -> stream`` for ``provider``'s chat request with ``stream=True``."""
    if provider == "openai":
        return lambda c: c.chat.completions.create(**CHAT, stream=True)
    return lambda c: c.messages.create(**MESSAGE, stream=True)


def make_client(server: LLMServer, provider: str, is_async: bool = False, **kwargs: Any) -> Any:
    """A real client of ``provider`` ("openai" or "anthropic") pointed at ``server``."""
    import anthropic
    import openai

    sdk: Any = openai if provider == "openai" else anthropic
    # The SDK's own default httpx2 client, minus loading the CA bundle (0.15 s per client) that
    # plain http on 127.0.0.1 never uses.
    http = sdk.DefaultAsyncHttpxClient if is_async else sdk.DefaultHttpxClient
    kwargs = {
        "api_key": API_KEY,
        "timeout": CLIENT_TIMEOUT,
        "http_client": http(verify=False),
        **kwargs,
    }
    if provider == "openai":
        cls = openai.AsyncOpenAI if is_async else openai.OpenAI
        return cls(base_url=server.openai_url, **kwargs)
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(base_url=server.url, **kwargs)


def final_of(helper_stream: Any) -> Any:
    """The final object of a ``.stream()`` helper (completion, response or message)."""
    for name in ("get_final_completion", "get_final_response", "get_final_message"):
        if hasattr(helper_stream, name):
            return getattr(helper_stream, name)()
    raise TypeError(f"not a stream helper: {type(helper_stream).__name__}")


class Sdk:
    """Drives the real SDKs sync or async with the same calls; async calls run each in a fresh
    event loop with a fresh client (httpx2 pools are bound to their loop)."""

    def __init__(self, server: LLMServer, is_async: bool) -> None:
        self.server = server
        self.is_async = is_async
        self._sync_clients: list[Any] = []

    def client(self, provider: str, **kwargs: Any) -> Any:
        """A new client of the right kind (sync clients are closed at teardown)."""
        client = make_client(self.server, provider, self.is_async, **kwargs)
        if not self.is_async:
            self._sync_clients.append(client)
        return client

    def run(
        self, provider: str, fn: Callable[[Any], Any], consume: bool = False, **kwargs: Any
    ) -> Any:
        """``fn(client)`` on a new client; with ``consume``, the returned stream's items."""
        if not self.is_async:
            result = fn(self.client(provider, **kwargs))
            return list(result) if consume else result

        async def go() -> Any:
            async with self.client(provider, **kwargs) as client:
                result = fn(client)
                if inspect.isawaitable(result):
                    result = await result
                return [item async for item in result] if consume else result

        return asyncio.run(go())

    def helper(
        self, provider: str, fn: Callable[[Any], Any], **kwargs: Any
    ) -> tuple[list[Any], Any]:
        """Enter the ``.stream()`` helper ``fn(client)`` returns: (its events, its final object)."""
        if not self.is_async:
            with fn(self.client(provider, **kwargs)) as stream:
                events = list(stream)
                return events, final_of(stream)

        async def go() -> tuple[list[Any], Any]:
            async with self.client(provider, **kwargs) as client, fn(client) as stream:
                events = [event async for event in stream]
                return events, await final_of(stream)

        return asyncio.run(go())

    def close(self) -> None:
        """Close the sync clients handed out."""
        for client in self._sync_clients:
            client.close()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def no_leak_logs() -> Iterator[None]:
    """Fail the test if it (or the garbage it left, collected at its end) logged a context
    detach failure or a destroyed pending task."""
    records = _Records()
    root = logging.getLogger()
    root.addHandler(records)
    try:
        yield
        gc.collect()
    finally:
        root.removeHandler(records)
    leaks = [m for m in records.messages if any(leak in m for leak in LEAK_LOGS)]
    assert not leaks, leaks


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    """The local openai + anthropic stand-in, answering 200 by default; stopped after the test."""
    with running_llm_server() as server:
        yield server


@pytest.fixture(params=["sync", "async"])
def llm_sdk(request: pytest.FixtureRequest, llm_server: LLMServer) -> Iterator[Sdk]:
    """The real SDKs against ``llm_server``: sync, then (second parametrization) async."""
    sdk = Sdk(llm_server, request.param == "async")
    yield sdk
    sdk.close()


@pytest.fixture
def openai_client(llm_server: LLMServer) -> Iterator[openai.OpenAI]:
    """A real ``openai.OpenAI`` pointed at ``llm_server``."""
    with make_client(llm_server, "openai") as client:
        yield client


@pytest.fixture
def anthropic_client(llm_server: LLMServer) -> Iterator[anthropic.Anthropic]:
    """A real ``anthropic.Anthropic`` pointed at ``llm_server``."""
    with make_client(llm_server, "anthropic") as client:
        yield client


@pytest.fixture
def async_openai_client(llm_server: LLMServer) -> Iterator[openai.AsyncOpenAI]:
    """A real ``openai.AsyncOpenAI`` pointed at ``llm_server``: use it inside ONE event loop
    (``asyncio.run``), or prefer ``llm_sdk``, which makes a client per loop."""
    client = make_client(llm_server, "openai", is_async=True)
    yield client
    asyncio.run(client.close())


@pytest.fixture
def async_anthropic_client(llm_server: LLMServer) -> Iterator[anthropic.AsyncAnthropic]:
    """A real ``anthropic.AsyncAnthropic`` pointed at ``llm_server`` (one event loop, as above)."""
    client = make_client(llm_server, "anthropic", is_async=True)
    yield client
    asyncio.run(client.close())
