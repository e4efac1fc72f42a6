"""Run one check, bounded by its timeout, and turn whatever it did into an :class:`Outcome`.

A sync check cannot be interrupted: it runs to its end and a result later than ``timeout``
counts as a timeout failure. An async check is cancelled by the clock's ``timeout()``; in
:meth:`HealthRegistry.arun_once` a sync check runs in a worker thread so the loop never blocks.
Nothing a check does (raise, hang past its bound, return nonsense) escapes from here.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._util import error_type
from otel_resilience.classify import ErrorClassifier
from otel_resilience.health._model import HealthResult, HealthStatus
from otel_resilience.health._state import Outcome

__all__ = ["arun_check", "run_check"]

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


def _call(fn: Callable[[], Any]) -> Any:
    return fn()


async def arun_check(
    fn: Callable[[], Any],
    is_async: bool,
    clock: Clock,
    timeout: float,
    classifier: ErrorClassifier,
) -> Outcome:
    """Await an async check (or a sync one in a worker thread), cancelled after ``timeout``."""
    import asyncio

    limit = getattr(clock, "timeout", None) or SYSTEM_CLOCK.timeout
    started = clock.monotonic()
    try:
        async with limit(timeout):
            value = fn() if is_async else await asyncio.to_thread(_call, fn)
            if inspect.isawaitable(value):
                value = await value
    except TimeoutError:
        duration = clock.monotonic() - started
        return Outcome(HealthStatus.UNHEALTHY, duration, "timed out", None, dict(_TIMEOUT))
    except Exception as exc:
        duration = clock.monotonic() - started
        return Outcome(HealthStatus.UNHEALTHY, duration, "", None, _error(exc, classifier))
    return _interpret(value, clock.monotonic() - started, timeout)
