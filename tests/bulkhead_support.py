"""Helpers of the bulkhead tests: callers running in their own thread, and a bounded wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from otel_resilience import Pipeline

GUARD = 10.0  # real seconds: only a bound against hangs, never a timing assumption


def until(condition: Callable[[], bool], what: str = "condition") -> None:
    """Wait (bounded by GUARD real seconds) until ``condition()`` holds."""
    end = time.monotonic() + GUARD
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"{what} not reached within {GUARD}s")
        time.sleep(0.0005)


class Caller:
    """One call through ``pipeline`` (by ``run``: sync or async) in its own thread."""

    def __init__(self, run: Any, pipeline: Pipeline, fn: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, args=(run, pipeline, fn), daemon=True)
        self._thread.start()

    def _main(self, run: Any, pipeline: Pipeline, fn: Callable[[], Any]) -> None:
        try:
            self.result = run(pipeline, fn)
        except BaseException as exc:  # handed to the test through join()
            self.error = exc

    def join(self) -> Caller:
        """Wait for the call to end (bounded)."""
        self._thread.join(GUARD)
        assert not self._thread.is_alive(), "caller still running"
        return self


class Gate:
    """A function that blocks until opened: holds a bulkhead permit for as long as needed."""

    def __init__(self, value: Any = "held") -> None:
        self.entered = threading.Event()
        self._open = threading.Event()
        self.value = value

    def __call__(self) -> Any:
        self.entered.set()
        assert self._open.wait(GUARD), "gate never opened"
        return self.value

    def open(self) -> None:
        """Let the blocked call return."""
        self._open.set()
