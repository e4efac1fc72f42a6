"""Lost telemetry: the drop tally, one log line per export outage, and state reset after fork."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from otel_resilience import semconv

__all__ = ["DropCounter", "ExportFailureLog", "reset_in_child"]

_log = logging.getLogger("otel_resilience_exporters")
_R = TypeVar("_R")


class _ForkSafe(Protocol):
    def reset_after_fork(self) -> None: ...


# A forked child inherits counters and queue admissions while the SDK empties its queues in the
# child, and a lock another thread held at fork time stays held for ever: registered objects
# start again from zero, with fresh locks.
_in_child: weakref.WeakSet[Any] = weakref.WeakSet()


def reset_in_child(item: _ForkSafe) -> None:
    """Call ``item.reset_after_fork()`` in every child forked from now on (while it lives)."""
    _in_child.add(item)


def _reset_after_fork() -> None:
    for item in list(_in_child):
        item.reset_after_fork()


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_reset_after_fork)


class DropCounter:
    """Thread-safe tally of lost telemetry, reported as the ``resilience.telemetry.dropped`` metric.

    The metric is an observable counter read from this tally at collection time: with the
    collector down every span may be dropped, and a synchronous counter add per drop (several
    microseconds in the SDK) would make an outage slow the application down. Counting is a dict
    increment under a lock, kept before a meter is bound and after the provider shuts down, so
    :meth:`snapshot` always has the full count. A forked child starts from zero.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._bound = False
        reset_in_child(self)

    def reset_after_fork(self) -> None:
        """In a forked child: a fresh lock and no drops (they were the parent's)."""
        self._lock = threading.Lock()
        self._counts = {}

    def bind(self, meter: Meter) -> None:
        """Report the tally through an observable counter on ``meter`` (once)."""
        with self._lock:
            if self._bound:
                return
            self._bound = True
        meter.create_observable_counter(
            semconv.METRIC_TELEMETRY_DROPPED,
            callbacks=[self._observe],
            unit="{item}",
            description="Spans, log records and metric points lost before reaching a backend.",
        )

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        for (signal, reason), n in self.snapshot().items():
            yield Observation(n, {semconv.TELEMETRY_SIGNAL: signal, semconv.ERROR_TYPE: reason})

    def add(self, signal: str, reason: str, n: int = 1) -> None:
        """Count ``n`` items of ``signal`` ("traces", "logs", "metrics") lost for ``reason``."""
        if n <= 0:
            return
        key = (signal, reason)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n

    def snapshot(self) -> dict[tuple[str, str], int]:
        """``{(signal, reason): count}`` so far."""
        with self._lock:
            return dict(self._counts)

    def per_signal(self) -> dict[str, int]:
        """Items lost so far per signal, whatever the reason."""
        out = dict.fromkeys(("traces", "logs", "metrics"), 0)
        for (signal, _reason), n in self.snapshot().items():
            out[signal] = out.get(signal, 0) + n
        return out


# The ExportFailureLog whose export runs on this thread, if any.
_capturing = threading.local()


class _CaptureFilter(logging.Filter):
    """Holds back the exporters' own warnings and errors while a guarded export runs on the
    current thread; records logged anywhere else pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        held: list[str] | None = getattr(_capturing, "held", None)
        if held is None or record.levelno < logging.WARNING:
            return True
        if len(held) < 4:
            held.append(record.getMessage()[:500])
        return False


_FILTER = _CaptureFilter()
_LABELS = {"traces": "spans", "logs": "log records", "metrics": "metric points"}


class ExportFailureLog:
    """One warning per export outage instead of one per failed batch.

    Exporters log every failed batch (the OTLP ones twice: a transient error, then the
    failure). Exports run through :meth:`export` have those records held back: the first
    failure of an outage is logged once, as one line carrying the exporter's first message;
    later failures only count. When every failing signal exports again, or at shutdown if the
    outage lasts, one line sums up what was dropped meanwhile.
    """

    def __init__(self, drops: DropCounter) -> None:
        self._drops = drops
        self._lock = threading.Lock()
        self._failing: set[str] = set()
        self._before: dict[str, int] = {}
        reset_in_child(self)

    def reset_after_fork(self) -> None:
        """In a forked child: no outage known yet."""
        self._lock = threading.Lock()
        self._failing = set()

    @staticmethod
    def watch(exporter: object) -> None:
        """Hold back the log records of ``exporter`` (and of the exporters it wraps)."""
        seen: set[str] = set()
        while exporter is not None:
            for cls in type(exporter).__mro__:
                seen.add(cls.__module__)
            exporter = getattr(exporter, "inner", None)
        for name in seen:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)

    @contextmanager
    def _held(self) -> Iterator[list[str]]:
        outer = getattr(_capturing, "held", None)
        held: list[str] = []
        _capturing.held = held
        try:
            yield held
        finally:
            _capturing.held = outer

    def export(self, signal: str, export: Callable[[], _R], ok: Callable[[_R], bool]) -> _R:
        """Run ``export`` with the exporters' records held back; log the outage's first one."""
        with self._held() as held:
            result = export()
        self._record(signal, ok(result), held)
        return result

    def _record(self, signal: str, success: bool, held: list[str]) -> None:
        with self._lock:
            if success:
                if signal not in self._failing:
                    return
                self._failing.discard(signal)
                if self._failing:
                    return
                before = self._before
            else:
                if self._failing:
                    self._failing.add(signal)
                    return
                self._failing.add(signal)
                self._before = self._drops.per_signal()
                before = {}
        if success:
            _log.warning("telemetry export works again; %s", self._lost_since(before))
            return
        # The OTLP exporters log the cause (connection refused...) and the give-up apart.
        detail = "; ".join(dict.fromkeys(m.rstrip(". ") for m in held[:2])) or "it failed"
        _log.warning(
            "exporting %s failed: %s. Further export failures are not logged; lost telemetry "
            "is counted in %s and summed up when exports recover or at shutdown.",
            _LABELS.get(signal, signal),
            detail,
            semconv.METRIC_TELEMETRY_DROPPED,
        )

    def _lost_since(self, before: dict[str, int]) -> str:
        now = self._drops.per_signal()
        parts = [
            f"{now[s] - before.get(s, 0)} {_LABELS[s]}"
            for s in ("traces", "logs", "metrics")
            if now[s] - before.get(s, 0) > 0
        ]
        return ("lost while it failed: " + ", ".join(parts)) if parts else "nothing was lost"

    def at_shutdown(self) -> None:
        """When an outage is still going on, sum up what it has dropped."""
        with self._lock:
            if not self._failing:
                return
            failing = [s for s in ("traces", "logs", "metrics") if s in self._failing]
            before = self._before
        _log.warning(
            "telemetry export still failing at shutdown (%s); %s",
            ", ".join(_LABELS.get(s, s) for s in failing),
            self._lost_since(before),
        )
