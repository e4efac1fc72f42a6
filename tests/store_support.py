"""A real redis-server for the shared-state tests: started on a free 127.0.0.1 port, without
persistence, stopped by PID; plus a TCP listener that accepts and never answers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
GUARD = 10.0  # real seconds: a bound against hangs, never a timing assumption


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(condition: Callable[[], object], what: str = "condition", guard: float = GUARD) -> None:
    """Wait (bounded by ``guard`` real seconds) until ``condition()`` is truthy."""
    end = time.monotonic() + guard
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"{what} not reached within {guard}s")
        time.sleep(0.005)


class RedisServer:
    """One redis-server process; :meth:`kill` (SIGKILL) and :meth:`start` again on its port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def listen_args(self) -> list[str]:
        """How it listens: plain TCP on its port (the TLS server overrides this)."""
        return ["--port", str(self.port)]

    def start(self) -> RedisServer:
        """Start and wait until it answers PING."""
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                *self.listen_args(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = self.client()

        def ping() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        until(ping, "redis-server answering PING")
        client.close()
        return self

    def kill(self) -> None:
        """SIGKILL by PID (a crash), and reap it."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=GUARD)

    def client(self):  # type: ignore[no-untyped-def]
        """A plain redis-py client of this server (for assertions)."""
        import redis

        options = {"socket_timeout": 2.0, **self.client_args()}
        return redis.Redis(host="127.0.0.1", port=self.port, **options)

    def client_args(self) -> dict[str, object]:
        """Extra redis-py options of :meth:`client` (the TLS server adds its certificates)."""
        return {}

    def commands(self) -> dict[str, int]:
        """``INFO commandstats`` as ``{command: calls}`` (the INFO call itself included)."""
        with self.client() as c:
            stats = c.info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


class SilentListener:
    """Accepts TCP connections on 127.0.0.1 and never answers (a Redis that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Its URL as if it were a Redis."""
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self._stop = True
        self._thread.join(GUARD)
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server for one test, stopped by PID afterwards."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def silent_listener() -> Iterator[SilentListener]:
    """A TCP listener that never answers."""
    listener = SilentListener()
    try:
        yield listener
    finally:
        listener.close()
