"""Response bodies through the aiohttp instrumentor: resp.content streams unchanged, the
attempt's span ends with the body, connections are released on every path."""

from __future__ import annotations

import asyncio
import gc

import aiohttp
import pytest
from aiohttp_support import CLIENT_TIMEOUT, run
from httpx_support import client_spans
from opentelemetry.trace import StatusCode
from otel_resilience_instrumentation.policy import HttpPolicy
from servers import Reply

from otel_resilience import semconv

#: Larger than aiohttp buffers before pausing the socket: the body cannot arrive with the
#: headers, so it is still on the wire when the response is handed out.
BIG = b"x" * (2 * 1024 * 1024)


def test_streamed_body_is_read_through_content_and_ends_the_span(instrument, server, otel_capture):
    """A 503 is retried; the 200's span stays open while the caller holds the unread body,
    resp.content streams it in chunks, and the span ends once it has been read."""
    instrument("aiohttp")
    server.script(503)
    server.default = Reply(200, body=BIG)

    async def go() -> tuple[list[int], int]:
        async with (
            aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session,
            session.get(server.url) as response,
        ):
            before = [
                s.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] for s in client_spans(otel_capture)
            ]
            size = 0
            async for chunk in response.content.iter_chunked(65536):
                size += len(chunk)
            return before, size

    before, size = run(go)
    assert before == [503]
    assert size == len(BIG)
    assert server.count == 2
    second = client_spans(otel_capture)[1]
    assert second.status.status_code is StatusCode.UNSET
    assert semconv.ERROR_TYPE not in second.attributes


def test_span_ends_when_released_unread(instrument, server, otel_capture):
    """A body released without being read ends the attempt's span, not in error."""
    instrument("aiohttp")
    server.default = Reply(200, body=BIG)

    async def go() -> int:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
            response = await session.get(server.url)
            assert client_spans(otel_capture) == []
            response.release()
            return response.status

    assert run(go) == 200
    (span,) = client_spans(otel_capture)
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.ERROR_TYPE not in span.attributes


def test_body_breaking_midway_is_not_retried_and_ends_the_span_in_error(
    instrument, server, otel_capture
):
    """A 200 whose body breaks halfway, after it was handed out: the caller gets aiohttp's
    ClientPayloadError, nothing is re-sent, and the span ends with error.type."""
    instrument("aiohttp")
    server.script(Reply(200, body=b"x" * 1000, truncate=True))

    async def go() -> None:
        async with (
            aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session,
            session.get(server.url) as response,
        ):
            await response.read()

    with pytest.raises(aiohttp.ClientPayloadError):
        run(go)
    assert server.count == 1
    (span,) = client_spans(otel_capture)
    assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 200
    assert span.attributes[semconv.ERROR_TYPE].endswith("ClientPayloadError")
    assert span.status.status_code is StatusCode.ERROR


def test_small_pool_survives_many_retried_requests(instrument, server, otel_capture):
    """limit=2: 1,000 requests, each a 503 (dropped by the retry) then a 200 read or released
    unread, all succeed, so no response leaks its connection (a leak would exhaust the pool
    and time out), nor is left to aiohttp's garbage-collection rescue (which reports an
    "Unclosed response" in debug mode). The breaker is off: half the attempts fail, which
    would rightly open it."""
    instrument("aiohttp", policies={"*": HttpPolicy(breaker=False)})
    body = b"y" * 100_000
    dropped = b"e" * 1_048_576  # more than aiohttp buffers: still on the wire when dropped
    unclosed: list[str] = []

    async def go() -> list[int]:
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.set_exception_handler(lambda _loop, context: unclosed.append(context["message"]))
        statuses = []
        connector = aiohttp.TCPConnector(limit=2)
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT, connector=connector) as session:
            for i in range(1000):
                server.script(Reply(503, body=dropped))
                async with session.get(server.url) as response:
                    if i % 2:
                        assert len(await response.read()) == len(body)
                    statuses.append(response.status)
        gc.collect()
        return statuses

    server.default = Reply(200, body=body)
    assert run(go) == [200] * 1000
    assert server.count == 2000
    assert unclosed == []
    assert len(client_spans(otel_capture)) == 2000
