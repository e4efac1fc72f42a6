"""A scripted HTTP server on 127.0.0.1 and one adapter per real HTTP client, for the core's tests.

The server answers a queue of scripted replies, one per request, then its default reply (200
unless told otherwise), and counts the requests it saw. The adapters make one GET through a
pipeline with httpx, httpx2 (sync and async), requests or aiohttp, so a test body runs
unchanged for every client.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import httpx
import httpx2
import requests

from otel_resilience import Pipeline

#: The final status of a streamed GET, and whether each attempt's response was closed.
Streamed = tuple[int, list[bool]]

CLIENT_TIMEOUT = 5.0  # seconds: a broken test fails instead of hanging; never reached normally


@dataclass
class Reply:
    """One answer of the server: status, JSON body and extra headers."""

    status: int = 200
    body: object = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        reply = self.server.next_reply()
        payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(payload)
        except ConnectionError:  # a client that closed a streamed response early: expected
            self.close_connection = True

    do_GET = do_POST = _reply

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


class ScriptedServer(ThreadingHTTPServer):
    """Answers the scripted replies in order, then ``default``; counts requests."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Keep test output quiet: clients hanging up on purpose is not a server error."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self.default = Reply()
        self.requests = 0

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def script(self, *replies: Reply | int) -> None:
        """Forget earlier replies and counts; answer ``replies`` (statuses or Replies) next."""
        with self._lock:
            self._script = deque(r if isinstance(r, Reply) else Reply(r) for r in replies)
            self.default = Reply()
            self.requests = 0

    def always(self, reply: Reply | int) -> None:
        """Forget earlier replies and counts; answer ``reply`` to every request from now on."""
        with self._lock:
            self._script.clear()
            self.default = reply if isinstance(reply, Reply) else Reply(reply)
            self.requests = 0

    def next_reply(self) -> Reply:
        """Count a request and return what to answer it."""
        with self._lock:
            self.requests += 1
            return self._script.popleft() if self._script else self.default


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    """Start a ScriptedServer in a thread; shut it down on exit."""
    httpd = ScriptedServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def status_of(response: Any) -> int:
    """The status of a response of any of the clients (aiohttp calls it ``status``)."""
    status = getattr(response, "status_code", None)
    return int(status if status is not None else response.status)


# -- one GET through a pipeline, per client --------------------------------------------------


def _httpx_like(module: Any) -> Callable[[Pipeline, str], Any]:
    def get(pipeline: Pipeline, url: str) -> Any:
        with module.Client(timeout=CLIENT_TIMEOUT) as client:
            return pipeline.call(client.get, url)

    return get


def _httpx_like_async(module: Any) -> Callable[[Pipeline, str], Any]:
    async def aget(pipeline: Pipeline, url: str) -> Any:
        async with module.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
            return await pipeline.acall(client.get, url)

    return lambda pipeline, url: asyncio.run(aget(pipeline, url))


def _requests_get(pipeline: Pipeline, url: str) -> Any:
    with requests.Session() as session:
        return pipeline.call(session.get, url, timeout=CLIENT_TIMEOUT)


def _aiohttp_get(pipeline: Pipeline, url: str) -> Any:
    async def aget() -> Any:
        timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def fetch(url: str) -> aiohttp.ClientResponse:
                response = await session.get(url)
                await response.read()  # the body, then the connection goes back to the pool
                return response

            return await pipeline.acall(fetch, url)

    return asyncio.run(aget())


#: Client name -> a function making one GET of a URL through a pipeline and returning the
#: response (the async clients run their own event loop per call).
CLIENTS: dict[str, Callable[[Pipeline, str], Any]] = {
    "httpx": _httpx_like(httpx),
    "httpx-async": _httpx_like_async(httpx),
    "httpx2": _httpx_like(httpx2),
    "httpx2-async": _httpx_like_async(httpx2),
    "requests": _requests_get,
    "aiohttp": _aiohttp_get,
}


# -- one streamed GET through a pipeline: which responses were closed behind the caller ------


def _httpx_like_stream(module: Any) -> Callable[[Pipeline, str], Streamed]:
    def get(pipeline: Pipeline, url: str) -> Streamed:
        seen: list[Any] = []
        with module.Client(timeout=CLIENT_TIMEOUT) as client:

            def fetch(url: str) -> Any:
                seen.append(client.send(client.build_request("GET", url), stream=True))
                return seen[-1]

            final = pipeline.call(fetch, url)
            closed = [r.is_closed for r in seen]
            for response in seen:
                response.close()
        return final.status_code, closed

    return get


def _httpx_like_async_stream(module: Any) -> Callable[[Pipeline, str], Streamed]:
    async def aget(pipeline: Pipeline, url: str) -> Streamed:
        seen: list[Any] = []
        async with module.AsyncClient(timeout=CLIENT_TIMEOUT) as client:

            async def fetch(url: str) -> Any:
                seen.append(await client.send(client.build_request("GET", url), stream=True))
                return seen[-1]

            final = await pipeline.acall(fetch, url)
            closed = [r.is_closed for r in seen]
            for response in seen:
                await response.aclose()
        return final.status_code, closed

    return lambda pipeline, url: asyncio.run(aget(pipeline, url))


def _requests_stream(pipeline: Pipeline, url: str) -> Streamed:
    seen: list[requests.Response] = []
    with requests.Session() as session:

        def fetch(url: str) -> requests.Response:
            seen.append(session.get(url, stream=True, timeout=CLIENT_TIMEOUT))
            return seen[-1]

        final = pipeline.call(fetch, url)
        closed = [bool(r.raw.closed) for r in seen]
        for response in seen:
            response.close()
    return final.status_code, closed


def _aiohttp_stream(pipeline: Pipeline, url: str) -> Streamed:
    async def aget() -> Streamed:
        seen: list[aiohttp.ClientResponse] = []
        timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def fetch(url: str) -> aiohttp.ClientResponse:
                seen.append(await session.get(url))  # the body is left unread
                return seen[-1]

            final = await pipeline.acall(fetch, url)
            closed = [r.closed for r in seen]
            for response in seen:
                response.release()
        return final.status, closed

    return asyncio.run(aget())


#: Client name -> a function making one GET with the body left unread (a stream) through a
#: pipeline; it returns the final status and, for every response an attempt got, whether it
#: was already closed when the pipeline returned.
STREAMING_CLIENTS: dict[str, Callable[[Pipeline, str], Streamed]] = {
    "httpx": _httpx_like_stream(httpx),
    "httpx-async": _httpx_like_async_stream(httpx),
    "httpx2": _httpx_like_stream(httpx2),
    "httpx2-async": _httpx_like_async_stream(httpx2),
    "requests": _requests_stream,
    "aiohttp": _aiohttp_stream,
}
