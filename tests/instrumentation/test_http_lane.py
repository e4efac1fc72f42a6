"""The lane (``_http.lane``): with nothing recording, a request to a host already planned goes
with no pipeline, no attempt and no description; anything unusual takes the general path.

Every test makes a first request (which plans the host, so the next may take the lane), then
checks what the lane does, or that it stands aside, for each client that has one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import pytest
import requests
from aiohttp_support import CLIENT_TIMEOUT as AIOHTTP_TIMEOUT
from aiohttp_support import status as aiohttp_status
from httpx_support import CLIENT_TIMEOUT, Lib, client_spans
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from otel_resilience_instrumentation._http import HttpRunner
from otel_resilience_instrumentation.policy import HttpPolicy
from servers import Reply
from test_http_telemetry_off import OFF

from otel_resilience import CircuitOpenError, Pipeline, Timeout

#: Client name -> ``request(method, url, **kwargs) -> status``.
Request = Callable[..., int]


def _httpx_like(name: str, is_async: bool) -> Request:
    lib = Lib(name, is_async)
    return lambda method, url, **kw: int(lib.request(method, url, **kw).status_code)


LANES: dict[str, Callable[[], Request]] = {
    "httpx-sync": lambda: _httpx_like("httpx", False),
    "httpx-async": lambda: _httpx_like("httpx", True),
    "httpx2-sync": lambda: _httpx_like("httpx2", False),
    "httpx2-async": lambda: _httpx_like("httpx2", True),
    "requests-sync": lambda: _requests,
    "aiohttp-async": lambda: _aiohttp,
}


def _aiohttp(method: str, url: str, content: bytes | None = None, **kwargs: Any) -> int:
    return aiohttp_status(method, url, data=content, **kwargs)


def _requests(method: str, url: str, content: bytes | None = None, **kwargs: Any) -> int:
    return requests.request(method, url, data=content, timeout=CLIENT_TIMEOUT, **kwargs).status_code


@pytest.fixture(params=sorted(LANES))
def lane_client(request: pytest.FixtureRequest) -> tuple[str, Request]:
    """Each client with a lane: its instrumentor's name and its request function."""
    name = request.param.partition("-")[0]
    return name, LANES[request.param]()


