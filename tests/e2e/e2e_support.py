"""Helpers shared by the end-to-end tests and their fixtures (no fixtures live here)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scripts" / "e2e" / "app_scenarios.py"

#: Measured waits (backend start-up, first scrape), printed in the terminal summary.
STARTUP_TIMES: list[tuple[str, float]] = []


def missing(what: str) -> None:
    """Skip, or fail when the run requires every backend (``E2E_REQUIRE=1``)."""
    if os.environ.get("E2E_REQUIRE") == "1":
        pytest.fail(f"e2e backend unavailable: {what}")
    pytest.skip(f"e2e backend unavailable: {what}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET ``url``; return status and body (errors too, with their status)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def poll(what: str, fn: Callable[[], Any], deadline_s: float, interval_s: float = 0.2) -> Any:
    """Call ``fn`` until it returns something truthy or ``deadline_s`` passes (then fail)."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while True:
        try:
            last = fn()
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= end:
            pytest.fail(f"timed out after {deadline_s:.0f}s waiting for {what}; last: {last!r}")
        # Polling a backend with a deadline: wait on an event that never fires, not a sleep.
        threading.Event().wait(interval_s)


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any ``OTEL_*`` variable, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


class Server:
    """A child server process in its own session, stopped (with its children) by PID."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started = time.monotonic()
        pid_dir = os.environ.get("E2E_PID_DIR")
        self._pid_file = Path(pid_dir) / f"{name}.{self.proc.pid}" if pid_dir else None
        if self._pid_file is not None:
            self._pid_file.write_text(str(self.proc.pid))

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def tail(self, chars: int = 3000) -> str:
        """The end of the server's log, for failure messages."""
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after 15 s."""
        try:
            if self.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
            else:
                # The leader is gone; anything left in its group is still ours to end.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
        finally:
            self._log_file.close()
            if self._pid_file is not None:
                self._pid_file.unlink(missing_ok=True)


def parse_tagged(text: str, tag: str) -> dict[str, Any] | None:
    """The JSON payload of the last ``TAG {json}`` line in ``text``."""
    found = None
    for line in text.splitlines():
        if line.startswith(tag + " "):
            found = json.loads(line[len(tag) + 1 :])
    return found


class ServingApp:
    """A scenario process that keeps serving until told to stop on stdin (or its own deadline).

    Its stdout is read on a thread; :meth:`wait_for` returns the first ``TAG {json}`` payload.
    """

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, str(SCENARIOS), *args],
            env=env,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.stderr = ""
        self._new_line = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._new_line:
                self.lines.append(line.rstrip("\n"))
                self._new_line.notify_all()
        with self._new_line:
            self._new_line.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def output(self) -> str:
        """Everything printed so far, for failure messages."""
        return "\n".join(self.lines) + "\n--- stderr\n" + self.stderr[-4000:]

    def wait_for(self, tag: str, deadline_s: float) -> dict[str, Any]:
        """The payload of the first ``TAG`` line; fails if the process exits or time runs out."""
        end = time.monotonic() + deadline_s
        with self._new_line:
            while True:
                found = parse_tagged("\n".join(self.lines), tag)
                if found is not None:
                    return found
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._readers[0].is_alive()):
                    pytest.fail(
                        f"no {tag} line from the app (exit {self.proc.poll()}):\n{self.output()}"
                    )
                self._new_line.wait(min(left, 0.5))

    def stop(self, timeout: float = 30) -> dict[str, Any]:
        """Tell the app to shut down via stdin; return its ``E2E-RESULT`` payload."""
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            self.proc.stdin.close()
        self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        assert self.proc.returncode == 0, self.output()
        return self.wait_for("E2E-RESULT", deadline_s=1)

    def kill(self) -> None:
        """End the app's process group if it is still running (cleanup path)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


# --- OTLP protobuf payloads (as received by oteltest's sink) ------------------------------------


def any_value(value: Any) -> Any:
    """A Python value from an OTLP ``AnyValue`` message."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return kv(value.kvlist_value.values)
    return getattr(value, kind)


def kv(attributes: Any) -> dict[str, Any]:
    """A dict from a repeated OTLP ``KeyValue`` field."""
    return {a.key: any_value(a.value) for a in attributes}


def _otlp_items(requests: Any, signal: str, items: str) -> list[tuple[dict[str, Any], Any, Any]]:
    """Flatten OTLP export requests (resource -> scope -> ``items``) of one ``signal``."""
    out = []
    for req in list(requests):
        for res in getattr(req.pbreq, f"resource_{signal}"):
            for scoped in getattr(res, f"scope_{signal}"):
                attrs = kv(res.resource.attributes)
                out.extend((attrs, scoped.scope, item) for item in getattr(scoped, items))
    return out


def otlp_spans(telemetry: Any) -> list[tuple[dict[str, Any], Any, Any]]:
    """Every received span as ``(resource attributes, scope, span)``."""
    return _otlp_items(telemetry.trace_requests, "spans", "spans")


def otlp_metrics(telemetry: Any) -> list[tuple[dict[str, Any], Any, Any]]:
    """Every received metric as ``(resource attributes, scope, metric)``, oldest first."""
    return _otlp_items(telemetry.metric_requests, "metrics", "metrics")


def otlp_logs(telemetry: Any) -> list[tuple[dict[str, Any], Any, Any]]:
    """Every received log record as ``(resource attributes, scope, record)``."""
    return _otlp_items(telemetry.log_requests, "logs", "log_records")
