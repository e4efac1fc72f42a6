"""One logical LLM call's telemetry: its CLIENT span (current while the SDK runs), the attempts'
token accounting, fallback hops, and the single duration measurement. Never raises."""

from __future__ import annotations

import json
import logging
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_resilience import CircuitOpenError, semconv
from otel_resilience._util import error_type
from otel_resilience.classify import DEFAULT_CLASSIFIER
from otel_resilience_instrumentation._http.managed import ManagedAttempt
from otel_resilience_instrumentation._llm.request import LlmRequest, Reported, Usage
from otel_resilience_instrumentation._llm.telemetry import LlmInstruments

__all__ = ["LlmCall"]

_log = logging.getLogger(__name__)

#: What each pipeline sets at its end: kept aside, the call decides them once at its own end.
_DECIDED_AT_END = frozenset(
    {semconv.OUTCOME, semconv.ATTEMPTS, semconv.ERROR_TYPE, semconv.ERROR_CATEGORY}
)


class Borrowed:
    """The call's span as the model pipelines see it (``Pipeline._span_source``): their events
    and attributes go to it, but not their verdicts (outcome, status, exception): a model that
    failed over to a fallback does not make the call a failure."""

    __slots__ = ("_span",)

    def __init__(self, span: Any) -> None:
        self._span = span

    def is_recording(self) -> bool:
        return bool(self._span.is_recording())

    def add_event(self, name: str, attributes: Any = None, timestamp: Any = None) -> None:
        self._span.add_event(name, attributes, timestamp)

    def set_attribute(self, key: str, value: Any) -> None:
        if key not in _DECIDED_AT_END:
            self._span.set_attribute(key, value)

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        self._span.set_attributes({k: v for k, v in attributes.items() if k not in _DECIDED_AT_END})

    def set_status(self, *args: Any, **kwargs: Any) -> None:
        """The call's own end sets the status."""

    def record_exception(self, *args: Any, **kwargs: Any) -> None:
        """The call's own end records the exception that reached the caller."""


def _usage_attributes(usage: Usage) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, value in (
        (semconv.GEN_AI_USAGE_INPUT_TOKENS, usage.input),
        (semconv.GEN_AI_USAGE_OUTPUT_TOKENS, usage.output),
        (semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, usage.cache_read),
        (semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, usage.cache_creation),
        (semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, usage.reasoning),
    ):
        if value is not None:
            attrs[key] = value
    return attrs


