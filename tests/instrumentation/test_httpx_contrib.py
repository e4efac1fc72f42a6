"""Ours next to the contrib ``opentelemetry-instrumentation-httpx`` (httpx and httpx2, sync and
async, in either instrument order): one CLIENT span per attempt, and it is ours."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from httpx_support import MODE_IDS, MODES, Lib, client_spans, parent_span_id
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor, HTTPXClientInstrumentor
from otel_resilience_instrumentation.policy import HttpPolicy
from servers import closed_port

from otel_resilience import semconv

CONTRIB = {"httpx": HTTPXClientInstrumentor, "httpx2": HTTPX2ClientInstrumentor}
CONTRIB_SCOPE = "opentelemetry.instrumentation.httpx"
ORDERS = ["ours-then-contrib", "contrib-then-ours"]


@pytest.fixture(params=MODES, ids=MODE_IDS)
def lib(request: pytest.FixtureRequest) -> Lib:
    """httpx or httpx2, sync or async."""
    return Lib(*request.param)


@pytest.fixture
def contrib(lib: Lib, otel_capture: Any) -> Iterator[Callable[[], Any]]:
    """``contrib()`` instruments the contrib instrumentor of ``lib`` with the capture's
    providers; it is un-instrumented at teardown if still active."""
    instrumentor = CONTRIB[lib.name]()

    def start() -> Any:
        instrumentor.instrument(
            tracer_provider=otel_capture.tracer_provider,
            meter_provider=otel_capture.meter_provider,
        )
        return instrumentor

    yield start
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


@pytest.fixture(params=ORDERS)
def both(
    request: pytest.FixtureRequest, lib: Lib, instrument: Any, contrib: Any
) -> Callable[..., tuple[Any, Any]]:
    """``both(**kwargs)``: ours (with ``kwargs``) and contrib, instrumented in the param's order;
    returns (ours, contrib)."""

    def start(**kwargs: Any) -> tuple[Any, Any]:
        if request.param == "ours-then-contrib":
            ours = instrument(lib.name, **kwargs)
            return ours, contrib()
        theirs = contrib()
        return instrument(lib.name, **kwargs), theirs

    return start


def _scopes(capture: Any) -> list[str]:
    return [s.instrumentation_scope.name for s in client_spans(capture)]


def test_retried_request_has_one_ours_client_span_per_attempt(lib, both, server, otel_capture):
    """503 then 200 with both active: two CLIENT spans, both ours (stable names, resend count
    on the second), the server saw our spans as parents, contrib measured nothing."""
    both()
    server.script(503)
    assert lib.request("GET", server.url + "/x").status_code == 200
    assert server.count == 2
    spans = client_spans(otel_capture)
    assert _scopes(otel_capture) == [semconv.HTTP_SCOPE_NAME] * 2
    assert [s.name for s in spans] == ["GET", "GET"]
    assert [s.attributes.get(semconv.HTTP_REQUEST_RESEND_COUNT) for s in spans] == [None, 1]
    assert all(s.attributes[semconv.HTTP_REQUEST_METHOD] == "GET" for s in spans)
    assert not any("http.method" in s.attributes for s in spans)  # contrib's default names
    sent = [parent_span_id(r.headers["traceparent"]) for r in server.received]
    assert sent == [s.context.span_id for s in spans]
    metrics = otel_capture.metrics()
    assert "http.client.duration" not in metrics  # contrib's (old-name) histogram
    points = metrics[semconv.METRIC_HTTP_CLIENT_REQUEST_DURATION]
    assert sum(p.count for p in points) == 2


def test_transport_errors_are_ours_alone(lib, both, otel_capture):
    """Connection refused on every attempt: three CLIENT spans with error.type, all ours."""
    both()
    with pytest.raises(lib.module.ConnectError):
        lib.request("GET", f"http://127.0.0.1:{closed_port()}/")
    assert _scopes(otel_capture) == [semconv.HTTP_SCOPE_NAME] * 3
    counts = [
        s.attributes.get(semconv.HTTP_REQUEST_RESEND_COUNT) for s in client_spans(otel_capture)
    ]
    assert counts == [None, 1, 2]


def test_a_host_we_pass_through_is_left_to_contrib(lib, both, server, otel_capture):
    """For a host whose policy is disabled we stand aside: contrib records its one span."""
    both(policies={"*": HttpPolicy(enabled=False)})
    server.script(503)
    assert lib.request("GET", server.url).status_code == 503
    assert server.count == 1
    assert _scopes(otel_capture) == [CONTRIB_SCOPE]


def test_uninstrumenting_ours_leaves_contrib_working(lib, both, server, otel_capture):
    """After our uninstrument(): our patch is gone (identity restored), contrib's transport
    patch stays and records the one span; nothing is retried."""
    module = lib.module
    before = module.Client.__dict__["_send_single_request"]
    ours, _ = both()
    ours.uninstrument()
    assert module.Client.__dict__["_send_single_request"] is before
    server.script(503)
    assert lib.request("GET", server.url).status_code == 503
    assert server.count == 1
    assert _scopes(otel_capture) == [CONTRIB_SCOPE]


def test_uninstrumenting_contrib_leaves_ours_working(lib, both, server, otel_capture):
    """After contrib's uninstrument(): the transports hold their original methods again, and
    ours still retries and records every attempt."""
    module = lib.module
    before = (
        module.HTTPTransport.__dict__["handle_request"],
        module.AsyncHTTPTransport.__dict__["handle_async_request"],
    )
    _, theirs = both()
    assert module.HTTPTransport.__dict__["handle_request"] is not before[0]
    theirs.uninstrument()
    assert module.HTTPTransport.__dict__["handle_request"] is before[0]
    assert module.AsyncHTTPTransport.__dict__["handle_async_request"] is before[1]
    server.script(503)
    assert lib.request("GET", server.url).status_code == 200
    assert server.count == 2
    assert _scopes(otel_capture) == [semconv.HTTP_SCOPE_NAME] * 2


def test_a_client_instrumented_by_contrib_alone_still_has_only_our_spans(
    lib, instrument, server, otel_capture
):
    """contrib's per-client ``instrument_client`` (no global instrument) defers to us too."""
    instrument(lib.name)
    providers = {
        "tracer_provider": otel_capture.tracer_provider,
        "meter_provider": otel_capture.meter_provider,
    }
    server.script(503)

    async def arequest() -> int:
        async with lib.client() as client:
            CONTRIB[lib.name].instrument_client(client, **providers)
            return int((await client.get(server.url)).status_code)

    if lib.is_async:
        status = asyncio.run(arequest())
    else:
        with lib.client() as client:
            CONTRIB[lib.name].instrument_client(client, **providers)
            status = client.get(server.url).status_code
    assert status == 200
    assert server.count == 2
    assert _scopes(otel_capture) == [semconv.HTTP_SCOPE_NAME] * 2


