"""Helpers for the resilience-library instrumentor tests (tenacity, backoff, stamina, pybreaker)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import trace

from otel_resilience import semconv
from otel_resilience.testing import OTelCapture


@contextmanager
def instrumented(instrumentor: Any, capture: OTelCapture, **kwargs: Any) -> Iterator[Any]:
    """``instrumentor`` instrumented with ``capture``'s providers, un-instrumented on exit."""
    instrumentor.instrument(**capture.providers, **kwargs)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


class Flaky:
    """A function failing ``failures`` times (with ``error()``), then returning ``value``."""

    def __init__(self, failures: int, error: type[BaseException] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0
        self.value = "ok"

    def step(self) -> str:
        """One call: raise while failures remain, then return the value."""
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"attempt {self.calls} failed")
        return self.value


def events(span: Any, name: str = semconv.SPAN_EVENT_RETRY) -> list[dict[str, Any]]:
    """Attributes of ``span``'s events called ``name``, in order."""
    return [dict(e.attributes) for e in span.events if e.name == name]


def counted(capture: OTelCapture, strategy: str, event: str) -> dict[tuple[Any, ...], int]:
    """``resilience.events`` points of ``strategy``/``event``: (pipeline, reason) -> count."""
    points = capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.STRATEGY: strategy, semconv.EVENT: event}
    )
    return {
        (p.attributes[semconv.PIPELINE_NAME], p.attributes.get(semconv.RETRY_REASON)): p.value
        for p in points
    }


def entry_point_target(name: str) -> str:
    """``module:attr`` of the ``opentelemetry_instrumentor`` entry point ``name``."""
    (found,) = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == name]
    return found.value


def imports_after(module: str) -> set[str]:
    """Top-level modules a fresh interpreter has imported after importing ``module``."""
    code = (
        f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


class BrokenSpan(trace.NonRecordingSpan):
    """A current span that claims to record and raises on every event (a broken exporter)."""

    def __init__(self) -> None:
        super().__init__(trace.INVALID_SPAN_CONTEXT)

    def is_recording(self) -> bool:
        """Claims to record, so the instrumentors try to add their events."""
        return True

    def add_event(self, *args: Any, **kwargs: Any) -> None:
        """Fails, as a broken span processor would."""
        raise RuntimeError("exporter on fire")
