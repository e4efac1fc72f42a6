"""Global hooks: uncaught exceptions of the main thread, other threads and an asyncio loop."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._tracker import ErrorTracker

__all__ = ["Hooks"]


class Hooks:
    """The hooks one tracker installed, and the ones they replaced (called after ours)."""

    def __init__(self, tracker: ErrorTracker, loop: Any, logging_level: int | None) -> None:
        self._tracker = tracker
        self._active = True
        self._prev_sys = sys.excepthook
        self._prev_thread = threading.excepthook
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self._loop = loop
        self._prev_loop = loop.get_exception_handler() if loop is not None else None
        if loop is not None:
            loop.set_exception_handler(self._loop_hook)
        self._handler: logging.Handler | None = None
        if logging_level is not None:
            self._handler = tracker.logging_handler
            self._handler.setLevel(logging_level)
            logging.getLogger().addHandler(self._handler)

    def _sys_hook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if self._active:
            self._tracker.capture(exc)
        self._prev_sys(kind, exc, tb)

    def _thread_hook(self, args: Any) -> None:
        if self._active and args.exc_value is not None:
            self._tracker.breadcrumb(
                "uncaught in thread",
                category="thread",
                level="error",
                thread=getattr(args.thread, "name", None),
            )
            self._tracker.capture(args.exc_value)
        self._prev_thread(args)

    def _loop_hook(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if self._active and isinstance(exc, BaseException):
            self._tracker.capture(exc)
        if self._prev_loop is not None:
            self._prev_loop(loop, context)
        else:
            loop.default_exception_handler(context)

    def restore(self) -> None:
        """Put back the previous hooks where ours are still in place; elsewhere (someone
        chained after us) ours stay but only pass through."""
        self._active = False
        if sys.excepthook == self._sys_hook:
            sys.excepthook = self._prev_sys
        if threading.excepthook == self._thread_hook:
            threading.excepthook = self._prev_thread
        loop = self._loop
        if loop is not None and loop.get_exception_handler() == self._loop_hook:
            loop.set_exception_handler(self._prev_loop)
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
