"""Managed streams: the first chunk is pulled inside the attempt (so a failure before it is
retried or falls back like any other), then the SDK stream is handed to the stream proxy of
:mod:`._llm.stream` (``wrap_stream``) with the hooks below, which end the call's span and
record its metrics exactly once, however the stream ends."""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import TYPE_CHECKING, Any

from otel_resilience import semconv
from otel_resilience_instrumentation._http.managed import ManagedAttempt
from otel_resilience_instrumentation._llm.providers import DELTA, USAGE_ONLY
from otel_resilience_instrumentation._llm.request import Reported

if TYPE_CHECKING:
    from otel_resilience_instrumentation._llm.call import LlmCall
    from otel_resilience_instrumentation._llm.runner import LlmRunner

__all__ = ["EMPTY", "Hooks", "Started", "afirst_chunk", "first_chunk", "wrapper"]

_log = logging.getLogger(__name__)

#: The first chunk of a stream that had none.
EMPTY = object()
_ERROR_ENDS = frozenset({"failed", "consumer_error"})


class Started:
    """A stream whose first chunk arrived inside its attempt (what the attempt returns)."""

    __slots__ = ("first", "managed", "model", "stream")

    def __init__(self, stream: Any, first: Any, model: str, managed: ManagedAttempt) -> None:
        self.stream = stream
        self.first = first
        self.model = model
        self.managed = managed


def wrapper() -> Any:
    """``wrap_stream`` of the stream proxy, or ``None`` while that module is absent (streams then
    pass through unmanaged)."""
    try:
        from otel_resilience_instrumentation._llm.stream import (  # type: ignore[import-not-found,unused-ignore]
            wrap_stream,
        )
    except ImportError:
        return None
    return wrap_stream


class _Tally:
    """Output tokens of a stream so far, and what the last chunk added."""

    __slots__ = ("delta", "reported", "tokens")

    def __init__(self) -> None:
        self.delta = 0
        self.tokens = 0
        self.reported: int | None = None


class Hooks:
    """The stream proxy's hooks for one managed call (``StreamHooks`` of ``_llm.stream``).

    Output tokens per chunk: the provider's cumulative count whenever a chunk reports one
    (anthropic's ``message_start`` / ``message_delta``, openai's usage chunk at the end, the
    responses API's final event), plus one per content delta since (an estimate: deltas are
    usually one token each). So the stream's token figures move live, and end on the count
    the provider reported.
    """

    __slots__ = (
        "_call",
        "_fold",
        "_hide",
        "_runner",
        "_started",
        "_tally",
        "count_tokens",
        "on_chunk",
        "reported",
    )

    def __init__(self, runner: LlmRunner, call: LlmCall, started: Started, hide: bool) -> None:
        self._runner = runner
        self._call = call
        self._started = started
        self._hide = hide
        self.reported = Reported()
        self._fold = runner.provider.fold  # one pass over each chunk's fields
        self._tally = tally = _Tally()
        # count_tokens(chunk) -> tally.delta, set by on_chunk just before: getattr(tally,
        # "delta", chunk) in C, no Python frame per chunk.
        self.count_tokens = functools.partial(getattr, tally, "delta")
        #: The proxy's per-chunk hook: chunks that carry only output are only counted; the
        #: full fold reads the rest (usage, events, and when something records, the chunks
        #: with the response's id, model or finish reasons).
        records = self.reported if call.inst.records else None
        self.on_chunk = runner.provider.counter(tally, self.fold, records)

    def fold(self, chunk: Any) -> bool:
        """Fold the chunk into what the response reported and its output tokens into the
        tally; hide the usage chunk we asked for."""
        tally = self._tally
        tally.delta = 0
        try:
            reported = self.reported
            flags = self._fold(reported, chunk)
            out = reported.usage.output
            if out is not None and out != tally.reported:
                tally.delta = out - tally.tokens
                tally.reported = tally.tokens = out
            elif flags & DELTA:
                tally.tokens += 1
                tally.delta = 1
            return not (flags & USAGE_ONLY and self._hide)
        except Exception:
            _log.debug("otel-resilience: reading a stream chunk failed", exc_info=True)
            return True

    def on_state_change(self, previous: str, state: str) -> None:
        """A span event on the call's span per transition, then the user's callback (the
        proxy logs what a hook raises: never the caller's problem)."""
        call = self._call
        if call.borrowed is not None:
            call.span.add_event(
                semconv.SPAN_EVENT_STREAM_STATE_CHANGE,
                {semconv.STREAM_STATE: state, semconv.STREAM_PREVIOUS_STATE: previous},
            )
        callback = self._runner.options.on_stream_state_change
        if callback is not None:
            callback(previous, state)

    def convert_error(self, error: BaseException) -> BaseException:
        """A mid-stream error reaches the caller as the SDK raised it: the classifier knows
        both the SDKs' errors and the raw httpx2 ones (never retried: the caller has data)."""
        return error

    def on_end(self, outcome: str, error: BaseException | None, metrics: Any) -> None:
        """End the attempt's and the call's spans; record the stream metrics (once)."""
        runner, call, started = self._runner, self._call, self._started
        try:
            call.attempted(started.model, started.managed, self.reported)
            inst = call.inst
            attrs = dict(call.base)
            if self.reported.model:
                attrs[semconv.GEN_AI_RESPONSE_MODEL] = self.reported.model
            ttfc = getattr(metrics, "time_to_first_chunk", None)
            if inst.ttfc is not None and ttfc is not None:
                inst.ttfc.record(ttfc, attrs)
            gap = getattr(metrics, "mean_gap", None)
            if inst.tpoc is not None and gap is not None:
                inst.tpoc.record(gap, attrs)
            if call.span is not None and call.span.is_recording():
                call.span.set_attribute(semconv.LLM_STREAM_END, outcome)
                if ttfc is not None:
                    call.span.set_attribute(semconv.LLM_TIME_TO_FIRST_CHUNK, ttfc)
        except Exception:
            _log.debug("otel-resilience: recording the stream failed", exc_info=True)
        if outcome in _ERROR_ENDS and error is not None:
            call.finish(runner.clock.monotonic(), self.reported, error)
        else:
            call.finish(runner.clock.monotonic(), self.reported, None)


def first_chunk(stream: Any, model: str, managed: ManagedAttempt) -> Any:
    """Pull the first chunk inside the attempt: a failure before it is retried."""
    if not hasattr(stream, "__next__"):  # a raw response (with_raw_response): no chunks
        return stream
    try:
        first = next(stream)
    except StopIteration:
        first = EMPTY
    except BaseException:
        _close(stream)
        raise
    return Started(stream, first, model, managed)


async def afirst_chunk(stream: Any, model: str, managed: ManagedAttempt) -> Any:
    """Async twin of :func:`first_chunk`."""
    if not hasattr(stream, "__anext__"):
        return stream
    try:
        first = await stream.__anext__()
    except StopAsyncIteration:
        first = EMPTY
    except BaseException:
        await _aclose(stream)
        raise
    return Started(stream, first, model, managed)


def _close(stream: Any) -> None:
    with contextlib.suppress(Exception):  # the attempt's error is what matters
        stream.close()


async def _aclose(stream: Any) -> None:
    with contextlib.suppress(Exception):
        await stream.close()
