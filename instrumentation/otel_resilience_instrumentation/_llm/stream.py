"""The proxy returned in place of an LLM SDK's stream object (openai/anthropic Stream, AsyncStream).

The LLM runner pulls the first chunk inside its pipeline (so failures before it are retried or
fall back), then calls :func:`wrap_stream`. The proxy keeps the SDK object's API (``isinstance``,
iteration, ``with``, ``close()``, ``.response``, and the SDK's own stream managers built on it),
yields ``first_chunk`` then the rest, measures the stream, offers ``pause()`` / ``resume()`` /
``cancel()`` and ``.metrics``, and calls ``hooks.on_end`` exactly once however the stream ends.
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol, TypeVar

import wrapt

from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience.streams._metrics import StreamMetrics

__all__ = [
    "OUTCOME_ABANDONED",
    "OUTCOME_CLOSED",
    "OUTCOME_COMPLETED",
    "OUTCOME_CONSUMER_ERROR",
    "OUTCOME_FAILED",
    "StreamHooks",
    "wrap_stream",
]

#: ``on_end`` outcomes. The source was read to its end.
OUTCOME_COMPLETED = "completed"
#: The caller stopped early: ``break``, ``close()``, ``cancel()``, ``with`` exit before the end.
OUTCOME_CLOSED = "closed"
#: An exception raised by the caller's code ended the stream (``with`` exit with an exception,
#: or thrown into the iteration); ``error`` is that exception.
OUTCOME_CONSUMER_ERROR = "consumer_error"
#: Reading the source failed after the first chunk; ``error`` is what the caller receives
#: (the result of ``hooks.convert_error``).
OUTCOME_FAILED = "failed"
#: The stream was garbage-collected before it ended (nobody closed it).
OUTCOME_ABANDONED = "abandoned"

_S = TypeVar("_S")


class StreamHooks(Protocol):
    """What the LLM runner does for each chunk and at the end (implemented by the runner).

    Hooks must not raise; an exception from them is logged and ignored (never breaks the
    caller's iteration). They run on the consumer's thread/task, except ``on_end`` for an
    abandoned stream, which runs wherever the garbage collector runs.
    """

    def on_chunk(self, chunk: Any) -> bool:
        """Look at one chunk (usage, model, finish reasons); False hides it from the caller."""
        ...

    def on_state_change(self, previous: str, state: str) -> None:
        """The stream moved from state ``previous`` to ``state`` (``StreamState`` values)."""
        ...

    def convert_error(self, error: BaseException) -> BaseException:
        """The exception to raise to the caller for a mid-stream ``error`` (classified)."""
        ...

    def on_end(self, outcome: str, error: BaseException | None, metrics: StreamMetrics) -> None:
        """Called exactly once when the stream ends: an ``OUTCOME_*`` value, the error, figures."""
        ...


def wrap_stream(
    stream: _S,
    first_chunk: Any,
    hooks: StreamHooks,
    *,
    started_at: float | None = None,
    clock: Clock = SYSTEM_CLOCK,
    buffer: int = 0,
) -> _S:
    """Return a proxy of ``stream`` (sync or async SDK stream) that yields ``first_chunk`` first.

    ``first_chunk`` was already pulled from ``stream`` by the runner, which must not pass it to
    ``hooks.on_chunk``: the proxy does, so every chunk is seen exactly once. ``started_at`` is
    the logical start (``clock.monotonic()`` when the operation began) for time to first chunk;
    default: now. ``buffer`` > 0 reads up to that many chunks
    ahead of the caller (backpressure: reading stops while the buffer is full).
    The proxy is an instance of ``type(stream)`` for ``isinstance`` and adds ``metrics``,
    ``state``, ``pause()``, ``resume()`` and ``cancel()``.
    """
    # First version: iteration, close and exactly-once on_end; controls and GC come next.
    proxy = _SyncProxy(stream)
    run = _Run(stream, first_chunk, hooks, clock, started_at)
    proxy._self_run = run
    return proxy  # type: ignore[return-value]


class _Run:
    """The state of one wrapped stream, kept apart from the proxy (no cycle through it)."""

    def __init__(
        self, stream: Any, first: Any, hooks: StreamHooks, clock: Clock, started_at: float | None
    ) -> None:
        from otel_resilience.streams._metrics import Meter

        self.stream = stream
        self.first: list[Any] = [first]
        self.hooks = hooks
        self.clock = clock
        self.meter = Meter(1.0, False)
        self.meter.start(clock.monotonic() if started_at is None else started_at)
        self.ended = False

    def end(self, outcome: str, error: BaseException | None) -> None:
        if self.ended:
            return
        self.ended = True
        self.hooks.on_end(outcome, error, self.meter.snapshot(self.clock.monotonic()))

    def __iter__(self) -> Any:
        hooks, meter, clock = self.hooks, self.meter, self.clock
        try:
            for chunk in itertools.chain(self.first, self.stream):
                meter.chunk(clock.monotonic(), 0, 0)
                if hooks.on_chunk(chunk):
                    yield chunk
        except GeneratorExit:
            self.end(OUTCOME_CLOSED, None)
            raise
        except Exception as error:
            converted = hooks.convert_error(error)
            self.end(OUTCOME_FAILED, converted)
            if converted is error:
                raise
            raise converted from error
        self.end(OUTCOME_COMPLETED, None)


class _SyncProxy(wrapt.ObjectProxy[Any]):
    """First version of the sync proxy."""

    _self_run: _Run

    def __iter__(self) -> Any:
        return iter(self._self_run)

    def close(self) -> None:
        self._self_run.end(OUTCOME_CLOSED, None)
        self.__wrapped__.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def metrics(self) -> StreamMetrics:
        run = self._self_run
        return run.meter.snapshot(run.clock.monotonic())
