"""``serve()``: the endpoints on a stdlib HTTP server in a daemon thread, for apps without one."""

from __future__ import annotations

import threading
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from otel_resilience.endpoints._adapters import WsgiApp

__all__ = ["ServerHandle", "serve_wsgi"]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow client never keeps the process alive
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged to stderr (a health probe every few seconds is noise)."""


class ServerHandle:
    """A running server: ``url``, ``port``, :meth:`close`; a context manager closing on exit."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        address = server.server_address
        self.host: str = str(address[0])
        self.port: int = int(address[1])

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        """Stop serving and release the port; waits (up to 5 s) for the serving thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ServerHandle({self.url!r})"


def serve_wsgi(app: WsgiApp, host: str, port: int) -> ServerHandle:
    """Bind ``host:port`` now (OSError if taken) and serve ``app`` from a daemon thread."""
    server = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name="otel-resilience-endpoints",
        daemon=True,
    )
    thread.start()
    return ServerHandle(server, thread)
