"""A scripted HTTP/1.1 server on 127.0.0.1 for the instrumentation tests.

It answers a queue of scripted replies, one per request, then its default reply, and records
what it received (method, path, headers, body) so tests can assert on the wire: request
counts, each attempt's ``traceparent``, re-sent bodies. A reply may also drop the connection
without answering.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One answer: status, body and headers; ``drop`` closes the connection unanswered."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    #: Announce the body's length but send only half of it, then hang up (a broken stream).
    truncate: bool = False
    #: Real seconds to wait before answering (a slow first byte); keep it short.
    delay: float = 0.0


@dataclass
class Received:
    """One request as the server saw it (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: InstrServer
    protocol_version = "HTTP/1.1"  # keep-alive: pool reuse is part of what tests check

    def _serve(self) -> None:
        body = self._body()
        reply = self.server.record(
            Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        if reply.drop:
            self.close_connection = True
            return
        if reply.delay:
            time.sleep(reply.delay)
        self.send_response(reply.status)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            if reply.truncate:
                self.wfile.write(reply.body[: len(reply.body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(reply.body)
        except ConnectionError:  # a client that closed a streamed response early
            self.close_connection = True

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()  # the blank line after the last chunk
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


class InstrServer(ThreadingHTTPServer):
    """Answers scripted replies in order, then ``default``; records every request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self.default = Reply()
        self.received: list[Received] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up on purpose is not a server error."""

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def count(self) -> int:
        """Requests received so far."""
        with self._lock:
            return len(self.received)

    def script(self, *replies: Reply | int) -> None:
        """Answer ``replies`` (statuses or Replies) next, then the default."""
        with self._lock:
            self._script = deque(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def record(self, request: Received) -> Reply:
        """Record a request and return what to answer it."""
        with self._lock:
            self.received.append(request)
            return self._script.popleft() if self._script else self.default


@contextmanager
def running_server() -> Iterator[InstrServer]:
    """Start an InstrServer in a thread; shut it down on exit."""
    httpd = InstrServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connection refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
