"""Streamed responses through the httpx and httpx2 instrumentors: retried only before the body
is handed out, spans ending with the body, connections released on every path."""

from __future__ import annotations

import asyncio
import importlib
import logging

import pytest
from httpx_support import CLIENT_TIMEOUT, client_spans
from otel_resilience_instrumentation.policy import HttpPolicy
from servers import Reply

LIBS = ["httpx", "httpx2"]


@pytest.mark.parametrize("name", LIBS)
def test_stream_is_retried_before_the_body_is_handed_out(name, instrument, server, otel_capture):
    """client.stream(): a 503 is dropped (its span ends) and retried; the 200's span stays open
    while the caller holds the unread body and ends when the stream is closed."""
    module = importlib.import_module(name)
    instrument(name)
    server.script(503)
    with module.Client(timeout=CLIENT_TIMEOUT) as client:
        with client.stream("GET", server.url) as response:
            assert response.status_code == 200
            assert [
                s.attributes["http.response.status_code"] for s in client_spans(otel_capture)
            ] == [503]
            body = response.read()
        assert body == b"ok"
    assert server.count == 2
    assert len(client_spans(otel_capture)) == 2


@pytest.mark.parametrize("name", LIBS)
def test_async_stream_span_ends_when_closed_unread(name, instrument, server, otel_capture):
    """Async client.stream() closed without reading: the attempt's span still ends."""
    module = importlib.import_module(name)
    instrument(name)

    async def go() -> int:
        async with (
            module.AsyncClient(timeout=CLIENT_TIMEOUT) as client,
            client.stream("GET", server.url) as response,
        ):
            assert client_spans(otel_capture) == []
            return int(response.status_code)

    assert asyncio.run(go()) == 200
    assert len(client_spans(otel_capture)) == 1


@pytest.mark.parametrize("name", LIBS)
def test_small_pool_survives_many_retried_streams(name, instrument, server):
    """max_connections=2: 1,000 streamed requests, each a 503 retried then a 200 read or left
    unread, all succeed (sync and async), so no dropped or closed response leaks its
    connection (a leak would end in PoolTimeout). The breaker is off: half the attempts fail,
    which would rightly open it."""
    module = importlib.import_module(name)
    instrument(name, policies={"*": HttpPolicy(breaker=False)})
    limits = module.Limits(max_connections=2, max_keepalive_connections=2)
    statuses = []
    with module.Client(timeout=CLIENT_TIMEOUT, limits=limits) as client:
        for i in range(500):
            server.script(503)
            with client.stream("GET", server.url) as response:
                if i % 2:
                    response.read()
                statuses.append(response.status_code)

    async def go() -> None:
        async with module.AsyncClient(timeout=CLIENT_TIMEOUT, limits=limits) as client:
            for i in range(500):
                server.script(503)
                async with client.stream("GET", server.url) as response:
                    if i % 2:
                        await response.aread()
                    statuses.append(response.status_code)

    asyncio.run(go())
    assert statuses == [200] * 1000
    assert server.count == 2000


@pytest.mark.parametrize("name", LIBS)
def test_clients_made_before_instrument_subclasses_and_helpers_are_covered(
    name, instrument, server, otel_capture
):
    """A client created before instrument(), an instance of a subclass and the module-level
    get() all retry a 503."""
    module = importlib.import_module(name)

    class MyClient(module.Client):  # type: ignore[misc, name-defined]
        pass

    early = module.Client(timeout=CLIENT_TIMEOUT)
    instrument(name)
    for send in (early.get, MyClient(timeout=CLIENT_TIMEOUT).get, module.get):
        server.script(503)
        assert send(server.url).status_code == 200
    assert server.count == 6
    assert len(client_spans(otel_capture)) == 6
    early.close()


@pytest.mark.parametrize("name", LIBS)
def test_custom_transports_are_covered(name, instrument, otel_capture):
    """A MockTransport (no network at all) goes through the same retries and spans."""
    module = importlib.import_module(name)
    instrument(name)
    seen = []

    def handler(request: object) -> object:
        seen.append(request)
        return module.Response(503 if len(seen) == 1 else 200)

    with module.Client(transport=module.MockTransport(handler)) as client:
        assert client.get("http://mock.test/x").status_code == 200
    assert len(seen) == 2
    assert [s.attributes["server.address"] for s in client_spans(otel_capture)] == ["mock.test"] * 2


@pytest.mark.parametrize("name", LIBS)
def test_instrument_twice_warns_and_changes_nothing(name, instrument, server, caplog):
    """A second instrument() logs a warning and does not wrap twice (one retry, not nine)."""
    module = importlib.import_module(name)
    instrumentor = instrument(name)
    patched = module.Client.__dict__["_send_single_request"]
    with caplog.at_level(logging.WARNING):
        instrumentor.instrument()
    assert "already instrumented" in caplog.text
    assert module.Client.__dict__["_send_single_request"] is patched
    server.default = Reply(503)
    assert module.get(server.url).status_code == 503
    assert server.count == 3


@pytest.mark.parametrize("name", LIBS)
def test_body_breaking_midway_is_not_retried_and_ends_the_span_in_error(
    name, instrument, server, otel_capture
):
    """A 200 whose body breaks halfway, after it was handed to the caller: the caller gets
    the client's error, nothing is re-sent, and the attempt's span ends with error.type."""
    module = importlib.import_module(name)
    instrument(name)
    server.script(Reply(200, body=b"x" * 1000, truncate=True))
    with module.Client(timeout=CLIENT_TIMEOUT) as client, pytest.raises(module.RemoteProtocolError):
        client.get(server.url)
    assert server.count == 1
    (span,) = client_spans(otel_capture)
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["error.type"].endswith("RemoteProtocolError")


@pytest.mark.parametrize("name", LIBS)
def test_our_transport_call_is_suppressed_for_contrib(name, instrument, server):
    """Inside our attempt the client's transport runs under suppress_http_instrumentation (a
    contrib instrumentor there records nothing); outside it, instrumentation is on again."""
    from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled

    module = importlib.import_module(name)
    instrument(name)
    seen = []

    class Spy(module.HTTPTransport):  # type: ignore[misc, name-defined]
        def handle_request(self, request: object) -> object:
            seen.append(is_http_instrumentation_enabled())
            return super().handle_request(request)

    with module.Client(transport=Spy(), timeout=CLIENT_TIMEOUT) as client:
        assert client.get(server.url).status_code == 200
    assert seen == [False]
    assert is_http_instrumentation_enabled()