@pytest.fixture
def general(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The runner's general-path entries taken (``send``, ``resume`` and async twins)."""
    seen: list[str] = []
    for name in ("send", "asend", "resume", "aresume"):
        original = getattr(HttpRunner, name)

        def spy(self: Any, *args: Any, _name: str = name, _original: Any = original) -> Any:
            seen.append(_name.removeprefix("a"))
            return _original(self, *args)

        monkeypatch.setattr(HttpRunner, name, spy)
    return seen


@pytest.fixture
def warm(server: Any) -> Callable[[Request], None]:
    """``warm(request)``: one GET that plans the server's host, then forget it was received."""

    def go(request: Request) -> None:
        assert request("GET", server.url) == 200
        server.received.clear()

    return go


def test_a_success_takes_the_lane(lane_client, instrument, server, warm, general, fast_successes):
    """The second request never enters the runner's general path and counts one success."""
    name, request = lane_client
    instrument(name, **OFF)
    warm(request)
    assert request("GET", server.url) == 200
    assert server.count == 1
    assert general == ["send"]  # the warm-up only
    assert len(fast_successes) == 2


def test_lane_successes_count_in_the_breaker(lane_client, instrument, server, warm, fast_successes):
    """Warm-up 200, a lane 200, two 503s: 4 calls at a 0.5 ratio open the breaker (without the
    lane's success, 3 calls stay below minimum_calls=4)."""
    name, request = lane_client
    instrument(name, policies={"*": HttpPolicy(max_attempts=1, minimum_calls=4)}, **OFF)
    warm(request)
    server.script(200, Reply(503), Reply(503))
    assert [request("GET", server.url) for _ in range(3)] == [200, 503, 503]
    with pytest.raises(CircuitOpenError):
        request("GET", server.url)
    assert server.count == 3


def test_a_failed_lane_attempt_is_retried(lane_client, instrument, server, warm, general):
    """503 on the lane: the pipeline takes that outcome as its first attempt's and retries."""
    name, request = lane_client
    instrument(name, **OFF)
    warm(request)
    server.script(Reply(503))
    assert request("GET", server.url) == 200
    assert server.count == 2
    assert general == ["send", "resume"]


def test_an_error_on_the_lane_is_retried(lane_client, instrument, server, warm, general):
    """A connection dropped on the lane is the pipeline's first outcome: retried once."""
    name, request = lane_client
    instrument(name, **OFF)
    warm(request)
    server.script(Reply(drop=True))
    assert request("GET", server.url) == 200
    assert server.count == 2
    assert general == ["send", "resume"]


def test_a_post_without_idempotency_key_is_not_retried(lane_client, instrument, server, warm):
    """A POST's 503 on the lane is returned as is; with an Idempotency-Key it is retried."""
    name, request = lane_client
    instrument(name, **OFF)
    warm(request)
    server.script(Reply(503))
    assert request("POST", server.url, content=b"x") == 503
    assert server.count == 1
    server.script(Reply(503))
    assert request("POST", server.url, content=b"x", headers={"Idempotency-Key": "k"}) == 200
    assert server.count == 3


def test_an_open_breaker_closes_the_lane(lane_client, instrument, server, warm, fake_clock):
    """Open: CircuitOpenError without a request; after the break the probe closes it again."""
    name, request = lane_client
    instrument(name, policies={"*": HttpPolicy(max_attempts=1, minimum_calls=3)}, **OFF)
    warm(request)
    server.default = Reply(503)
    assert [request("GET", server.url) for _ in range(2)] == [503, 503]
    with pytest.raises(CircuitOpenError):
        request("GET", server.url)
    assert server.count == 2
    fake_clock.advance(15.0)
    server.default = Reply(200)
    assert request("GET", server.url) == 200
    assert server.count == 3


def test_suppression_passes_through(lane_client, instrument, server, warm, fast_successes):
    """Under suppress_http_instrumentation the request passes through: no breaker count."""
    name, request = lane_client
    instrument(name, **OFF)
    warm(request)
    with suppress_http_instrumentation():
        assert request("GET", server.url) == 200
    assert server.count == 1
    assert len(fast_successes) == 1  # the warm-up's


def test_the_callers_trace_context_leaves_the_lane(lane_client, instrument, server, warm):
    """A caller's trace context (no SDK) is still sent: such a request takes the general path."""
    name, request = lane_client
    instrument(name, **OFF)
    warm(request)
    parent = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        assert request("GET", server.url) == 200
    finally:
        otel_context.detach(token)
    (received,) = server.received
    assert received.headers["traceparent"].startswith(f"00-{0x1234:032x}-")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_deadline_leaves_the_lane(instrument, server, fake_clock, is_async):
    """Inside Timeout(seconds=2) a warm host's request still has its timeout capped at 2 s."""
    instrument("httpx", **OFF)
    outer = Pipeline("outer", Timeout(seconds=2.0), clock=fake_clock)
    if is_async:

        async def go() -> httpx.Response:
            async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
                await http.get(server.url)
                return await outer.acall(http.get, server.url)

        response = asyncio.run(go())
    else:
        with httpx.Client(timeout=CLIENT_TIMEOUT) as http:
            http.get(server.url)
            response = outer.call(http.get, server.url)
    assert response.request.extensions["timeout"] == dict.fromkeys(
        ("connect", "read", "write", "pool"), 2.0
    )


def test_recording_leaves_the_lane(lane_client, instrument, server, warm, otel_capture):
    """With an SDK recording, a warm host's request still gets its CLIENT span."""
    name, request = lane_client
    instrument(name)
    warm(request)
    assert request("GET", server.url) == 200
    assert len(client_spans(otel_capture)) == 2


def test_aiohttp_raise_for_status_on_the_lane(instrument, server, warm, general):
    """aiohttp: a lane request is sent with raise_for_status=False and the caller's is applied
    to what it returns, as on the general path: a 404 with raise_for_status=True raises."""
    instrument("aiohttp", **OFF)
    warm(_aiohttp)
    server.script(Reply(404))
    with pytest.raises(aiohttp.ClientResponseError) as raised:
        _aiohttp("GET", server.url, raise_for_status=True)
    assert raised.value.status == 404
    assert general == ["send"]  # the warm-up only


def _aiohttp_strict(method: str, url: str) -> int:
    """One request on a session made with ``raise_for_status=True``."""

    async def go() -> int:
        async with (
            aiohttp.ClientSession(timeout=AIOHTTP_TIMEOUT, raise_for_status=True) as session,
            session.request(method, url) as response,
        ):
            return response.status

    return asyncio.run(go())


def test_aiohttp_session_raise_for_status_on_the_lane(instrument, server, warm, general):
    """aiohttp: a session's own raise_for_status=True is held back on the lane too: a 503 is
    retried (the 200 comes back), and a 404 then raises aiohttp's ClientResponseError."""
    instrument("aiohttp", **OFF)
    warm(_aiohttp_strict)
    server.script(Reply(503))
    assert _aiohttp_strict("GET", server.url) == 200
    assert general == ["send", "resume"]
    server.script(Reply(404))
    with pytest.raises(aiohttp.ClientResponseError) as raised:
        _aiohttp_strict("GET", server.url)
    assert raised.value.status == 404
    assert server.count == 3


def test_aiohttp_lane_never_adds_its_own_resend(instrument, server, warm, general):
    """aiohttp: a server that always hangs up sees exactly max_attempts (3) sends from a lane
    request, not aiohttp's re-send on top of each (6)."""
    instrument("aiohttp", **OFF)
    warm(_aiohttp)
    server.default = Reply(drop=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        _aiohttp("GET", server.url)
    assert server.count == 3
    assert general == ["send", "resume"]


def test_aiohttp_lane_with_trace_configs_never_adds_its_own_resend(instrument, server, general):
    """aiohttp: with a TraceConfig on the session (contrib's way; its hook runs before
    _request reads the re-send flag), a server that always hangs up still sees exactly
    max_attempts (3) sends from a lane request."""
    instrument("aiohttp", **OFF)
    config = aiohttp.TraceConfig()

    async def go() -> None:
        async with aiohttp.ClientSession(timeout=AIOHTTP_TIMEOUT, trace_configs=[config]) as s:
            async with s.get(server.url) as response:  # plans the host
                assert response.status == 200
            server.default = Reply(drop=True)
            async with s.get(server.url):
                pass

    with pytest.raises(aiohttp.ServerDisconnectedError):
        asyncio.run(go())
    assert server.count == 1 + 3
    assert general == ["send", "resume"]
