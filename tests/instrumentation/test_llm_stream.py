"""The LLM stream proxy over real openai/anthropic streams: API kept, one on_end per ending."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from anthropic.lib.streaming import AsyncMessageStreamManager, MessageStreamManager
from llm_server import LLMServer, disconnect, ok
from llm_support import make_client
from openai.lib.streaming.chat import (
    AsyncChatCompletionStreamManager,
    ChatCompletionStreamManager,
)
from otel_resilience_instrumentation._llm.stream import (
    OUTCOME_ABANDONED,
    OUTCOME_CLOSED,
    OUTCOME_COMPLETED,
    OUTCOME_CONSUMER_ERROR,
    OUTCOME_FAILED,
    wrap_stream,
)

from otel_resilience.streams import StreamState
from otel_resilience.testing import FakeClock
from tests.instrumentation.llm_stream_support import (
    Body,
    Converted,
    Hooks,
    anthropic_events,
    openai_events,
)

#: Warnings are errors, and so are "Failed to detach context" / "Task was destroyed" logs.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.usefixtures("no_leak_logs")]


class Llm:
    """One SDK (openai or anthropic), sync or async, over an in-test SSE body."""

    def __init__(self, provider: str, mode: str, server: LLMServer | None = None) -> None:
        self.server = server
        self.provider = provider
        self.mode = mode
        self.loop = asyncio.new_event_loop() if mode == "async" else None
        self.clients: list[Any] = []

    def run(self, coro: Any) -> Any:
        assert self.loop is not None
        return self.loop.run_until_complete(coro)

    def _client(self, body: Body | None) -> Any:
        if self.server is not None:
            client = make_client(self.server, self.provider, self.mode == "async")
            self.clients.append(client)
            return client

        def handler(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

        transport = httpx2.MockTransport(handler)
        kw: dict[str, Any] = {"api_key": "k", "base_url": "http://llm.test", "max_retries": 0}
        if self.mode == "sync":
            http = httpx2.Client(transport=transport)
            cls = openai.OpenAI if self.provider == "openai" else anthropic.Anthropic
        else:
            http = httpx2.AsyncClient(transport=transport)
            cls = openai.AsyncOpenAI if self.provider == "openai" else anthropic.AsyncAnthropic
        client = cls(http_client=http, **kw)
        self.clients.append(client)
        return client

    def open(self, body: Body | None, hooks: Hooks, **kw: Any) -> Any:
        """Start a streamed call, pull its first chunk (as the runner does), wrap the stream."""
        client = self._client(body)
        if self.provider == "openai":
            call = client.chat.completions.create
            args = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        else:
            call = client.messages.create
            args = {
                "model": "claude-x",
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "hi"}],
            }
        if self.mode == "sync":
            raw = call(stream=True, **args)
            first = next(raw)
        else:

            async def start() -> Any:
                stream = await call(stream=True, **args)
                return stream, await stream.__anext__()

            raw, first = self.run(start())
        return wrap_stream(raw, first, hooks, **kw)

    def events(self, words: list[str]) -> list[bytes]:
        return openai_events(words) if self.provider == "openai" else anthropic_events(words)

    def take(self, proxy: Any, n: int | None = None, raise_: BaseException | None = None) -> list:
        """Iterate with a for loop: n items then break (None: all); raise_ from the loop body."""
        if self.mode == "sync":
            out = []
            for item in proxy:
                out.append(item)
                if raise_ is not None:
                    raise raise_
                if n is not None and len(out) == n:
                    break
            return out

        async def go() -> list:
            out = []
            async for item in proxy:
                out.append(item)
                if raise_ is not None:
                    raise raise_
                if n is not None and len(out) == n:
                    break
            return out

        return self.run(go())  # type: ignore[no-any-return]

    def next(self, proxy: Any) -> Any:
        return next(proxy) if self.mode == "sync" else self.run(proxy.__anext__())

    def close(self, proxy: Any) -> None:
        if self.mode == "sync":
            proxy.close()
        else:
            self.run(proxy.close())

    def within(self, proxy: Any, n: int, raise_: BaseException | None = None) -> None:
        """``with proxy:`` read n items, optionally raise inside the block."""
        if self.mode == "sync":
            with proxy as s:
                for _ in range(n):
                    next(s)
                if raise_ is not None:
                    raise raise_
            return

        async def go() -> None:
            async with proxy as s:
                for _ in range(n):
                    await s.__anext__()
                if raise_ is not None:
                    raise raise_

        self.run(go())

    def shutdown(self) -> None:
        if self.loop is not None:
            for client in self.clients:
                self.run(client.close())
            self.run(self.loop.shutdown_asyncgens())
            self.loop.close()
        else:
            for client in self.clients:
                client.close()


@pytest.fixture(params=["openai-sync", "openai-async", "anthropic-sync", "anthropic-async"])
def llm(request: pytest.FixtureRequest) -> Iterator[Llm]:
    """Each SDK, sync then async."""
    provider, mode = request.param.split("-")
    sdk = Llm(provider, mode)
    yield sdk
    sdk.shutdown()


def test_proxy_keeps_the_sdk_type_and_response(llm: Llm) -> None:
    """isinstance and .response still work on the proxy."""
    body = Body(llm.events(["a", "b"]))
    proxy = llm.open(body, Hooks())
    sdk = openai if llm.provider == "openai" else anthropic
    assert isinstance(proxy, sdk.Stream if llm.mode == "sync" else sdk.AsyncStream)
    assert proxy.response.status_code == 200
    llm.take(proxy)


def test_exhausted_stream_ends_completed_once(llm: Llm) -> None:
    """Reading to the end yields every chunk, first included, and one on_end(completed)."""
    hooks = Hooks()
    events = llm.events(["a", "b", "c"])
    proxy = llm.open(Body(events), hooks)
    items = llm.take(proxy)
    expected = len(events) - (1 if llm.provider == "openai" else 0)  # [DONE] is no chunk
    assert len(items) == expected
    assert hooks.chunks == items
    assert [e[0] for e in hooks.ends] == [OUTCOME_COMPLETED]
    assert hooks.ends[0][2].chunks == expected
    assert proxy.state is StreamState.COMPLETED
    llm.close(proxy)
    assert len(hooks.ends) == 1


@pytest.mark.parametrize("ending", ["break", "close", "with", "with-error", "consumer-error"])
def test_early_endings_end_once(llm: Llm, ending: str) -> None:
    """break, close(), with exit, an exception in a with block or a loop: one on_end each."""
    hooks = Hooks()
    body = Body(llm.events(["a", "b", "c", "d"]))
    proxy = llm.open(body, hooks)
    boom = KeyError("consumer bug")
    if ending == "break":
        llm.take(proxy, 2)
        if llm.loop is not None:  # the loop's finalizer closes the dropped async iteration
            llm.run(asyncio.sleep(0))
        assert [e[0] for e in hooks.ends] == [OUTCOME_CLOSED]  # at once, before any close()
    elif ending == "close":
        llm.take(proxy, 2)
        llm.close(proxy)
    elif ending == "with":
        llm.within(proxy, 2)
    elif ending == "with-error":
        with pytest.raises(KeyError):
            llm.within(proxy, 2, boom)
    else:
        with pytest.raises(KeyError):
            llm.take(proxy, raise_=boom)
    llm.close(proxy)  # a later close() changes nothing
    del proxy
    assert len(hooks.ends) == 1
    outcome, error, _ = hooks.ends[0]
    if ending == "with-error":
        assert (outcome, error) == (OUTCOME_CONSUMER_ERROR, boom)
    else:
        assert (outcome, error) == (OUTCOME_CLOSED, None)
    assert body.closed >= 1


def test_abandoned_stream_ends_once_on_collection(llm: Llm) -> None:
    """A stream read halfway then dropped ends as abandoned when collected."""
    hooks = Hooks()
    proxy = llm.open(Body(llm.events(["a", "b", "c"])), hooks)
    llm.next(proxy)
    del proxy
    assert [e[0] for e in hooks.ends] == [OUTCOME_ABANDONED]


def test_mid_stream_error_is_converted_and_keeps_partial_state(llm: Llm) -> None:
    """A connection dropped after the first chunk raises the converted error; on_end has it."""
    hooks = Hooks()
    proxy = llm.open(Body(llm.events(["a", "b", "c", "d"]), fail_after=3), hooks)
    with pytest.raises(Converted):
        llm.take(proxy)
    assert len(hooks.ends) == 1
    outcome, error, metrics = hooks.ends[0]
    assert outcome == OUTCOME_FAILED
    assert isinstance(error, Converted)
    assert metrics.chunks == 3
    assert proxy.state is StreamState.FAILED


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_hidden_chunk_is_not_delivered(mode: str) -> None:
    """on_chunk returning False hides the chunk (openai's usage-only chunk) but still sees it."""
    llm = Llm("openai", mode)
    hooks = Hooks(hide_usage=True)
    proxy = llm.open(Body(openai_events(["a", "b"])), hooks)
    items = llm.take(proxy)
    llm.shutdown()
    assert all(item.choices for item in items)
    assert len(hooks.chunks) == len(items) + 1
    assert hooks.ends[0][2].chunks == len(items)  # the hidden chunk is no chunk


def test_pause_reads_nothing_until_resume(llm: Llm) -> None:
    """A paused caller waits and the connection is not read; paused time leaves the figures."""
    clock = FakeClock()
    hooks = Hooks()
    body = Body(llm.events(["a", "b", "c"]))
    proxy = llm.open(body, hooks, clock=clock, started_at=0.0)
    assert llm.next(proxy)  # the first chunk, already read
    proxy.pause()
    sent = body.sent
    box: list[Any] = []
    if llm.mode == "sync":
        reader = threading.Thread(target=lambda: box.append(next(proxy)), daemon=True)
        reader.start()
        cond = proxy._self_monitored._shared.cond
        for _ in range(100_000):
            if cond._waiters:
                break
            threading.Event().wait(0.0001)
        assert cond._waiters, "the reader never waited"
    else:
        task = llm.loop.create_task(proxy.__anext__())
        for _ in range(10):
            llm.run(asyncio.sleep(0))
        assert not task.done()
    clock.advance(50.0)
    assert body.sent == sent
    assert proxy.state is StreamState.PAUSED
    proxy.resume()
    if llm.mode == "sync":
        reader.join(10)
        assert box
    else:
        box.append(llm.run(task))
    assert body.sent == sent + 1
    llm.take(proxy)
    assert proxy.metrics.paused == 50.0
    assert proxy.metrics.elapsed == 0.0
    assert hooks.states == [
        ("idle", "streaming"),
        ("streaming", "paused"),
        ("paused", "streaming"),
        ("streaming", "completed"),
    ]


def test_time_to_first_chunk_from_the_logical_start(llm: Llm) -> None:
    """started_at and first_at give the time to first chunk, not when the caller read it."""
    clock = FakeClock()
    clock.advance(10.0)
    t0 = clock.monotonic()
    proxy = llm.open(Body(llm.events(["a"])), Hooks(), clock=clock, started_at=t0, first_at=t0 + 2)
    clock.advance(30.0)
    llm.take(proxy)
    assert proxy.metrics.time_to_first_chunk == 2.0


def test_sdk_helpers_work_over_the_proxy(llm: Llm) -> None:
    """The SDKs' own stream managers accumulate the final message through the proxy."""
    hooks = Hooks()
    proxy = llm.open(Body(llm.events(["Hel", "lo"])), hooks)
    sync = llm.mode == "sync"
    if llm.provider == "openai":
        cls: Any = ChatCompletionStreamManager if sync else AsyncChatCompletionStreamManager
        extra = {"response_format": openai.omit, "input_tools": openai.omit}
        final = "get_final_completion"
    else:
        cls = MessageStreamManager if sync else AsyncMessageStreamManager
        extra = {"output_format": anthropic.NOT_GIVEN}
        final = "get_final_message"
    if sync:
        with cls(lambda: proxy, **extra) as helper:
            result = getattr(helper, final)()
    else:

        async def given() -> Any:
            return proxy

        async def go() -> Any:
            async with cls(given(), **extra) as helper:
                return await getattr(helper, final)()

        result = llm.run(go())
    if llm.provider == "openai":
        assert result.choices[0].message.content == "Hello"
    else:
        assert result.content[0].text == "Hello"
    assert [e[0] for e in hooks.ends] == [OUTCOME_COMPLETED]


def test_manager_exit_before_the_end_ends_once(llm: Llm) -> None:
    """Leaving an SDK stream manager's block early ends the stream at once (outcome closed)."""
    hooks = Hooks()
    proxy = llm.open(Body(llm.events(["a", "b", "c", "d"])), hooks)
    sync = llm.mode == "sync"
    if llm.provider == "openai":
        cls: Any = ChatCompletionStreamManager if sync else AsyncChatCompletionStreamManager
        extra = {"response_format": openai.omit, "input_tools": openai.omit}
    else:
        cls = MessageStreamManager if sync else AsyncMessageStreamManager
        extra = {"output_format": anthropic.NOT_GIVEN}
    if sync:
        with cls(lambda: proxy, **extra) as helper:
            next(helper)
    else:

        async def given() -> Any:
            return proxy

        async def go() -> Any:
            async with cls(given(), **extra) as helper:
                await helper.__anext__()
            return helper

        helper = llm.run(go())
    assert [e[0] for e in hooks.ends] == [OUTCOME_CLOSED]
    assert proxy.state is StreamState.CANCELLED


@pytest.mark.parametrize("ending", ["exhausted", "disconnect", "close", "abandoned"])
def test_endings_over_a_real_socket(llm_sdk: Any, llm_server: LLMServer, ending: str) -> None:
    """Against the local server: every ending, both SDKs, sync and async: one on_end each."""
    mode = "async" if llm_sdk.is_async else "sync"
    for provider in ("openai", "anthropic"):
        llm = Llm(provider, mode, llm_server)
        hooks = Hooks()
        text = "one two three four five"
        llm_server.script(
            disconnect(after=3, text=text) if ending == "disconnect" else ok(text=text)
        )
        proxy = llm.open(None, hooks)
        if ending == "exhausted":
            assert llm.take(proxy)
        elif ending == "disconnect":
            with pytest.raises(Converted):
                llm.take(proxy)
        else:
            llm.next(proxy)
            if ending == "close":
                llm.close(proxy)
        del proxy
        llm.shutdown()
        expected = {
            "exhausted": OUTCOME_COMPLETED,
            "disconnect": OUTCOME_FAILED,
            "close": OUTCOME_CLOSED,
            "abandoned": OUTCOME_ABANDONED,
        }[ending]
        assert [e[0] for e in hooks.ends] == [expected], provider
        metrics = hooks.ends[0][2]
        assert metrics.chunks == len(hooks.chunks) >= 1, provider
        assert metrics.time_to_first_chunk is not None
        assert metrics.time_to_first_chunk >= 0


def test_read_ahead_keeps_the_order(llm: Llm) -> None:
    """With a read-ahead buffer the first chunk still comes first and every chunk once."""
    hooks = Hooks()
    events = llm.events(["a", "b", "c", "d", "e"])
    proxy = llm.open(Body(events), hooks, buffer=2)
    items = llm.take(proxy)
    assert items == hooks.chunks
    assert len(items) == len(events) - (1 if llm.provider == "openai" else 0)
    assert [e[0] for e in hooks.ends] == [OUTCOME_COMPLETED]