class LlmCall:
    """The telemetry of one logical call; ``inst`` are the instruments resolved at its start."""

    def __init__(
        self, inst: LlmInstruments, request: LlmRequest, params: dict[str, Any], started: float
    ) -> None:
        self.inst = inst
        self.request = request
        self.started = started
        self.attempts = 0
        self.chain: list[str] = [request.model]
        self.total = 0
        self.served_tokens = 0
        self.breaker: tuple[str, str] | None = None
        self.base: dict[str, Any] = {
            semconv.GEN_AI_OPERATION_NAME: request.operation,
            semconv.GEN_AI_PROVIDER_NAME: request.provider,
            semconv.GEN_AI_REQUEST_MODEL: request.model,
        }
        if request.server_address:
            self.base[semconv.SERVER_ADDRESS] = request.server_address
            if request.server_port is not None:
                self.base[semconv.SERVER_PORT] = request.server_port
        self.span: Any = None
        self.borrowed: Borrowed | None = None
        self._token: Any = None
        if inst.tracer is not None:
            try:
                self.span = inst.tracer.start_span(
                    f"{request.operation} {request.model}",
                    kind=SpanKind.CLIENT,
                    attributes={**self.base, **params},
                )
                self._token = otel_context.attach(trace.set_span_in_context(self.span))
                if self.span.is_recording():
                    self.borrowed = Borrowed(self.span)
            except Exception:
                _log.debug("otel-resilience: starting the LLM span failed", exc_info=True)

    # -- attempts ------------------------------------------------------------------------------

    def attempt_attributes(self, model: str) -> dict[str, Any]:
        """The GenAI attributes of an attempt's HTTP span."""
        return {**self.base, semconv.GEN_AI_REQUEST_MODEL: model}

    def attempted(self, model: str, managed: ManagedAttempt, reported: Reported | None) -> None:
        """An attempt ended; ``reported`` is what its response said (``None``: nothing)."""
        try:
            if reported is not None and reported.usage.reported:
                usage = reported.usage
                self.total += usage.total
                self._tokens(model, reported, usage)
                record = managed.record
                if record is not None and record.span.is_recording():
                    attrs = _usage_attributes(usage)
                    if reported.model:
                        attrs[semconv.GEN_AI_RESPONSE_MODEL] = reported.model
                    record.span.set_attributes(attrs)
        except Exception:
            _log.debug("otel-resilience: recording the LLM attempt failed", exc_info=True)
        managed.end()

    def _tokens(self, model: str, reported: Reported, usage: Usage) -> None:
        hist = self.inst.tokens
        if hist is None:
            return
        attrs = {**self.base, semconv.GEN_AI_REQUEST_MODEL: model}
        if reported.model:
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = reported.model
        for kind, value in (
            (semconv.GEN_AI_TOKEN_TYPE_INPUT, usage.input),
            (semconv.GEN_AI_TOKEN_TYPE_OUTPUT, usage.output),
        ):
            if value is not None:
                hist.record(value, {**attrs, semconv.GEN_AI_TOKEN_TYPE: kind})

    def hop(self, source: str, target: str, exc: BaseException) -> None:
        """A fallback from ``source`` to ``target`` after ``exc``."""
        self.chain.append(target)
        if self.borrowed is None:
            return
        if isinstance(exc, CircuitOpenError):
            reason = "circuit_open"
        else:
            reason = DEFAULT_CLASSIFIER.classify(exc).category.value
        try:
            self.span.add_event(
                semconv.SPAN_EVENT_FALLBACK,
                {
                    semconv.FALLBACK_FROM: source,
                    semconv.FALLBACK_TO: target,
                    semconv.FALLBACK_REASON: reason,
                    semconv.ERROR_TYPE: error_type(exc),
                },
            )
        except Exception:
            _log.debug("otel-resilience: recording the fallback failed", exc_info=True)

    # -- the end -------------------------------------------------------------------------------

    def finish(
        self,
        now: float,
        reported: Reported | None,
        exc: BaseException | None,
        content: dict[str, Any] | None = None,
    ) -> None:
        """Record the call's end once: span attributes and status, duration; end the span."""
        try:
            self._finish(now, reported, exc, content)
        except Exception:
            _log.debug("otel-resilience: recording the LLM call failed", exc_info=True)
        finally:
            if self._token is not None:
                try:
                    otel_context.detach(self._token)
                except Exception:
                    _log.debug("otel-resilience: detaching the LLM span failed", exc_info=True)
                self._token = None
            if self.span is not None:
                try:
                    self.span.end()
                except Exception:
                    _log.debug("otel-resilience: ending the LLM span failed", exc_info=True)

    def detach(self) -> None:
        """Leave the span open but no longer current (a stream goes on after the call returns)."""
        if self._token is not None:
            try:
                otel_context.detach(self._token)
            except Exception:
                _log.debug("otel-resilience: detaching the LLM span failed", exc_info=True)
            self._token = None

    def _finish(
        self,
        now: float,
        reported: Reported | None,
        exc: BaseException | None,
        content: dict[str, Any] | None,
    ) -> None:
        metric = dict(self.base)
        attrs: dict[str, Any] = {semconv.ATTEMPTS: self.attempts}
        if reported is not None:
            if reported.model:
                attrs[semconv.GEN_AI_RESPONSE_MODEL] = reported.model
                metric[semconv.GEN_AI_RESPONSE_MODEL] = reported.model
            if reported.response_id:
                attrs[semconv.GEN_AI_RESPONSE_ID] = reported.response_id
            if reported.finish_reasons:
                attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = list(reported.finish_reasons)
            attrs.update(_usage_attributes(reported.usage))
        if self.total or (reported is not None and reported.usage.reported):
            attrs[semconv.LLM_TOKENS_TOTAL] = self.total
            served = reported.usage.total if reported is not None and exc is None else 0
            attrs[semconv.LLM_TOKENS_WASTED] = self.total - served
        if len(self.chain) > 1:
            attrs[semconv.FALLBACK_CHAIN] = list(self.chain)
        if self.breaker is not None:
            attrs[semconv.CIRCUIT_BREAKER_NAME], attrs[semconv.CIRCUIT_BREAKER_STATE] = self.breaker
        if exc is not None:
            kind = error_type(exc)
            metric[semconv.ERROR_TYPE] = attrs[semconv.ERROR_TYPE] = kind
            attrs[semconv.ERROR_CATEGORY] = DEFAULT_CLASSIFIER.classify(exc).category.value
            attrs[semconv.OUTCOME] = (
                semconv.OUTCOME_REJECTED
                if isinstance(exc, CircuitOpenError)
                else semconv.OUTCOME_FAILURE
            )
        else:
            fell_back = len(self.chain) > 1
            attrs[semconv.OUTCOME] = (
                semconv.OUTCOME_FALLBACK if fell_back else semconv.OUTCOME_SUCCESS
            )
        if self.inst.duration is not None:
            self.inst.duration.record(max(0.0, now - self.started), metric)
        span = self.span
        if span is None or not span.is_recording():
            return
        if content:
            attrs.update({k: json.dumps(v, default=str) for k, v in content.items()})
        span.set_attributes(attrs)
        if exc is not None:
            try:
                span.record_exception(exc)
            except Exception:
                span.add_event(semconv.SPAN_EVENT_EXCEPTION, {semconv.EXCEPTION_TYPE: kind})
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
