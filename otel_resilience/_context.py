"""What strategies see of one call: its function, arguments, clock, deadline and verdicts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import Token
from typing import TYPE_CHECKING, Any

from otel_resilience import deadline as _deadline
from otel_resilience import semconv
from otel_resilience._util import error_type, result_error_type
from otel_resilience.classify._results import is_http_failure, plain_types

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from otel_resilience._clock import Clock
    from otel_resilience._telemetry import Instruments
    from otel_resilience.classify import ErrorClassifier, ErrorInfo

__all__ = ["CallContext", "CallShared"]

_log = logging.getLogger(__name__)


class CallShared:
    """What every call of one pipeline shares: its name, clock, classifier and predicate."""

    __slots__ = ("classifier", "clock", "default_predicate", "is_failure_result", "name")

    def __init__(
        self,
        name: str,
        clock: Clock,
        classifier: ErrorClassifier,
        is_failure_result: Callable[[Any], bool] | None,
    ) -> None:
        self.name = name
        self.clock = clock
        self.classifier = classifier
        self.default_predicate = is_failure_result is None
        self.is_failure_result = is_failure_result or is_http_failure


class CallContext:
    """One call through a pipeline, as its strategies see it.

    ``fn``, ``args`` and ``kwargs`` are the protected call; ``clock`` the pipeline's clock;
    ``deadline`` the monotonic time (on ``clock``) by which the call must be over, or ``None``.
    A strategy may read it and, around what it runs, tighten it with :meth:`tighten_deadline`
    (restoring it with :meth:`restore_deadline`). The deadline lives in a context variable,
    so concurrent attempts (tasks, or threads run in a copied context) each see their own, and
    code called inside the pipeline (an instrumented client) can read it too.
    ``span`` is the pipeline span when it records, else ``None``: strategies test it before any
    telemetry work. ``attempts`` counts the calls that reached ``fn``.

    Strategies keep per-call state in their own locals (the runners hold it), never here, so
    concurrent attempts of one call (hedging) do not race on shared fields.
    """

    __slots__ = (
        "_classified",
        "_verdict",
        "args",
        "attempts",
        "failed_result",
        "fn",
        "inst",
        "kwargs",
        "outcome",
        "shared",
        "span",
    )

    def __init__(
        self,
        shared: CallShared,
        inst: Instruments,
        span: Span | None,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.shared = shared
        self.inst = inst
        self.span = span
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.attempts = 0
        self.outcome: str | None = None
        # One tuple each, replaced whole: a concurrent attempt never sees half an update.
        self._classified: tuple[object, object, ErrorInfo] | None = None
        self._verdict: tuple[object, bool | None] | None = None
        #: ``(result, info)`` of a returned value a strategy judged a failure and passed on.
        self.failed_result: tuple[object, ErrorInfo] | None = None

    @property
    def pipeline(self) -> str:
        """The pipeline's name."""
        return self.shared.name

    @property
    def clock(self) -> Clock:
        """The pipeline's clock."""
        return self.shared.clock

    @property
    def classifier(self) -> ErrorClassifier:
        """The pipeline's classifier."""
        return self.shared.classifier

    def set_outcome(self, outcome: str) -> None:
        """Report the call's outcome; only the values in ``semconv.OUTCOMES`` are valid."""
        if outcome not in semconv.OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(semconv.OUTCOMES)}, got {outcome!r}")
        self.outcome = outcome

    @property
    def deadline(self) -> float | None:
        """The monotonic time (on the pipeline's clock) the call must end by, or ``None``.

        Read from :mod:`otel_resilience.deadline`; one set on another clock is converted.
        """
        return _deadline.deadline_on(self.shared.clock)

    def tighten_deadline(self, at: float) -> Token[tuple[float, Clock] | None]:
        """Make ``at`` (on the pipeline's clock) the deadline unless an earlier one stands."""
        return _deadline.tighten(at, self.shared.clock)

    def restore_deadline(self, token: Token[tuple[float, Clock] | None]) -> None:
        """Undo :meth:`tighten_deadline` (in the same context)."""
        _deadline.restore(token)

    def time_left(self) -> float | None:
        """Seconds until ``deadline`` (negative once passed), or ``None`` without one."""
        current = _deadline.current()
        return None if current is None else current[0] - current[1].monotonic()

    def classify(self, classifier: ErrorClassifier, obj: object) -> ErrorInfo:
        """Classify an exception or a response, reusing the last answer for the same pair."""
        last = self._classified
        if last is not None and last[0] is obj and last[1] is classifier:
            return last[2]
        info = classifier.classify(obj)
        self._classified = (obj, classifier, info)
        return info

    def result_failed(
        self, result: object, predicate: Callable[[Any], bool] | None = None
    ) -> bool | None:
        """Whether ``result`` is a failure, by ``predicate`` or else the pipeline's.

        The pipeline's verdict is computed once per result and shared by every strategy. A
        predicate that raises gives no verdict (``None``): the result goes on as a result and
        breakers count nothing.
        """
        if predicate is None:
            shared = self.shared
            if shared.default_predicate and type(result) in plain_types:
                return False  # the common case: a type already known not to be a response
            last = self._verdict
            if last is not None and last[0] is result:
                return last[1]
            predicate = shared.is_failure_result
            cache = True
        else:
            cache = False
        failed: bool | None
        try:
            failed = bool(predicate(result))
        except Exception:
            _log.debug("otel-resilience: is_failure_result raised", exc_info=True)
            failed = None
        if cache:
            self._verdict = (result, failed)
        return failed

    def result_info(self, result: object) -> ErrorInfo | None:
        """The classification of ``result`` if it ended the call as a failure, else ``None``."""
        marked = self.failed_result
        if marked is not None and marked[0] is result:
            return marked[1]
        if self.result_failed(result):
            return self.classify(self.classifier, result)
        return None

    # -- attempt events (recorded where the attempt happens: before any strategy reacts) -----

    def attempt_failed(
        self, number: int, started: float, exc: BaseException | None, result: object
    ) -> None:
        """Record failed attempt ``number`` (an exception, or a result that is a failure).

        The number is the one the attempt got when it started: concurrent attempts (hedging)
        end in any order, so ``attempts`` may already count later ones.
        """
        span = self.span
        if span is None:
            return
        obj = exc if exc is not None else result
        info = self.classify(self.classifier, obj)
        span.add_event(
            semconv.SPAN_EVENT_ATTEMPT,
            {
                semconv.ATTEMPT_NUMBER: number,
                semconv.ATTEMPT_DURATION: self.clock.monotonic() - started,
                semconv.ATTEMPT_OUTCOME: semconv.OUTCOME_FAILURE,
                semconv.ERROR_TYPE: error_type(exc) if exc is not None else result_error_type(obj),
                semconv.ERROR_CATEGORY: info.category.value,
            },
        )

    def attempt_returned(self, number: int, started: float, result: object) -> None:
        """Record attempt ``number`` that returned: failed if ``result`` is a failure, else a
        success worth recording when other attempts were made."""
        if self.result_failed(result):
            self.attempt_failed(number, started, None, result)
        elif self.attempts > 1:
            self.attempt_succeeded(number, started)

    def attempt_succeeded(self, number: int, started: float) -> None:
        """Record successful attempt ``number``, made alongside or after failed ones."""
        if self.span is not None:
            self.span.add_event(
                semconv.SPAN_EVENT_ATTEMPT,
                {
                    semconv.ATTEMPT_NUMBER: number,
                    semconv.ATTEMPT_DURATION: self.clock.monotonic() - started,
                    semconv.ATTEMPT_OUTCOME: semconv.OUTCOME_SUCCESS,
                },
            )
