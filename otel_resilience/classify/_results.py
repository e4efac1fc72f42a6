"""Which returned values are failures by default: error responses of known HTTP clients."""

from __future__ import annotations

from types import CoroutineType

from ._model import ErrorCategory
from ._tables import STATUS_NOT_RETRYABLE, category_for_status

__all__ = ["FAILURE_STATUSES", "is_http_failure", "plain_types"]

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
#: Types seen and known not to be responses: the runners' hot path tests membership here.
plain_types: set[type] = set()


def _is_response_type(cls: type) -> bool:
    found = any(
        (klass.__module__.partition(".")[0], klass.__qualname__) in _RESPONSE_TYPES
        for klass in cls.__mro__
    )
    if len(_known) >= 1024:  # bounded: classes made on the fly must not grow it forever
        _known.clear()
        plain_types.clear()
    _known[cls] = found
    if not found and cls is not CoroutineType:  # call() must still see (and refuse) coroutines
        plain_types.add(cls)
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
