"""Fixtures for the exporters tests: a clean OTEL_* environment and a local OTLP/HTTP endpoint."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from exporters_support import OtlpServer


@pytest.fixture(autouse=True)
def _clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without OTEL_* variables from the machine."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def otlp_server() -> Iterator[Callable[..., OtlpServer]]:
    """Factory: ``otlp_server(status=200, hang=False)`` starts a server, stopped at teardown."""
    started: list[tuple[ThreadingHTTPServer, OtlpServer]] = []

    def start(status: int = 200, hang: bool = False) -> OtlpServer:
        state = OtlpServer(status=status, hang=threading.Event() if hang else None)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                state.requests.append(
                    (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                if state.hang is not None:
                    state.hang.wait(10)
                self.send_response(state.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        state.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append((server, state))
        return state

    yield start
    for server, state in started:
        if state.hang is not None:
            state.hang.set()
        server.shutdown()
        server.server_close()
