"""ErrorTracker's global hooks chain to the previous ones and restore them; logging crumbs."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import Any

import pytest

from otel_resilience import ErrorTracker


def _raise(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_sys_and_threading_hooks_chain_and_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed hooks track the error and call the previous hooks; uninstall restores them."""
    seen: list[str] = []

    def previous_sys(kind: Any, exc: BaseException, tb: Any) -> None:
        seen.append(f"sys {exc}")

    def previous_thread(args: Any) -> None:
        seen.append(f"thread {args.exc_value}")

    monkeypatch.setattr(sys, "excepthook", previous_sys)
    monkeypatch.setattr(threading, "excepthook", previous_thread)
    tracker = ErrorTracker()
    tracker.install_hooks(logging_level=None)
    assert sys.excepthook is not previous_sys
    exc = _raise(RuntimeError("main"))
    sys.excepthook(type(exc), exc, exc.__traceback__)
    worker = threading.Thread(target=lambda: _fail("worker"))
    worker.start()
    worker.join()
    with pytest.raises(RuntimeError, match="already installed"):
        tracker.install_hooks()
    tracker.uninstall_hooks()
    assert sys.excepthook is previous_sys
    assert threading.excepthook is previous_thread
    assert seen == ["sys main", "thread worker"]
    assert sorted(g["type"] for g in tracker.groups()) == ["LookupError", "RuntimeError"]


def _fail(message: str) -> None:
    raise LookupError(message)


def test_hook_chained_after_ours_survives_uninstall(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hook installed after ours stays in place on uninstall; ours only passes through."""
    monkeypatch.setattr(sys, "excepthook", lambda *a: None)
    tracker = ErrorTracker()
    tracker.install_hooks(logging_level=None)
    ours = sys.excepthook
    calls: list[str] = []

    def later(kind: Any, exc: BaseException, tb: Any) -> None:
        calls.append("later")
        ours(kind, exc, tb)

    sys.excepthook = later
    tracker.uninstall_hooks()
    assert sys.excepthook is later
    exc = _raise(ValueError("after"))
    sys.excepthook(type(exc), exc, exc.__traceback__)
    assert calls == ["later"]
    assert tracker.groups() == []


def test_asyncio_loop_handler_chains_and_restores() -> None:
    """The running loop's exception handler tracks task errors, calls the previous handler,
    and is put back on uninstall."""
    tracker = ErrorTracker()
    seen: list[str] = []

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda lp, ctx: seen.append(str(ctx.get("exception"))))
        previous = loop.get_exception_handler()
        tracker.install_hooks(logging_level=None)
        loop.call_exception_handler({"message": "task died", "exception": _raise(OSError("io"))})
        tracker.uninstall_hooks()
        return previous is loop.get_exception_handler()

    assert asyncio.run(main()) is True
    assert seen == ["io"]
    assert [g["type"] for g in tracker.groups()] == ["OSError"]


def test_logging_records_become_breadcrumbs() -> None:
    """With hooks installed, stdlib log records at or above the level become breadcrumbs."""
    tracker = ErrorTracker()
    log = logging.getLogger("tests.tracking.crumbs")
    log.setLevel(logging.DEBUG)
    tracker.install_hooks(logging_level=logging.INFO)
    try:
        log.debug("too low")
        log.warning("cache miss for %s", "cart")
    finally:
        tracker.uninstall_hooks()
    log.warning("after uninstall")
    crumbs = tracker.breadcrumbs()
    assert [(c.category, c.level, c.message) for c in crumbs] == [
        ("log", "warning", "cache miss for cart")
    ]
    assert crumbs[0].data == {"logger": "tests.tracking.crumbs"}
