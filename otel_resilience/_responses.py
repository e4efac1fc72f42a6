"""Closing the HTTP responses a strategy drops (a failure it retries), best effort."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from otel_resilience.classify._results import _is_response_type, _known

__all__ = ["aclose_dropped", "close_dropped"]

_log = logging.getLogger(__name__)


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
