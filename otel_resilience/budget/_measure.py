"""Reading wall time, CPU time and memory at the start and end of a block (no I/O but /proc)."""

from __future__ import annotations

import os
import sys
import threading
import time
import tracemalloc
from typing import Any

from otel_resilience._clock import Clock

__all__ = ["Measurement", "current_rss", "peak_rss"]

try:
    import resource as _resource
except ImportError:  # pragma: no cover - Windows
    _resource = None  # type: ignore[assignment]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# ru_maxrss is in kilobytes on Linux, in bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


def current_rss() -> int | None:
    """Resident set size of this process now, in bytes (Linux), else ``None``."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def peak_rss() -> int | None:
    """Largest resident set size this process has had, in bytes, else ``None``."""
    if _resource is None:  # pragma: no cover
        return None
    return int(_resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss) * _MAXRSS_UNIT


_tracing_lock = threading.Lock()
_tracing_users = 0  # blocks measuring with tracemalloc; the last one out stops it, if we started


def _trace_start() -> int:
    global _tracing_users
    with _tracing_lock:
        if _tracing_users == 0 and not tracemalloc.is_tracing():
            tracemalloc.start()
            _tracing_users = 1
        elif _tracing_users:
            _tracing_users += 1
        tracemalloc.reset_peak()
        return tracemalloc.get_traced_memory()[0]


def _trace_stop() -> int:
    global _tracing_users
    with _tracing_lock:
        peak = tracemalloc.get_traced_memory()[1]
        if _tracing_users:
            _tracing_users -= 1
            if _tracing_users == 0:
                tracemalloc.stop()
        return peak


class Measurement:
    """Usage of one block: created at its start, :meth:`finish` at its end."""

    __slots__ = ("clock", "cpu0", "memory", "peak0", "rss0", "token", "wall0")

    def __init__(self, clock: Clock, memory: str | None, cpu: bool = True) -> None:
        self.clock = clock
        self.memory = memory
        self.token: Any = None
        self.rss0 = self.peak0 = 0
        if memory == "rss":
            self.rss0 = current_rss() or 0
            self.peak0 = peak_rss() or 0
        elif memory == "tracemalloc":
            self.rss0 = _trace_start()
        # thread_time() is a system call (no vDSO): read only when a limit needs it.
        self.cpu0 = time.thread_time() if cpu else -1.0
        self.wall0 = clock.monotonic()

    def finish(self) -> dict[str, float]:
        """What the block used: ``duration`` (and ``cpu``) seconds, ``memory`` bytes, each if
        measured."""
        used: dict[str, float] = {"duration": self.clock.monotonic() - self.wall0}
        if self.cpu0 >= 0:
            used["cpu"] = time.thread_time() - self.cpu0
        if self.memory == "rss":
            peak, now = peak_rss() or 0, current_rss()
            # A new process peak reached during the block bounds its peak; otherwise the
            # growth still held at the end is what can be known.
            grew = peak - self.rss0 if peak > self.peak0 else 0
            held = now - self.rss0 if now is not None else 0
            used["memory"] = max(grew, held, 0)
        elif self.memory == "tracemalloc":
            used["memory"] = max(_trace_stop() - self.rss0, 0)
        return used
