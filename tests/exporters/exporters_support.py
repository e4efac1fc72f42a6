"""Helpers shared by the exporters tests (a unique module name: tests have no packages)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def run_instrumented(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``script`` under this venv's ``opentelemetry-instrument`` with exactly ``env``."""
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    return subprocess.run(
        [str(instrument), sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class OtlpServer:
    """A stdlib HTTP server on 127.0.0.1 standing in for an OTLP/HTTP collector."""

    status: int = 200
    #: When set, requests wait on this event (at most 10 s) before answering: a hung collector.
    hang: threading.Event | None = None
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
