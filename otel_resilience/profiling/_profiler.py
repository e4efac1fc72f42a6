"""profile(name) and @profiled: phases as child spans, and percentiles across runs."""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_resilience import semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._telemetry import Telemetry
from otel_resilience.budget._measure import current_rss

from ._report import SAMPLES, ProfileReport, summarise

__all__ = ["Profiler", "profile", "profiled"]

T = TypeVar("T")
_log = logging.getLogger(__name__)
#: The phase name under which each whole run is recorded.
TOTAL = "total"


class Profiler:
    """A named profile: each ``with`` block is one run (a span), each :meth:`phase` a child
    span with CPU and memory attributes; :meth:`report` gives percentiles across runs."""

    def __init__(self, name: str, *, clock: Clock | None = None, tracer_provider: Any = None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string; got {name!r}")
        self.name = name
        self._clock = clock or SYSTEM_CLOCK
        self._telemetry = Telemetry(tracer_provider)
        self._samples: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._runs: ContextVar[list[Any] | None] = ContextVar(f"profile_{id(self)}", default=None)

    def _add(self, phase: str, seconds: float) -> None:
        with self._lock:
            samples = self._samples.get(phase)
            if samples is None:
                samples = self._samples[phase] = deque(maxlen=SAMPLES)
            samples.append(seconds)

    @contextmanager
    def _span(self, span_name: str, phase: str) -> Iterator[None]:
        tracer = self._telemetry.instruments().tracer
        span = token = None
        if tracer is not None:
            try:
                span = tracer.start_span(
                    span_name,
                    attributes={semconv.PROFILE_NAME: self.name, semconv.PROFILE_PHASE: phase},
                )
                token = otel_context.attach(trace.set_span_in_context(span))
            except Exception:
                _log.debug("otel-resilience: starting a profile span failed", exc_info=True)
        started, cpu0, rss0 = self._clock.monotonic(), time.thread_time(), current_rss()
        try:
            yield
        finally:
            self._add(phase, self._clock.monotonic() - started)
            if token is not None:
                otel_context.detach(token)
            if span is not None:
                try:
                    rss = current_rss()
                    attrs: dict[str, Any] = {semconv.PROFILE_CPU: time.thread_time() - cpu0}
                    if rss is not None and rss0 is not None:
                        attrs[semconv.PROFILE_MEMORY] = rss - rss0
                    span.set_attributes(attrs)
                    span.end()
                except Exception:
                    _log.debug("otel-resilience: ending a profile span failed", exc_info=True)

    def phase(self, name: str) -> Any:
        """A context manager timing phase ``name`` (a child span of the current run)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"phase name must be a non-empty string; got {name!r}")
        return self._span(f"{self.name} {name}", name)

    def __enter__(self) -> Profiler:
        cm = self._span(self.name, TOTAL)
        cm.__enter__()
        stack = self._runs.get()
        self._runs.set([*(stack or ()), cm])
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack = self._runs.get() or []
        if stack:
            cm = stack[-1]
            self._runs.set(stack[:-1])
            cm.__exit__(kind, exc, tb)

    async def __aenter__(self) -> Profiler:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(kind, exc, tb)

    def report(self) -> ProfileReport:
        """p50/p95/p99 per phase across the recorded runs (the last 1,000 of each), and the
        slowest phase; ``total`` is the whole run."""
        with self._lock:
            samples = [(k, deque(v)) for k, v in self._samples.items()]
        return summarise(self.name, samples)

    def reset(self) -> None:
        """Forget the recorded durations."""
        with self._lock:
            self._samples.clear()


_MAX_PROFILES = 256
_profiles: OrderedDict[str, Profiler] = OrderedDict()
_profiles_lock = threading.Lock()


def profile(name: str, *, clock: Clock | None = None, tracer_provider: Any = None) -> Profiler:
    """The profiler named ``name`` (created on first use; the same one after, so runs add up).

    ``clock`` and ``tracer_provider`` apply when it is created.
    """
    with _profiles_lock:
        found = _profiles.get(name)
        if found is not None:
            _profiles.move_to_end(name)
            return found
        created = Profiler(name, clock=clock, tracer_provider=tracer_provider)
        _profiles[name] = created
        if len(_profiles) > _MAX_PROFILES:  # bounded: names made on the fly must not grow it
            _profiles.popitem(last=False)
        return created


@overload
def profiled(fn: Callable[..., T], /) -> Callable[..., T]: ...
@overload
def profiled(*, name: str | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]: ...


def profiled(fn: Any = None, /, *, name: str | None = None) -> Any:
    """Decorate a ``def`` or ``async def``: each call is a run of ``profile(name)`` (the
    function's qualified name by default); ``profile(name).phase(...)`` inside adds phases."""

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        label: str = name or getattr(func, "__qualname__", None) or repr(func)
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with profile(label):
                    return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with profile(label):
                return func(*args, **kwargs)

        return wrapper

    return wrap(fn) if fn is not None else wrap