def test_retried_streams_leak_no_connection_with_both_active(lib, both, server, otel_capture):
    """With both active and a one-connection pool, 10 streamed requests each retried after a
    503 all succeed (a dropped or unreleased response would end in PoolTimeout), with two
    CLIENT spans of ours per request, ended once each body was read."""
    both(policies={"*": HttpPolicy(breaker=False)})
    server.script(*[503, 200] * 10)
    limits = lib.module.Limits(max_connections=1)

    async def astreams() -> list[bytes]:
        bodies = []
        async with lib.client(limits=limits) as client:
            for _ in range(10):
                async with client.stream("GET", server.url) as response:
                    bodies.append(await response.aread())
        return bodies

    if lib.is_async:
        bodies = asyncio.run(astreams())
    else:
        bodies = []
        with lib.client(limits=limits) as client:
            for _ in range(10):
                with client.stream("GET", server.url) as response:
                    bodies.append(response.read())
    assert bodies == [b"ok"] * 10
    assert server.count == 20
    assert _scopes(otel_capture) == [semconv.HTTP_SCOPE_NAME] * 20
    counts = [
        s.attributes.get(semconv.HTTP_REQUEST_RESEND_COUNT) for s in client_spans(otel_capture)
    ]
    assert counts == [None, 1] * 10
