"""Telemetry for stamina's retries: ``ResilienceStaminaInstrumentor``.

stamina has a public hook API: ``stamina.instrumentation.set_on_retry_hooks`` installs the
callables it runs each time it schedules a retry, for every retrying function, decorated
before or after. ``instrument()`` appends one hook to the hooks in place (stamina's defaults,
or the user's); ``uninstrument()`` removes it again, leaving the others as they are.
stamina has no hook for giving up, so only retries are recorded.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_resilience import semconv
from otel_resilience_instrumentation._recorder import RetryRecorder

__all__ = ["ResilienceStaminaInstrumentor"]


class _RetryHook:
    """A stamina ``RetryHook``: one ``resilience.retry`` per scheduled retry."""

    __slots__ = ("_recorder",)

    def __init__(self, recorder: RetryRecorder) -> None:
        self._recorder = recorder

    def __call__(self, details: Any) -> None:
        # stamina names the callable module.qualname itself, as we do for tenacity and backoff.
        try:
            name, attempt = str(details.name), int(details.retry_num)
            delay, cause = float(details.wait_for), details.caused_by
        except Exception:  # a stamina whose details changed shape: record nothing
            return
        self._recorder.retry(name, attempt, delay, cause)

    def __repr__(self) -> str:
        return "<otel-resilience stamina retry hook>"


class ResilienceStaminaInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records each stamina retry as ``resilience.retry`` through stamina's retry hooks.

    ``instrument(tracer_provider=..., meter_provider=..., logger_provider=...,
    classifier=...)``.
    """

    _hook: _RetryHook | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """``set_on_retry_hooks`` appeared in stamina 23.2."""
        return ("stamina >= 23.2",)

    def _instrument(self, **kwargs: Any) -> None:
        from stamina import instrumentation

        hook = _RetryHook(RetryRecorder(semconv.STRATEGY_STAMINA, kwargs))
        instrumentation.set_on_retry_hooks((*instrumentation.get_on_retry_hooks(), hook))
        self._hook = hook

    def _uninstrument(self, **kwargs: Any) -> None:
        from stamina import instrumentation

        hook, self._hook = self._hook, None
        current = instrumentation.get_on_retry_hooks()
        if any(h is hook for h in current):  # hooks set since then stay as the user set them
            instrumentation.set_on_retry_hooks(tuple(h for h in current if h is not hook))
