"""The lane: a request sent with no pipeline, no attempt and no description at all.

When nothing records, the caller's context is empty (no suppression, no LLM marker, no
trace context to pass on), no deadline is set and the host's breaker is closed, a request's
first attempt is the client's own call, unchanged: a client wrapper asks :func:`lane` for
the host's :class:`~.hosts.Fast` and a breaker permit, sends, and on a response that is no
failure only counts the success in the breaker (``_closed_success``). Anything else (no
lane, an error, a failed response) takes the general path (:meth:`HttpRunner.send`), which
decides exactly as always; a first attempt already made is handed to it (``resume``).

The checks read the API's module state directly: each Python-level call saved is ~1k
instructions, and the lane exists to cost a few of them per request.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context

from otel_resilience.circuit_breaker._core import CLOSED
from otel_resilience.deadline import _DEADLINE

if TYPE_CHECKING:
    from otel_resilience_instrumentation._http.hosts import Fast
    from otel_resilience_instrumentation._http.runner import HttpRunner

__all__ = ["First", "lane"]


def _context_reader() -> Any:
    """``otel_context.get_current`` without its two Python frames when the API keeps the
    context in a ContextVar (its default runtime context), else the function itself."""
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    if type(runtime).__name__ == "ContextVarsRuntimeContext" and isinstance(var, ContextVar):
        return var.get
    return otel_context.get_current  # pragma: no cover - another runtime context


_current = _context_reader()
_deadline = _DEADLINE.get


def lane(runner: HttpRunner[Any], origin: tuple[str, int | None, str]) -> tuple[Fast, int] | None:
    """The host's :class:`Fast` and a closed-state permit when the request to ``origin``
    (host, port or ``None``, scheme: the runner's origin key) may go on the lane, else
    ``None``. A host not planned yet (its first request) has no lane."""
    if _current() or _deadline() is not None or runner._telemetry.records():
        return None
    host = runner._origins.get(origin)
    if host is None:
        return None
    fast = host.fast
    if fast is None:
        return None
    breaker = fast.breaker
    if breaker is None:
        return fast, 0
    if breaker._link is not None or breaker._slow_limit is not None:
        return None  # a fleet-shared breaker counts through on_success; timed calls too
    state, epoch = breaker._core.snapshot
    if state is CLOSED:
        return fast, epoch
    return None


class First:
    """The outcome of a first attempt sent without the pipeline, handed to it as its first
    attempt's (see :class:`Fast`)."""

    __slots__ = ("error", "pending", "response")

    def __init__(self) -> None:
        self.pending = True
        self.response: Any = None
        self.error: Exception | None = None

    def take(self) -> Any:
        """The response, or raise the error; once."""
        self.pending = False
        if self.error is not None:
            raise self.error
        return self.response
