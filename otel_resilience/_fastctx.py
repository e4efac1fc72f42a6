"""The API's current-context functions without their Python frames, for hot paths.

``opentelemetry.context`` keeps the current context in a ContextVar by default (its
``ContextVarsRuntimeContext``); ``get_current``, ``attach`` and ``detach`` each reach it through
two Python frames. With that runtime, :data:`current`, :data:`attach` and :data:`reset` are the
ContextVar's own methods; with another runtime, the API's functions. A ``reset`` may raise (a
token made in another context): :func:`detach` catches that as the API's ``detach`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context

__all__ = ["attach", "current", "detach", "reset"]


def _context_var() -> ContextVar[otel_context.Context] | None:
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    if type(runtime).__name__ == "ContextVarsRuntimeContext" and isinstance(var, ContextVar):
        return var
    return None  # pragma: no cover - another runtime context


_VAR = _context_var()
current: Callable[[], otel_context.Context]
attach: Callable[[otel_context.Context], Any]
reset: Callable[[Any], Any]
if _VAR is not None:
    current, attach, reset = _VAR.get, _VAR.set, _VAR.reset
else:  # pragma: no cover - another runtime context
    current, attach, reset = otel_context.get_current, otel_context.attach, otel_context.detach


def detach(token: Any) -> None:
    """``otel_context.detach(token)`` in one frame; never raises."""
    try:
        reset(token)
    except Exception:  # fails again there, and the API logs it
        otel_context.detach(token)
