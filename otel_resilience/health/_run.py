"""Run one check, bounded by its timeout, and turn whatever it did into an :class:`Outcome`.

A sync check cannot be interrupted: :func:`run_check_bounded` runs it in a daemon thread and
stops waiting after ``timeout`` (a result later than that counts as a timeout failure), so a
hanging check never stalls ``run_once()`` or the background runner; while it still hangs, its
next runs fail at once instead of piling up threads. An async check is cancelled by the
clock's ``timeout()``; in :meth:`HealthRegistry.arun_once` a sync check runs in a daemon thread
of its own (not the loop's executor) so the loop never blocks.
Nothing a check does (raise, hang past its bound, return nonsense) escapes from here.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._util import error_type
from otel_resilience.classify import ErrorClassifier
from otel_resilience.health._model import HealthResult, HealthStatus
from otel_resilience.health._state import Outcome

__all__ = ["arun_check", "run_check", "run_check_bounded"]

_log = logging.getLogger(__name__)

_TIMEOUT = {"type": "TimeoutError", "category": "timeout", "severity": "medium"}
_NOT_AWAITED = {"type": "_OTHER", "category": "unknown", "severity": "medium"}


def _error(exc: BaseException, classifier: ErrorClassifier) -> dict[str, str]:
    try:
        info = classifier.classify(exc)
        category, severity = info.category.value, info.severity.value
    except Exception:  # a broken classifier must not break the check run
        category, severity = "unknown", "medium"
    return {"type": error_type(exc), "category": category, "severity": severity}


#: Characters of a check's message kept (it is shown on the endpoints and in reports).
_MESSAGE_MAX = 512


def _interpret(value: Any, duration: float, timeout: float) -> Outcome:
    if duration > timeout:
        return Outcome(HealthStatus.UNHEALTHY, duration, "timed out", None, dict(_TIMEOUT))
    try:
        if isinstance(value, HealthResult):
            message = str(value.message)[:_MESSAGE_MAX]
            return Outcome(value.status, duration, message, dict(value.details))
        return Outcome(HealthStatus.HEALTHY if value else HealthStatus.UNHEALTHY, duration)
    except Exception as exc:  # junk (a __bool__ raising, details not a mapping): a failure
        error = {"type": error_type(exc), "category": "unknown", "severity": "medium"}
        return Outcome(HealthStatus.UNHEALTHY, duration, "invalid check result", None, error)


def run_check(
    fn: Callable[[], Any], clock: Clock, timeout: float, classifier: ErrorClassifier
) -> Outcome:
    """Run a sync check in this thread."""
    started = clock.monotonic()
    try:
        value = fn()
        if inspect.isawaitable(value):  # an async check run synchronously proves nothing
            close = getattr(value, "close", None)
            if callable(close):
                close()
            return Outcome(
                HealthStatus.UNHEALTHY,
                clock.monotonic() - started,
                "async check: use arun_once() or an asyncio runner",
                None,
                dict(_NOT_AWAITED),
            )
    except Exception as exc:
        duration = clock.monotonic() - started
        return Outcome(HealthStatus.UNHEALTHY, duration, "", None, _error(exc, classifier))
    return _interpret(value, clock.monotonic() - started, timeout)


def run_check_bounded(
    fn: Callable[[], Any],
    clock: Clock,
    timeout: float,
    classifier: ErrorClassifier,
    busy: threading.Lock,
) -> Outcome:
    """Run a sync check in a daemon thread, waiting at most ``timeout`` real seconds for it.

    ``busy`` is the check's own lock: held while a run is in flight (even an abandoned one).
    """
    if not busy.acquire(blocking=False):
        return Outcome(
            HealthStatus.UNHEALTHY, 0.0, "previous run still hanging", None, dict(_TIMEOUT)
        )
    box: list[Outcome] = []

    def work() -> None:
        try:
            box.append(run_check(fn, clock, timeout, classifier))
        finally:
            busy.release()

    context = contextvars.copy_context()  # the check sees the caller's context (trace, ...)
    thread = threading.Thread(
        target=context.run, args=(work,), name="otel-resilience-health-check", daemon=True
    )
    thread.start()
    thread.join(timeout)
    if box:
        return box[0]
    return Outcome(HealthStatus.UNHEALTHY, timeout, "timed out", None, dict(_TIMEOUT))


async def _in_thread(fn: Callable[[], Any]) -> Any:
    """``fn()`` in a daemon thread of its own, not the loop's executor: a check hanging there
    must not hold up ``asyncio.run``'s exit (it joins the executor) nor take its workers."""
    import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():  # cancelled at the timeout: nobody waits any more
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def work() -> None:
        try:
            outcome: tuple[bool, Any] = (True, fn())
        except BaseException as exc:  # handed to the awaiting task, which classifies it
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # a closed loop abandoned the run long ago
            loop.call_soon_threadsafe(settle, *outcome)

    context = contextvars.copy_context()
    threading.Thread(
        target=context.run, args=(work,), name="otel-resilience-health-check", daemon=True
    ).start()
    return await future


def _releasing(fn: Callable[[], Any], busy: threading.Lock) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return fn()
        finally:
            busy.release()

    return run


async def arun_check(
    fn: Callable[[], Any],
    is_async: bool,
    clock: Clock,
    timeout: float,
    classifier: ErrorClassifier,
    busy: threading.Lock | None = None,
) -> Outcome:
    """Await an async check (or a sync one in a worker thread), cancelled after ``timeout``.

    ``busy``: the sync check's lock; while an abandoned run still hangs in its worker, the
    check fails at once rather than taking another of the loop's executor threads.
    """

    if not is_async and busy is not None:
        if not busy.acquire(blocking=False):
            return Outcome(
                HealthStatus.UNHEALTHY, 0.0, "previous run still hanging", None, dict(_TIMEOUT)
            )
        fn = _releasing(fn, busy)
    limit = getattr(clock, "timeout", None) or SYSTEM_CLOCK.timeout
    started = clock.monotonic()
    try:
        async with limit(timeout):
            value = fn() if is_async else await _in_thread(fn)
            if inspect.isawaitable(value):
                value = await value
    except TimeoutError:
        duration = clock.monotonic() - started
        return Outcome(HealthStatus.UNHEALTHY, duration, "timed out", None, dict(_TIMEOUT))
    except Exception as exc:
        duration = clock.monotonic() - started
        return Outcome(HealthStatus.UNHEALTHY, duration, "", None, _error(exc, classifier))
    return _interpret(value, clock.monotonic() - started, timeout)
