"""LlmRunner: one logical LLM call through its model's pipeline, then its fallbacks.

Per provider + model a :class:`~otel_resilience.Pipeline` of Retry (rate limits, overload,
server errors, timeouts, connection errors; Retry-After honoured up to ``max_delay``) and a
CircuitBreaker from a bounded registry. Each attempt sends the request once (the SDK's own
retries are off for it: ``send`` sets ``max_retries=0``) under a :class:`ManagedAttempt`
context value, so the HTTP layer traces it without retrying or breaking. The pipelines record
onto the call's GenAI span (``Pipeline._span_source``), never a span of their own.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from opentelemetry import context as otel_context

from otel_resilience import CircuitBreakerRegistry, CircuitOpenError, Pipeline, Retry, semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._registry import BoundedRegistry
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorCategory
from otel_resilience_instrumentation._http.managed import MANAGED_KEY, ManagedAttempt
from otel_resilience_instrumentation._llm.call import Borrowed, LlmCall
from otel_resilience_instrumentation._llm.limits import RateLimits
from otel_resilience_instrumentation._llm.options import LlmOptions
from otel_resilience_instrumentation._llm.providers import Provider
from otel_resilience_instrumentation._llm.request import LlmRequest, Reported, read_raw_body
from otel_resilience_instrumentation._llm.streaming import (
    EMPTY,
    Hooks,
    Started,
    afirst_chunk,
    first_chunk,
    wrapper,
)
from otel_resilience_instrumentation._llm.telemetry import LlmTelemetry

__all__ = ["MAX_MODELS", "RETRY_CATEGORIES", "LlmRunner"]

R = TypeVar("R")
_log = logging.getLogger(__name__)
#: Models remembered per runner (pipeline and breaker); least recently used forgotten beyond.
MAX_MODELS = 1024
#: What a model's Retry retries, and what sends the call on to the next fallback.
RETRY_CATEGORIES = frozenset(
    {
        ErrorCategory.RATE_LIMITED,
        ErrorCategory.OVERLOADED,
        ErrorCategory.SERVER_ERROR,
        ErrorCategory.TIMEOUT,
        ErrorCategory.CONNECTION,
    }
)
#: The span the model pipelines record onto: the current logical call's.
_BORROWED: contextvars.ContextVar[Borrowed | None] = contextvars.ContextVar(
    "otel_resilience_llm_span", default=None
)


def _borrowed() -> Borrowed | None:
    return _BORROWED.get()


def _retryable(exc: BaseException) -> bool:
    info = DEFAULT_CLASSIFIER.classify(exc)
    return info.retryable and info.category in RETRY_CATEGORIES


def _falls_back(exc: BaseException) -> bool:
    """An open breaker or a model that gave up on a retryable failure: try the next one."""
    return isinstance(exc, CircuitOpenError) or (
        isinstance(exc, Exception) and DEFAULT_CLASSIFIER.classify(exc).category in RETRY_CATEGORIES
    )


#: send(model, managed) -> the SDK's result for that model (one HTTP request, no SDK retries).
Send = Callable[[str, ManagedAttempt], Any]
#: reported(result) -> what a result says (id, model, usage), or None when it cannot be read.
Inspect = Callable[[Any], Reported | None]


class LlmRunner:
    """Runs one provider's managed calls; one per instrumentor."""

    def __init__(
        self,
        provider: Provider,
        options: LlmOptions,
        *,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
        clock: Clock | None = None,
    ) -> None:
        self.provider = provider
        self.options = options
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.limits = RateLimits(provider.name, self.clock)
        self.telemetry = LlmTelemetry(tracer_provider, meter_provider, self.limits.observe)
        self._providers = {
            "tracer_provider": tracer_provider,
            "meter_provider": meter_provider,
            "logger_provider": logger_provider,
        }
        extras: dict[str, Any] = {} if clock is None else {"clock": clock}
        self.breakers = (
            CircuitBreakerRegistry(
                name=provider.name,
                max_size=MAX_MODELS,
                failure_ratio=options.failure_ratio,
                minimum_calls=options.minimum_calls,
                window=options.window,
                break_duration=options.break_duration,
                **extras,
            )
            if options.breaker
            else None
        )
        self._pipelines: BoundedRegistry[Pipeline] = BoundedRegistry(self._pipeline, MAX_MODELS)

    def _pipeline(self, model: Hashable) -> Pipeline:
        o = self.options
        strategies: list[Any] = []
        if o.max_attempts > 1:
            strategies.append(
                Retry(
                    max_attempts=o.max_attempts,
                    backoff=o.backoff,
                    base_delay=o.base_delay,
                    max_delay=o.max_delay,
                    jitter=o.jitter,
                    retry_on=_retryable,
                )
            )
        if self.breakers is not None:
            strategies.append(self.breakers.get(model))
        pipeline = Pipeline(
            f"{self.provider.name} {model}",
            *strategies,
            clock=self.clock,
            is_failure_result=lambda r: False,  # the SDKs raise on error statuses
            **self._providers,
        )
        pipeline._span_source = _borrowed
        return pipeline

    def pipeline(self, model: str) -> Pipeline:
        """The pipeline of ``model``."""
        return self._pipelines.get(model)

    def alternatives(self, model: str) -> tuple[Any, ...]:
        """The model, then its fallbacks."""
        return (model, *self.options.fallbacks.get(model, ()))

    # -- shared decisions ------------------------------------------------------------------------

    def _begin(self, request: LlmRequest) -> tuple[LlmCall, contextvars.Token[Any]]:
        inst = self.telemetry.instruments()
        params = self.provider.request_attributes(request.body) if inst.tracer else {}
        call = LlmCall(inst, request, params, self.clock.monotonic())
        return call, _BORROWED.set(call.borrowed)

    def _managed(self, call: LlmCall, model: str) -> tuple[ManagedAttempt, Any]:
        call.attempts += 1
        managed = ManagedAttempt(call.attempts, call.attempt_attributes(model))
        return managed, otel_context.attach(otel_context.set_value(MANAGED_KEY, managed))

    def _limits(self, model: str, managed: ManagedAttempt) -> None:
        if managed.response is not None:
            self.limits.update(model, getattr(managed.response, "headers", None))

    def _sent(
        self, call: LlmCall, model: str, managed: ManagedAttempt, reported: Reported | None
    ) -> None:
        self._limits(model, managed)
        call.attempted(model, managed, reported)

    # -- streams ---------------------------------------------------------------------------------

    def _wrap(self, call: LlmCall, started: Started, hide_usage: bool) -> Any:
        """Hand the started stream to the proxy, whose hooks end the call; the span stays open
        but is no longer current (the caller's code runs between chunks)."""
        hooks = Hooks(self, call, started, hide_usage)
        wrap = wrapper()
        if started.first is EMPTY or wrap is None:  # nothing to proxy (the patch sends streams
            # here only when the proxy exists): end the call now
            hooks.on_end("completed", None, None)
            return started.stream
        call.detach()
        return wrap(
            started.stream,
            started.first,
            hooks,
            started_at=call.started,
            clock=self.clock,
            buffer=self.options.stream_buffer,
        )

    def _failed(
        self, call: LlmCall, model: str, managed: ManagedAttempt, exc: BaseException
    ) -> None:
        response = managed.response or getattr(exc, "response", None)
        if response is not None:
            self.limits.update(model, getattr(response, "headers", None))
        call.attempted(model, managed, None)

    def _content(self, call: LlmCall, request: LlmRequest, result: Any) -> dict[str, Any] | None:
        """Prompt and answer, only when the user opted in and the span records."""
        if not self.options.capture_content or call.borrowed is None:
            return None
        try:
            return self.provider.content(request.body, _parsed(result))
        except Exception:
            return None

    def _breaker_state(self, call: LlmCall, model: str) -> None:
        if self.breakers is not None:
            breaker = self.breakers.get(model)
            call.breaker = (breaker.name, breaker.state.value)

    # -- sync ------------------------------------------------------------------------------------

    def call(
        self, request: LlmRequest, send: Send, inspect_result: Inspect, hide_usage: bool = False
    ) -> Any:
        """Send ``request`` through its model's pipeline, then its fallbacks; return the result
        of the first that serves (or raise the last error). A stream comes back wrapped, its
        first chunk already read; ``hide_usage`` hides the usage-only chunk we asked for."""
        call, token = self._begin(request)
        reported: Reported | None = None
        try:
            result = self._chain(call, request, send, inspect_result)
            if type(result) is Started:
                return self._wrap(call, result, hide_usage)
            reported = inspect_result(result)
        except BaseException as exc:
            call.finish(self.clock.monotonic(), None, exc)
            raise
        finally:
            _BORROWED.reset(token)
        call.finish(self.clock.monotonic(), reported, None, self._content(call, request, result))
        return result

    def _chain(
        self, call: LlmCall, request: LlmRequest, send: Send, inspect_result: Inspect
    ) -> Any:
        alternatives = self.alternatives(request.model)
        last: BaseException | None = None
        for i, alt in enumerate(alternatives):
            if last is not None:
                call.hop(call.chain[-1], alt if isinstance(alt, str) else _name(alt), last)
            try:
                if isinstance(alt, str):
                    self._breaker_state(call, alt)
                    result = self.pipeline(alt).call(self._attempt, call, alt, send, inspect_result)
                    self._breaker_state(call, alt)
                    return result
                return alt(request)
            except Exception as exc:
                if isinstance(alt, str):
                    self._breaker_state(call, alt)
                if i == len(alternatives) - 1 or not _falls_back(exc):
                    raise
                last = exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, call: LlmCall, model: str, send: Send, inspect_result: Inspect) -> Any:
        wait = self.limits.wait(model, self.options.max_delay) if self.options.throttle else 0.0
        if wait:
            self.clock.sleep(wait)
        managed, token = self._managed(call, model)
        began = self.clock.monotonic() if call.request.stream else 0.0
        try:
            result = send(model, managed)
            if call.request.stream:
                result = first_chunk(result, model, managed)
        except BaseException as exc:
            self._failed(call, model, managed, exc)
            raise
        finally:
            otel_context.detach(token)
        if type(result) is Started:
            self._limits(model, managed)
            _first_chunk_after(managed, self.clock.monotonic() - began)
        else:
            self._sent(call, model, managed, inspect_result(result))
        return result

    # -- async -----------------------------------------------------------------------------------

    async def acall(
        self,
        request: LlmRequest,
        send: Callable[[str, ManagedAttempt], Awaitable[Any]],
        inspect_result: Inspect,
        hide_usage: bool = False,
    ) -> Any:
        """Async twin of :meth:`call`: ``await send(model, managed)`` once per attempt."""
        call, token = self._begin(request)
        reported: Reported | None = None
        try:
            result = await self._achain(call, request, send, inspect_result)
            if type(result) is Started:
                return self._wrap(call, result, hide_usage)
            reported = inspect_result(result)
        except BaseException as exc:
            call.finish(self.clock.monotonic(), None, exc)
            raise
        finally:
            _BORROWED.reset(token)
        call.finish(self.clock.monotonic(), reported, None, self._content(call, request, result))
        return result

    async def _achain(
        self, call: LlmCall, request: LlmRequest, send: Any, inspect_result: Inspect
    ) -> Any:
        alternatives = self.alternatives(request.model)
        last: BaseException | None = None
        for i, alt in enumerate(alternatives):
            if last is not None:
                call.hop(call.chain[-1], alt if isinstance(alt, str) else _name(alt), last)
            try:
                if isinstance(alt, str):
                    self._breaker_state(call, alt)
                    result = await self.pipeline(alt).acall(
                        self._aattempt, call, alt, send, inspect_result
                    )
                    self._breaker_state(call, alt)
                    return result
                served = alt(request)
                return await served if inspect.isawaitable(served) else served
            except Exception as exc:
                if isinstance(alt, str):
                    self._breaker_state(call, alt)
                if i == len(alternatives) - 1 or not _falls_back(exc):
                    raise
                last = exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _aattempt(self, call: LlmCall, model: str, send: Any, inspect_result: Inspect) -> Any:
        wait = self.limits.wait(model, self.options.max_delay) if self.options.throttle else 0.0
        if wait:
            await self.clock.asleep(wait)
        managed, token = self._managed(call, model)
        began = self.clock.monotonic() if call.request.stream else 0.0
        try:
            result = await send(model, managed)
            if call.request.stream:
                result = await afirst_chunk(result, model, managed)
        except BaseException as exc:
            self._failed(call, model, managed, exc)
            raise
        finally:
            otel_context.detach(token)
        if type(result) is Started:
            self._limits(model, managed)
            _first_chunk_after(managed, self.clock.monotonic() - began)
        else:
            self._sent(call, model, managed, inspect_result(result))
        return result


def _first_chunk_after(managed: ManagedAttempt, seconds: float) -> None:
    """Per-attempt time to first chunk, on the attempt's HTTP span (telemetry never raises)."""
    record = managed.record
    try:
        if record is not None and record.span.is_recording():
            record.span.set_attribute(semconv.LLM_TIME_TO_FIRST_CHUNK, max(0.0, seconds))
    except Exception:
        _log.debug("otel-resilience: recording the attempt's first chunk failed", exc_info=True)


def _parsed(result: Any) -> Any:
    """A raw response's parsed body when it was read (with_raw_response), else ``result``."""
    name = type(result).__name__
    if name == "LegacyAPIResponse" and not getattr(result, "_stream", True):
        return result.parse()
    if name in ("APIResponse", "AsyncAPIResponse") and not getattr(result, "_is_sse_stream", True):
        return read_raw_body(result)
    return result


def _name(fn: Any) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or fn)
