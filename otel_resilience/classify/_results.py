"""Which returned values are failures by default: error responses of known HTTP clients."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from ._model import ErrorCategory
from ._tables import STATUS_NOT_RETRYABLE, category_for_status

__all__ = ["FAILURE_STATUSES", "aclose_dropped", "close_dropped", "is_http_failure"]

_log = logging.getLogger(__name__)

_FAILING_CATEGORIES = frozenset(
    {
        ErrorCategory.TIMEOUT,
        ErrorCategory.RATE_LIMITED,
        ErrorCategory.OVERLOADED,
        ErrorCategory.SERVER_ERROR,
    }
)

#: Statuses a dependency answers when it is unwell (408, 429, 5xx but 501/505, 529...): the
#: retryable codes of the timeout, rate-limited, overloaded and server-error categories. Other
#: 4xx are answers about the request (not found, conflict, bad input), hence results.
FAILURE_STATUSES: frozenset[int] = frozenset(
    status
    for status in range(400, 600)
    if category_for_status(status) in _FAILING_CATEGORIES and status not in STATUS_NOT_RETRYABLE
)

# Response classes of the HTTP clients we know, by (top-level package, class name): nothing
# here imports them.
_RESPONSE_TYPES = frozenset(
    {
        ("httpx", "Response"),
        ("httpx2", "Response"),
        ("requests", "Response"),
        ("aiohttp", "ClientResponse"),
    }
)
_known: dict[type, bool] = {}


def _is_response_type(cls: type) -> bool:
    found = any(
        (klass.__module__.partition(".")[0], klass.__qualname__) in _RESPONSE_TYPES
        for klass in cls.__mro__
    )
    if len(_known) >= 1024:  # bounded: classes made on the fly must not grow it forever
        _known.clear()
    _known[cls] = found
    return found


def is_http_failure(result: object) -> bool:
    """True for a response of httpx, httpx2, requests or aiohttp whose status is in
    :data:`FAILURE_STATUSES`; the default ``is_failure_result`` of every Pipeline."""
    known = _known.get(type(result))
    if known is None:
        known = _is_response_type(type(result))
    if not known:
        return False
    status = getattr(result, "status_code", None)
    if status is None:
        status = getattr(result, "status", None)
    return status in FAILURE_STATUSES


def _close(result: object) -> Any:
    """Close ``result`` if it is a response of a known client; the ``aclose()`` awaitable of
    an httpx async response instead. Never raises."""
    known = _known.get(type(result))
    if not (known or (known is None and _is_response_type(type(result)))):
        return None
    try:
        # aiohttp's release() hands the connection back; the others' close() does just that.
        release = getattr(result, "release", None) or result.close  # type: ignore[attr-defined]
        try:
            release()
        except RuntimeError:  # httpx: an async response closes with aclose()
            aclose = getattr(result, "aclose", None)
            return aclose() if aclose is not None else None
    except Exception:  # a broken response must not break the retry
        _log.debug("otel-resilience: closing a dropped response failed", exc_info=True)
    return None


def close_dropped(result: object) -> None:
    """Close a response of a known client that will never reach the caller (a failure being
    retried): its connection goes back to the pool now, not when the garbage collector gets to
    it (a streamed body left unread holds it until then). Never raises."""
    pending = _close(result)
    if pending is not None:  # an async response in a sync call: nothing here can await it
        with contextlib.suppress(Exception):
            pending.close()


async def aclose_dropped(result: object) -> None:
    """:func:`close_dropped` for async calls: awaits httpx's ``aclose()``. Never raises."""
    pending = _close(result)
    if pending is not None:
        try:
            await pending
        except Exception:
            _log.debug("otel-resilience: closing a dropped response failed", exc_info=True)
