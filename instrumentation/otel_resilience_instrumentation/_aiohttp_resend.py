"""aiohttp's own re-send, refused inside the attempts we manage.

``ClientSession._request`` re-sends an idempotent request once, at once, when a pooled
connection drops, if the session's private ``_retry_connection`` flag (read once per call, in
the task that awaits ``_request``) is true. Inside an attempt we manage that second send would
be a send our Retry never planned: no span, no ``traceparent`` of its own, and up to twice
``max_attempts`` sends at the server. So while instrumented ``ClientSession._retry_connection``
is a data descriptor (:class:`_RetryConnection`) that answers ``False`` while the current
task is inside a managed attempt (:data:`ATTEMPT`, a ContextVar: other tasks on the same
session, and requests passed straight through, keep aiohttp's re-send) and the session's own
value otherwise. The value stays in the session's ``__dict__`` under the same name, so
removing the descriptor leaves every session exactly as it was.

A per-request middleware did the same for ~12k instructions a request more (aiohttp builds a
handler chain for it on every call); the descriptor costs one plain function call.
An aiohttp whose ``_request`` does not read the flag keeps its own re-send.
"""

from __future__ import annotations

import inspect
from contextvars import ContextVar
from typing import Any

__all__ = ["ATTEMPT", "install", "uninstall"]

#: True while the current task is inside an attempt we manage.
ATTEMPT: ContextVar[bool] = ContextVar("otel_resilience_aiohttp_attempt", default=False)

_NAME = "_retry_connection"
_MISSING: Any = object()


class _RetryConnection(property):
    """``ClientSession._retry_connection`` while instrumented (see the module's docstring): a
    ``property`` (its C-level ``__get__`` calls one plain function, half the cost of a Python
    ``__get__``)."""

    def __init__(self, before: Any) -> None:
        def get(session: Any) -> Any:
            if _in_attempt():
                return False
            value = session.__dict__.get(_NAME, before)
            if value is _MISSING:
                raise AttributeError(_NAME)
            return value

        def set_(session: Any, value: Any) -> None:
            session.__dict__[_NAME] = value

        def delete(session: Any) -> None:
            try:
                del session.__dict__[_NAME]
            except KeyError:
                raise AttributeError(_NAME) from None

        super().__init__(get, set_, delete, "aiohttp's re-send flag, off in a managed attempt")
        #: The class attribute this one replaced (restored by :func:`uninstall`), if any.
        self.before = before


_in_attempt = ATTEMPT.get


def install(session_class: type) -> bool:
    """Put the descriptor on ``session_class`` when its ``_request`` reads the flag; ``True``
    when installed (or already there)."""
    current = session_class.__dict__.get(_NAME, _MISSING)
    if isinstance(current, _RetryConnection):
        return True
    request: Any = session_class.__dict__.get("_request")
    try:  # through any wrappers (another instrumentation's) to aiohttp's own function
        request = inspect.unwrap(request)
    except ValueError:  # a cycle of __wrapped__
        return False
    code = getattr(request, "__code__", None)
    if code is None or _NAME not in code.co_names:
        return False  # an aiohttp without the flag: its own re-send stays
    setattr(session_class, _NAME, _RetryConnection(current))
    return True


def uninstall(session_class: type) -> None:
    """Remove the descriptor and put back whatever the class held before."""
    current = session_class.__dict__.get(_NAME, _MISSING)
    if not isinstance(current, _RetryConnection):
        return
    delattr(session_class, _NAME)
    if current.before is not _MISSING:
        setattr(session_class, _NAME, current.before)
