"""CircuitBreaker: stop calling a dependency that keeps failing, and probe it back to health."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import Observation

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._strategy import CallContext, DecidingStrategy, Prepare
from otel_resilience._telemetry import Telemetry, track_breaker, track_threshold
from otel_resilience._util import check_callable, check_classifier
from otel_resilience.circuit_breaker import _probing, _shared
from otel_resilience.circuit_breaker._core import CLOSED, BreakerCore, Rejected, Transition
from otel_resilience.circuit_breaker._health import HealthProbes
from otel_resilience.circuit_breaker.adaptive import AdaptiveThreshold
from otel_resilience.circuit_breaker.options import BreakerOptions, CircuitState
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorClassifier
from otel_resilience.errors import CircuitOpenError
from otel_resilience.store.config import resolve_store

__all__ = ["CircuitBreaker"]

_INF = math.inf

_EVENT_FOR = {
    CircuitState.OPEN: semconv.EVENT_CIRCUIT_OPENED,
    CircuitState.HALF_OPEN: semconv.EVENT_CIRCUIT_HALF_OPENED,
    CircuitState.CLOSED: semconv.EVENT_CIRCUIT_CLOSED,
}


class CircuitBreaker(DecidingStrategy):
    """Open after too many failures (or slow calls) in a sliding window; probe after a break.

    ``window`` is seconds with ``window_type="time"`` and a number of calls with ``"count"``.
    The breaker may open once ``minimum_calls`` are in the window and the failure ratio reaches
    ``failure_ratio`` (or, with ``slow_call_duration`` set, the share of calls at least that
    slow reaches ``slow_call_ratio``). While open it raises :class:`CircuitOpenError` without
    calling the function. After ``break_duration`` (grown by ``break_duration_multiplier`` on
    each consecutive opening, up to ``max_break_duration``) it lets ``half_open_max_calls``
    probes through: all succeeding closes it, any failing re-opens it. Which exceptions count
    as failures is decided by the classifier's category (``failure_categories``) unless
    ``is_failure`` is given; ``is_failure_result`` marks returned values as failures.

    With ``health_check`` (a function of no arguments, sync or async) an open breaker probes
    the dependency every ``health_interval`` seconds, bounded by ``health_timeout`` (default:
    the interval): a call arriving when a probe is due runs it first, and a probe that returns
    a truthy value without raising half-opens the breaker before the break ends. Async checks
    run only in async calls (or :meth:`start_health_probes`). See docs/circuit-breaker.md.

    With ``adaptive=AdaptiveThreshold(...)`` the ratio that opens follows the dependency's
    long-window failure rate and latency, within bounds (:attr:`threshold`); with
    ``slow_call_duration="auto"`` a call is slow above ``slow_call_percentile`` of the
    breaker's recent durations x ``slow_call_factor``. See docs/adaptive.md.

    With ``store=`` a shared store (:class:`~otel_resilience.store.RedisStateStore`, or the
    default set by :func:`~otel_resilience.store.configure_store`), breakers of the same name
    in every process agree: outcomes are pooled and transitions shared within
    ``sync_interval``, half-open probes are bounded fleet-wide, and the success path still
    makes no round trip. See docs/shared-state.md.
    """

    __slots__ = (
        "__weakref__",
        "_classifier",
        "_core",
        "_is_failure",
        "_is_failure_result",
        "_link",
        "_name",
        "_pipeline_name",
        "_slow_limit",
        "_store",
        "_timed",
        "options",
    )

    strategy_name = semconv.STRATEGY_CIRCUIT_BREAKER

    def __init__(
        self,
        *,
        name: str | None = None,
        failure_ratio: float = 0.5,
        minimum_calls: int = 10,
        window: float = 30.0,
        window_type: str = "time",
        break_duration: float = 30.0,
        half_open_max_calls: int = 1,
        slow_call_duration: float | str | None = None,
        slow_call_ratio: float = 1.0,
        slow_call_percentile: float = 0.99,
        slow_call_factor: float = 2.0,
        adaptive: AdaptiveThreshold | None = None,
        break_duration_multiplier: float = 1.0,
        max_break_duration: float | None = None,
        window_buckets: int = 10,
        failure_categories: Iterable[str] | None = None,
        is_failure: Callable[[BaseException], bool] | None = None,
        is_failure_result: Callable[[Any], bool] | None = None,
        half_open_probe_timeout: float = 60.0,
        health_check: Callable[[], Any] | None = None,
        health_interval: float = 5.0,
        health_timeout: float | None = None,
        classifier: ErrorClassifier | None = None,
        clock: Clock | None = None,
        store: Any = None,
        _options: BreakerOptions | None = None,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name must be a non-empty string or None, got {name!r}")
        check_callable("is_failure", is_failure)
        check_callable("is_failure_result", is_failure_result)
        check_callable("health_check", health_check)
        check_classifier("classifier", classifier)
        if _options is not None:  # a registry shares one validated options object
            self.options = _options
        else:
            self.options = BreakerOptions(
                failure_ratio=failure_ratio,
                minimum_calls=minimum_calls,
                window=window,
                window_type=window_type,
                window_buckets=window_buckets,
                break_duration=break_duration,
                break_duration_multiplier=break_duration_multiplier,
                max_break_duration=max_break_duration,
                half_open_max_calls=half_open_max_calls,
                half_open_probe_timeout=half_open_probe_timeout,
                slow_call_duration=slow_call_duration,
                slow_call_ratio=slow_call_ratio,
                slow_call_percentile=slow_call_percentile,
                slow_call_factor=slow_call_factor,
                adaptive=adaptive,
                failure_categories=BreakerOptions.categories(failure_categories),
                health_interval=health_interval,
                health_timeout=health_timeout,
            )
        opts = self.options
        super().__init__(clock=clock, result_predicate=is_failure_result)
        self._name = name
        self._core = BreakerCore(opts, health_check=health_check)
        self._is_failure = is_failure
        self._is_failure_result = is_failure_result
        self._classifier = classifier or DEFAULT_CLASSIFIER
        # Not None: every call is timed (state is ``(permit, started)``). Auto-slow and
        # adaptive breakers time calls too; ``inf`` means "never slow by a fixed limit".
        slow = opts.slow_call_duration
        self._slow_limit: float | None = (
            math.inf  # "ask the core": its auto limit, infinite when there is none
            if slow == "auto" or (slow is None and opts.adaptive is not None)
            else (None if slow is None else float(slow))
        )
        self._timed = slow is not None or opts.window_type == "time" or opts.adaptive is not None
        self._pipeline_name: str | None = None
        # A shared store syncs the breaker by name: linked now if named, else when bound.
        self._store = resolve_store("store", store)
        self._link: Any = None
        if self._store is not None and name is not None:
            self._link = self._store.link_breaker(self)

    # -- public control ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The breaker's name (its pipeline's name when none was given)."""
        return self._name or "circuit_breaker"

    @property
    def state(self) -> CircuitState:
        """The current state; an open breaker whose break has elapsed reads as half-open."""
        return self._core.effective_state(self._clock.monotonic())

    def isolate(self) -> None:
        """Force the breaker open (rejecting every call) until :meth:`reset`."""
        self._emit(self._core.isolate(self._clock.monotonic()), None)

    def reset(self) -> None:
        """Close the breaker and forget its history."""
        self._emit(self._core.reset(self._clock.monotonic()), None)

    def start_health_probes(self) -> HealthProbes:
        """Probe in the background while open, instead of waiting for calls; ``stop()`` it.

        A sync ``health_check`` gets a daemon thread; an async one a task of the running event
        loop (call this from inside it). Probes stay one at a time, shared with call-driven ones.
        """
        if self._core.health is None:
            raise ValueError("start_health_probes() needs a health_check")
        return _probing.start(self)

    def state_observations(self) -> Iterator[Observation]:
        """Observations for the ``resilience.circuit_breaker.state`` gauge."""
        current = self.state
        for state in CircuitState:
            yield Observation(
                1 if state is current else 0,
                {
                    semconv.CIRCUIT_BREAKER_NAME: self.name,
                    semconv.CIRCUIT_BREAKER_STATE: state.value,
                },
            )

    def threshold_observations(self) -> Iterator[Observation]:
        """Observations for the ``resilience.circuit_breaker.threshold`` gauge."""
        yield Observation(self.threshold, {semconv.CIRCUIT_BREAKER_NAME: self.name})

    @property
    def threshold(self) -> float:
        """The failure ratio that opens the breaker now (it moves with ``adaptive``)."""
        return self._core.threshold(self._clock.monotonic())

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self.state.value!r})"

    # -- binding and telemetry -----------------------------------------------------------------

    def _bind(self, pipeline_name: str, clock: Clock, telemetry: Telemetry) -> bool:
        if not super()._bind(pipeline_name, clock, telemetry):
            return False
        self._pipeline_name = pipeline_name
        if self._name is None:
            self._name = pipeline_name
        if self._store is not None and self._link is None:
            self._link = self._store.link_breaker(self)
        # The gauge reports through the pipeline's meter provider (None: the global one).
        track_breaker(telemetry.providers[1], self)
        if self.options.adaptive is not None:
            track_threshold(telemetry.providers[1], self)
        return True

    def _emit(self, transition: Transition | None, ctx: CallContext | None) -> None:
        if transition is None:
            return
        prev, new = transition
        inst = self._telemetry.instruments()
        attrs = {
            semconv.CIRCUIT_BREAKER_NAME: self.name,
            semconv.CIRCUIT_BREAKER_PREVIOUS_STATE: prev.value,
            semconv.CIRCUIT_BREAKER_STATE: new.value,
        }
        span = ctx.span if ctx is not None else trace.get_current_span()
        if span is not None and span.is_recording():
            span.add_event(semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE, attrs)
        inst.emit_event(semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE, attrs)
        pipeline = ctx.pipeline if ctx is not None else (self._pipeline_name or self.name)
        inst.count(pipeline, self.strategy_name, _EVENT_FOR[new])

    def _rejected(self, rejected: Rejected, ctx: CallContext) -> CircuitOpenError:
        self._emit(rejected.transition, ctx)
        ctx.set_outcome(semconv.OUTCOME_REJECTED)
        if ctx.span is not None:
            attrs: dict[str, Any] = {semconv.CIRCUIT_BREAKER_NAME: self.name}
            if rejected.retry_after is not None:
                attrs[semconv.CIRCUIT_BREAKER_RETRY_AFTER] = rejected.retry_after
            ctx.span.add_event(semconv.SPAN_EVENT_CIRCUIT_REJECTED, attrs)
        ctx.inst.count(ctx.pipeline, self.strategy_name, semconv.EVENT_CIRCUIT_REJECTED)
        return CircuitOpenError(self.name, rejected.retry_after)

    # -- hooks (driven by the shared sync and async runners) ----------------------------------

    def enter(self, ctx: CallContext) -> Any:
        """A permit (with the start time when slow calls count), or CircuitOpenError."""
        state, epoch = self._core.snapshot  # one read: state and epoch always belong together
        if state is CLOSED:  # fast path; record() re-checks the epoch under the lock
            if self._slow_limit is not None:
                return (epoch, self._clock.monotonic())
            return epoch
        now = self._clock.monotonic()
        if self._core.probe_due_at(now):  # False at once without a health check
            return _probing.prepare(self)
        if self._link is not None:  # a probe needs a fleet slot: a round trip, awaited in async
            return Prepare(partial(_shared.admit, self, now), partial(_shared.aadmit, self, now))
        return self._admit(ctx, now)

    def _admit(self, ctx: CallContext, now: float) -> Any:
        """The permit of a call while not closed, or CircuitOpenError."""
        try:  # ``now`` was read before taking a slot: nothing runs in between
            permit, transition = self._core.acquire(now)
        except Rejected as rejected:
            raise self._rejected(rejected, ctx) from None
        try:
            if transition is not None:
                self._emit(transition, ctx)
        except BaseException:  # interrupted before the runner holds the permit: give it back
            self._core.release(permit)
            raise
        return (permit, now) if self._slow_limit is not None else permit

    # -- a caller that runs the breaker's closed-state bookkeeping itself ------------------------

    def _closed_permit(self) -> int | None:
        """The permit :meth:`enter` would give while closed with no slow-call timing, else
        ``None`` (the caller must then go through a pipeline). For the HTTP instrumentation's
        request path when nothing records: a success then costs no pipeline call. A breaker
        shared through a store gets none: its successes count for the fleet in on_success."""
        state, epoch = self._core.snapshot
        if state is CLOSED and self._slow_limit is None and self._link is None:
            return epoch
        return None

    def _closed_success(self, permit: int) -> None:
        """:meth:`on_success` for a :meth:`_closed_permit` (a failure goes through a pipeline)."""
        core = self._core
        now = self._clock.monotonic() if self._timed else 0.0
        # BreakerCore.record_success inline (one frame less on every HTTP success); the lock
        # taken by hand: a ``with`` costs ~1k instructions more on CPython 3.11.
        lock = core._lock or core._new_lock()
        lock.acquire()
        try:
            if permit == core.epoch and core.state is CLOSED:
                (core.window or core._new_window()).add_success(now)
                return
        finally:
            lock.release()
        transition = core.record(permit, False, False, now)  # the state moved on meanwhile
        if transition is not None:
            self._emit(transition, None)

    # -- outcomes ----------------------------------------------------------------------------

    def on_success(self, ctx: CallContext, state: Any, result: Any) -> None:
        if self._slow_limit is None:
            now = self._clock.monotonic() if self._timed else 0.0
            transition = self._core.record_success(state, now)
            link = self._link
            if link is not None:
                if transition is None and state >= 0:
                    next(link.ok)  # the shared success path: one C call, no frame
                else:
                    self._shared_outcome(link, state, False, False, transition)
            if transition is not None:
                self._emit(transition, ctx)
            return
        self._record(ctx, state, False)

    def on_failure(self, ctx: CallContext, state: Any, exc: Exception | None, result: Any) -> None:
        if exc is None:  # a result that is a failure
            self._record(ctx, state, True)
            return
        try:
            if self._is_failure is not None:
                failed = bool(self._is_failure(exc))
            else:
                category = ctx.classify(self._classifier, exc).category.value
                failed = category in self.options.failure_categories
        except Exception:  # a broken predicate is no verdict; the call's own error goes on
            self.on_abandon(ctx, state)
            return
        self._record(ctx, state, failed)

    def on_abandon(self, ctx: CallContext, state: Any) -> None:
        """Cancelled, interrupted, refused further in: no verdict; free a probe slot."""
        self._core.release(state[0] if self._slow_limit is not None else state)

    def _record(self, ctx: CallContext, state: Any, failed: bool) -> None:
        core = self._core
        limit = self._slow_limit
        if limit is None:
            permit, duration, slow = state, None, False
            # A closed count-window breaker needs no time for a success: nothing can move.
            timed = self._timed or failed or core.state is not CLOSED
            now = self._clock.monotonic() if timed else 0.0
        else:  # timed calls (a slow-call limit, "auto", or adaptive)
            permit, started = state
            now = self._clock.monotonic()
            duration = now - started
            slow = duration > core.slow_limit if limit == _INF else duration >= limit
        transition = core.record(permit, failed, slow, now, duration)
        link = self._link
        if link is not None:
            self._shared_outcome(link, permit, failed, slow, transition)
        if transition is not None:
            self._emit(transition, ctx)

    @staticmethod
    def _shared_outcome(
        link: Any, permit: int, failed: bool, slow: bool, transition: Transition | None
    ) -> None:
        """Count an outcome for the fleet; a success is one C call (no lock, no I/O)."""
        if permit >= 0:  # a closed-state call
            if failed or slow:
                link.outcome(failed, slow)
            else:
                next(link.ok)
            if transition is not None and transition[1] is CircuitState.OPEN:
                link.want("open")
        elif failed or slow:  # a failed probe re-opens the fleet's breaker
            link.want("open")
        else:
            link.want("probe_ok")
