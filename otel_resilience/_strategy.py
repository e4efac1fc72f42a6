"""What every strategy shares: the per-call context and the binding to a Pipeline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.trace import Span

from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._telemetry import Instruments, Telemetry
from otel_resilience._util import check_clock

if TYPE_CHECKING:
    from otel_resilience.classify import ErrorClassifier, ErrorInfo

__all__ = ["CallContext", "Strategy"]

T = TypeVar("T")


class CallContext:
    """State of one call through a pipeline, shared by its strategies.

    ``span`` is the pipeline span when it records, else ``None``: strategies test it before doing
    any telemetry work, which keeps the no-SDK path to a single attribute check.
    """

    __slots__ = (
        "attempts",
        "error_by",
        "error_info",
        "error_info_for",
        "failed_result",
        "inst",
        "outcome",
        "pipeline",
        "span",
    )

    def __init__(self, pipeline: str, inst: Instruments, span: Span | None) -> None:
        self.pipeline = pipeline
        self.inst = inst
        self.span = span
        self.attempts = 1
        self.outcome: str | None = None  # set by strategies that decide it (fallback, rejected)
        self.error_info: ErrorInfo | None = None
        self.error_info_for: object = None
        self.error_by: object = None
        self.failed_result: ErrorInfo | None = None  # a returned result that counts as failure

    def classify(self, classifier: ErrorClassifier, exc: BaseException) -> ErrorInfo:
        """Classify ``exc``, reusing the last result if the same classifier already did."""
        if self.error_info_for is exc and self.error_by is classifier and self.error_info:
            return self.error_info
        info = classifier.classify(exc)
        self.error_info, self.error_info_for, self.error_by = info, exc, classifier
        return info


class Strategy:
    """Base class of the strategies a :class:`~otel_resilience.Pipeline` composes.

    A strategy given no clock or providers adopts those of the first Pipeline it is added to.
    Subclasses implement ``_run`` (sync) and ``_arun`` (async) as short loops around one shared,
    I/O-free decision core.
    """

    strategy_name = "strategy"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
    ) -> None:
        check_clock("clock", clock)
        self._clock_given = clock is not None
        self._clock: Clock = clock if clock is not None else SYSTEM_CLOCK
        self._telemetry = Telemetry(tracer_provider, meter_provider, logger_provider)
        self._bound = False

    @property
    def clock(self) -> Clock:
        """The clock this strategy reads and sleeps on."""
        return self._clock

    def _bind(self, pipeline_name: str, clock: Clock, telemetry: Telemetry) -> None:
        """Adopt a pipeline's defaults for what was not given explicitly (first pipeline wins)."""
        if self._bound:
            return
        self._bound = True
        if not self._clock_given:
            self._clock = clock
        own = self._telemetry.providers
        merged = [o if o is not None else p for o, p in zip(own, telemetry.providers, strict=True)]
        self._telemetry = Telemetry(*merged)

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        raise NotImplementedError

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        raise NotImplementedError
