"""aiohttp's own re-send of an idempotent request after a dropped connection: refused inside
the attempts we manage (``_aiohttp_resend``), kept everywhere else, and the session's
``_retry_connection`` flag left as it was by ``uninstrument()``."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import aiohttp
import pytest
from aiohttp_support import CLIENT_TIMEOUT, run
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from otel_resilience_instrumentation import _aiohttp_resend
from servers import Reply

_MISSING = object()


def _paths(server: Any) -> list[str]:
    return [r.path for r in server.received]


def test_other_tasks_on_the_session_keep_aiohttps_resend(instrument, server):
    """While task A is inside a managed attempt, task B's pass-through request on the same
    session reads the flag on (its drop is re-sent by aiohttp itself) and A, reading it while
    B is in flight, reads it off: the flag is per task."""
    instrument("aiohttp")
    b_in, a_read, b_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    seen: list[tuple[str, bool]] = []

    async def on_start(session: Any, _ctx: Any, params: Any) -> None:
        # Each hook runs in its request's task, just before _request reads the flag.
        if params.url.path == "/b":
            b_in.set()
            await a_read.wait()
            seen.append(("b", session._retry_connection))
        else:
            await b_in.wait()
            seen.append(("a", session._retry_connection))
            a_read.set()
            await b_done.wait()  # A sends after B's two sends

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_start)
    server.script(Reply(drop=True))  # B's first send; then 200 for B's re-send and for A

    async def go() -> list[int]:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT, trace_configs=[config]) as s:

            async def a() -> int:
                async with s.get(f"{server.url}/a") as response:
                    return response.status

            async def b() -> int:
                try:
                    with suppress_http_instrumentation():
                        async with s.get(f"{server.url}/b") as response:
                            return response.status
                finally:
                    b_done.set()

            return list(await asyncio.gather(a(), b()))

    assert run(go) == [200, 200]
    assert seen == [("a", False), ("b", True)]
    assert _paths(server) == ["/b", "/b", "/a"]


def test_a_request_made_inside_an_attempt_keeps_aiohttps_resend(instrument, server):
    """A TraceConfig hook's own request, made inside a managed attempt (so passed through,
    suppressed), is re-sent by aiohttp after a drop as it would be uninstrumented: the hook
    runs once and the managed request needs one attempt."""
    instrument("aiohttp")
    nested: list[int] = []
    hooked: list[str] = []

    async def on_start(session: Any, _ctx: Any, params: Any) -> None:
        hooked.append(params.url.path)
        if params.url.path == "/a":
            async with session.get(f"{server.url}/b") as response:
                nested.append(response.status)

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_start)
    server.script(Reply(drop=True))  # the hook's first send

    async def go() -> int:
        async with (
            aiohttp.ClientSession(timeout=CLIENT_TIMEOUT, trace_configs=[config]) as s,
            s.get(f"{server.url}/a") as response,
        ):
            return response.status

    assert run(go) == 200
    assert nested == [200]
    assert hooked == ["/a", "/b"]
    assert _paths(server) == ["/b", "/b", "/a"]


def test_uninstrument_leaves_each_sessions_flag_as_it_was(instrument):
    """Sessions made before and during instrumentation, one switched off by its owner, read
    their own ``_retry_connection`` outside attempts and keep it after ``uninstrument()``, and
    the class holds what it held before."""
    before = aiohttp.ClientSession.__dict__.get("_retry_connection", _MISSING)

    async def go() -> list[Any]:
        old = aiohttp.ClientSession()
        instrumentor = instrument("aiohttp")
        assert aiohttp.ClientSession.__dict__.get("_retry_connection", _MISSING) is not before
        new, off = aiohttp.ClientSession(), aiohttp.ClientSession()
        off._retry_connection = False  # what aiohttp's own test client does
        sessions = [old, new, off]
        during = [s._retry_connection for s in sessions]
        instrumentor.uninstrument()
        after = [s.__dict__["_retry_connection"] for s in sessions]
        after += [s._retry_connection for s in sessions]
        for session in sessions:
            await session.close()
        return [during, after]

    assert run(go) == [[True, True, False], [True, True, False] * 2]
    assert aiohttp.ClientSession.__dict__.get("_retry_connection", _MISSING) is before


def test_a_session_switched_off_by_its_owner_is_not_resent(instrument, server):
    """A session whose owner turned aiohttp's re-send off keeps it off for requests passed
    straight through (the descriptor stores what it is given)."""
    instrument("aiohttp")
    server.default = Reply(drop=True)

    async def go() -> None:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
            session._retry_connection = False
            with suppress_http_instrumentation():
                async with session.get(server.url):
                    pass

    with pytest.raises(aiohttp.ServerDisconnectedError):
        run(go)
    assert server.count == 1


def test_the_flag_is_put_only_where_request_reads_it():
    """install() puts the property on a session class whose _request (through any wrapper)
    reads _retry_connection, and leaves one whose _request does not untouched."""

    class Reads:
        async def _request(self) -> bool:
            return bool(self._retry_connection)  # type: ignore[attr-defined]

    class Ignores:
        async def _request(self) -> bool:
            return True

    @functools.wraps(Reads._request)
    async def wrapper(self: Any) -> bool:
        return await Reads._request(self)

    Wrapped = type("Wrapped", (), {"_request": wrapper})
    assert _aiohttp_resend.install(Ignores) is False
    assert "_retry_connection" not in Ignores.__dict__
    for cls in (Reads, Wrapped):
        assert _aiohttp_resend.install(cls) is True
        session = cls()
        session._retry_connection = True
        token = _aiohttp_resend.ATTEMPT.set(True)
        try:
            assert session._retry_connection is False
        finally:
            _aiohttp_resend.ATTEMPT.reset(token)
        assert session._retry_connection is True
        _aiohttp_resend.uninstall(cls)
        assert "_retry_connection" not in cls.__dict__
        assert session._retry_connection is True
