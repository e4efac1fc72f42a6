"""Fixtures that start real telemetry backends on 127.0.0.1 and run app scenarios against them.

Backends: Phoenix (OTLP traces, REST queries) from the venv ``scripts/e2e.sh`` builds under
``.e2e/``, the Debian ``prometheus`` binary, and ``oteltest``'s in-process OTLP sink. Every server
gets a free loopback port, runs in its own session, and is stopped by PID in a ``finally``; when
``E2E_PID_DIR`` is set each PID is also written there so ``scripts/e2e.sh`` can reap leftovers.

Without ``-m e2e`` the tests here are skipped. When a backend is missing they are skipped too,
unless ``E2E_REQUIRE=1`` (set by ``scripts/e2e.sh``) turns that into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # e2e_support, whatever the import mode

from e2e_support import (
    REPO,
    SCENARIOS,
    STARTUP_TIMES,
    Server,
    clean_env,
    free_port,
    http_get,
    missing,
    parse_tagged,
    poll,
)

PHOENIX_LAUNCHER = REPO / "scripts" / "e2e" / "phoenix_launcher.py"
PROMETHEUS_TEMPLATE = REPO / "scripts" / "e2e" / "prometheus.yml.tmpl"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report how long each backend took to become ready (and other measured waits)."""
    if STARTUP_TIMES:
        timings = ", ".join(f"{name} {secs:.1f}s" for name, secs in STARTUP_TIMES)
        terminalreporter.write_line(f"e2e backend start-up: {timings}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip e2e tests unless the run selected them with ``-m e2e``."""
    if "e2e" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="end-to-end test: run with `make e2e` (pytest -m e2e)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def e2e_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide scratch directory for logs, databases and configs."""
    return tmp_path_factory.mktemp("e2e")


# --- Phoenix -----------------------------------------------------------------------------------


@dataclass
class Phoenix:
    """A running Phoenix: OTLP/HTTP and REST on ``http_port``, OTLP/gRPC on ``grpc_port``."""

    server: Server
    http_port: int
    grpc_port: int
    startup_s: float

    @property
    def base_url(self) -> str:
        """Root URL of the UI, REST API and OTLP/HTTP receiver."""
        return f"http://127.0.0.1:{self.http_port}"

    def spans(self, project: str = "default", **params: str | int) -> list[dict[str, Any]]:
        """Query ``/v1/projects/{project}/spans`` with ``params``; all pages."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = dict(params)
            if cursor:
                query["cursor"] = cursor
            url = f"{self.base_url}/v1/projects/{project}/spans?{urllib.parse.urlencode(query)}"
            status, body = http_get(url)
            if status == 404:  # the project appears with its first span
                return out
            assert status == 200, f"{url} -> {status}: {body[:500]!r}"
            doc = json.loads(body)
            out.extend(doc.get("data", []))
            cursor = doc.get("next_cursor")
            if not cursor:
                return out


@pytest.fixture(scope="session")
def phoenix(e2e_tmp: Path) -> Iterator[Phoenix]:
    """Phoenix started through the loopback launcher; stopped by PID at the end of the session."""
    python = os.environ.get("E2E_PHOENIX_PYTHON") or str(REPO / ".e2e/phoenix-venv/bin/python")
    if not Path(python).exists():
        missing(f"Phoenix venv python {python} (run scripts/e2e.sh)")
    http_port, grpc_port = free_port(), free_port()
    while grpc_port == http_port:
        grpc_port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="phoenix-", dir=e2e_tmp))
    env = clean_env(
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(http_port),
        PHOENIX_GRPC_PORT=str(grpc_port),
        PHOENIX_WORKING_DIR=str(workdir),
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
        PHOENIX_LOG_MIGRATIONS="false",
    )
    for leak in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):  # Phoenix runs in its own venv
        env.pop(leak, None)
    server = Server("phoenix", [python, str(PHOENIX_LAUNCHER)], env, e2e_tmp / "phoenix.log")
    try:

        def healthy() -> bool:
            if not server.alive():
                pytest.fail(f"Phoenix exited early:\n{server.tail()}")
            return http_get(f"http://127.0.0.1:{http_port}/healthz", timeout=2)[0] == 200

        poll("Phoenix /healthz", healthy, deadline_s=120, interval_s=0.25)
        startup = time.monotonic() - server.started
        STARTUP_TIMES.append(("phoenix", startup))
        yield Phoenix(server, http_port, grpc_port, startup)
    finally:
        server.stop()


# --- Prometheus --------------------------------------------------------------------------------


@dataclass
class Prometheus:
    """A running Prometheus scraping one target."""

    server: Server
    port: int
    startup_s: float

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant PromQL query; the ``data.result`` vector."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": promql}
        )
        status, body = http_get(url)
        assert status == 200, f"{promql} -> {status}: {body[:500]!r}"
        doc = json.loads(body)
        assert doc["status"] == "success", doc
        return list(doc["data"]["result"])


@pytest.fixture
def start_prometheus(e2e_tmp: Path) -> Iterator[Callable[[int], Prometheus]]:
    """Factory: a Prometheus scraping ``127.0.0.1:<target_port>/metrics`` every second."""
    binary = os.environ.get("E2E_PROMETHEUS_BIN") or shutil.which("prometheus")
    if not binary:
        missing("the `prometheus` binary (apt-get install prometheus)")
    started: list[Server] = []

    def start(target_port: int) -> Prometheus:
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix="prometheus-", dir=e2e_tmp))
        config = workdir / "prometheus.yml"
        config.write_text(
            PROMETHEUS_TEMPLATE.read_text().replace("@TARGET@", f"127.0.0.1:{target_port}")
        )
        argv = [
            str(binary),
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        server = Server("prometheus", argv, clean_env(), workdir / "prometheus.log")
        started.append(server)

        def ready() -> bool:
            if not server.alive():
                pytest.fail(f"prometheus exited early:\n{server.tail()}")
            return http_get(f"http://127.0.0.1:{port}/-/ready", timeout=2)[0] == 200

        poll("Prometheus /-/ready", ready, deadline_s=60)
        startup = time.monotonic() - server.started
        STARTUP_TIMES.append(("prometheus", startup))
        return Prometheus(server, port, startup)

    try:
        yield start
    finally:
        for server in started:
            server.stop()


# --- oteltest's in-process OTLP sink -----------------------------------------------------------


@dataclass
class Sink:
    """An OTLP receiver in this process; decoded requests accumulate in ``telemetry``."""

    protocol: str
    port: int
    telemetry: Any
    stop: Callable[[], None] = field(repr=False)

    @property
    def endpoint(self) -> str:
        """Base endpoint for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        return f"http://127.0.0.1:{self.port}"


class _LoopbackGrpcServer:
    """Wraps a ``grpc.server`` so wildcard listen addresses become 127.0.0.1."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self.bound_port: int | None = None

    def add_insecure_port(self, address: str) -> int:
        port = address.rsplit(":", 1)[1]
        self.bound_port = int(self._server.add_insecure_port(f"127.0.0.1:{port}"))
        return self.bound_port

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


@pytest.fixture
def otlp_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Sink]]:
    """Factory: ``otlp_sink("grpc" | "http")`` starts an oteltest sink bound to 127.0.0.1."""
    try:
        import grpc
        import oteltest.sink as sink_mod
        from oteltest.sink.handler import AccumulatingHandler
    except ImportError as exc:
        missing(f"oteltest ({exc})")
    import logging
    from http.server import HTTPServer

    stops: list[Callable[[], None]] = []
    logger = logging.getLogger("e2e.sink")

    def start(protocol: str) -> Sink:
        handler = AccumulatingHandler()
        if protocol == "grpc":
            wrappers: list[_LoopbackGrpcServer] = []
            real_server = grpc.server

            def loopback_server(*args: Any, **kwargs: Any) -> _LoopbackGrpcServer:
                wrapper = _LoopbackGrpcServer(real_server(*args, **kwargs))
                wrappers.append(wrapper)
                return wrapper

            with monkeypatch.context() as m:
                m.setattr(sink_mod.grpc, "server", loopback_server)
                sink = sink_mod.GrpcSink(handler, logger, port=0)
            sink.start()
            port = wrappers[0].bound_port
            assert port, "the gRPC sink did not bind"
        elif protocol == "http":
            servers: list[HTTPServer] = []
            bound = threading.Event()

            class LoopbackHTTPServer(HTTPServer):
                def __init__(self, address: tuple[str, int], handler_cls: Any) -> None:
                    super().__init__(("127.0.0.1", address[1]), handler_cls)
                    servers.append(self)
                    bound.set()

            monkeypatch.setattr(sink_mod, "HTTPServer", LoopbackHTTPServer)
            sink = sink_mod.HttpSink(handler, logger, port=0)
            sink.start()
            if not bound.wait(10):
                pytest.fail("the HTTP sink did not bind")
            port = servers[0].server_address[1]
        else:
            raise ValueError(protocol)
        stops.append(sink.stop)
        return Sink(protocol, int(port), handler.telemetry, sink.stop)

    try:
        yield start
    finally:
        for stop in stops:
            stop()


# --- Running the app side ----------------------------------------------------------------------


@dataclass
class AppRun:
    """What one scenario subprocess printed and how it ended."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    result: dict[str, Any] | None

    def check(self) -> dict[str, Any]:
        """The ``E2E-RESULT`` payload; fails with the output when the run did not succeed."""
        output = f"--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"
        assert self.returncode == 0, f"exit {self.returncode}\n{output}"
        assert self.result is not None, f"no E2E-RESULT line\n{output}"
        return self.result


@pytest.fixture
def run_id() -> str:
    """A short id that keeps this test's pipelines and breakers apart in shared backends."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def run_app() -> Callable[..., AppRun]:
    """Run ``scripts/e2e/app_scenarios.py`` (or any argv) with OTEL env; bounded by ``timeout``."""

    def run(
        args: list[str], env: dict[str, str], timeout: float = 120, argv: list[str] | None = None
    ) -> AppRun:
        cmd = argv if argv is not None else [sys.executable, str(SCENARIOS), *args]
        start = time.monotonic()
        proc = subprocess.run(
            cmd,
            env=clean_env(**env),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        wall = time.monotonic() - start
        return AppRun(
            proc.returncode,
            proc.stdout,
            proc.stderr,
            wall,
            parse_tagged(proc.stdout, "E2E-RESULT"),
        )

    return run
