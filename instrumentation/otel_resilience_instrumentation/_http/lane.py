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

import functools
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate

from otel_resilience import _fastctx, deadline
from otel_resilience._telemetry import _FAST_GLOBALS
from otel_resilience.circuit_breaker._core import CLOSED
from otel_resilience.deadline import _DEADLINE
from otel_resilience_instrumentation._http.types import Attempt

_trace_state: Any
_metrics_state: Any
if _FAST_GLOBALS:  # the API modules holding the global providers (see HttpTelemetry.records)
    import opentelemetry.metrics._internal as _metrics_state
    import opentelemetry.trace as _trace_state
else:  # pragma: no cover - an API without them: never the same, so records() decides
    _trace_state = _metrics_state = SimpleNamespace(
        _TRACER_PROVIDER=object(), _METER_PROVIDER=object()
    )

if TYPE_CHECKING:
    from otel_resilience_instrumentation._http.hosts import Fast, Host
    from otel_resilience_instrumentation._http.policy import HttpPolicy
    from otel_resilience_instrumentation._http.runner import HttpRunner, _Call

__all__ = ["First", "lane"]


_current = _fastctx.current
_attach = _fastctx.attach
_reset = _fastctx.reset
_deadline = _DEADLINE.get


def lane(runner: HttpRunner[Any], host: Host | None) -> tuple[Fast, int] | None:
    """The :class:`Fast` of the request's ``host`` (as the runner planned it before; ``None``:
    not yet) and a closed-state permit when the request may go on the lane, else ``None``."""
    if host is None:
        return None
    if _current() or _deadline() is not None:
        return None
    telemetry = runner._telemetry
    key = telemetry._key  # records(), inline while the global providers stay the same
    if key[0] is _trace_state._TRACER_PROVIDER and key[1] is _metrics_state._METER_PROVIDER:
        if telemetry._records:
            return None
    elif telemetry.records():
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

    def __init__(self, response: Any = None, error: Exception | None = None) -> None:
        self.pending = True
        self.response = response
        self.error = error

    def take(self) -> Any:
        """The response, or raise the error; once."""
        self.pending = False
        if self.error is not None:
            raise self.error
        return self.response


def _bare(call: _Call, policy: HttpPolicy, current: otel_context.Context | None = None) -> Attempt:
    """The next attempt when nothing records: no span, but whatever trace context the caller
    has (``current``, else read now) is still passed on, and the timeout is still capped at
    the deadline."""
    call.n += 1
    remaining = deadline.remaining() if policy.cap_timeout_to_deadline else None
    headers: dict[str, str] = {}
    if current is None:
        current = _current()
    if current:
        propagate.inject(headers, context=current)
    return _new_attempt((call.n, headers, remaining))


#: ``Attempt(n, headers, timeout)`` without the named tuple's Python-level ``__new__``.
_new_attempt: Callable[[tuple[int, Mapping[str, str], float | None]], Attempt] = functools.partial(
    tuple.__new__, Attempt
)
