"""HealthRegistry: named checks run on demand or in the background, rolled up into one status."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from opentelemetry.metrics import Observation

from otel_resilience import semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._validate import check_callable, check_classifier, check_clock
from otel_resilience.circuit_breaker import CircuitBreaker
from otel_resilience.circuit_breaker._health import HealthProbes, is_async_check
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorClassifier
from otel_resilience.health import _telemetry
from otel_resilience.health._breakers import breaker_check, breaker_facts
from otel_resilience.health._model import CheckOptions, HealthStatus, RegistryOptions
from otel_resilience.health._run import arun_check, run_check, run_check_bounded
from otel_resilience.health._state import CheckState, Outcome, Transition, roll_up

__all__ = ["HealthRegistry"]


@dataclass
class _Entry:
    check: Callable[[], Any]
    is_async: bool
    state: CheckState
    breaker: CircuitBreaker | None = None
    #: Held while a sync run is in flight (see run_check_bounded).
    busy: threading.Lock = field(default_factory=threading.Lock)


class HealthRegistry:
    """Named health checks with timeouts, intervals and a ``critical`` flag, rolled up.

    A check is a function of no arguments (sync or async) returning a bool or a
    :class:`HealthResult`; raising or running past ``timeout`` counts as unhealthy, with the
    error classified. :meth:`run_once` / :meth:`arun_once` run every check now; :meth:`start`
    (a thread) or :meth:`astart` (an asyncio task) runs each check every ``interval``. The
    overall :meth:`status`: any critical check unhealthy -> unhealthy; else a critical check
    not yet run -> unknown; else anything degraded (or a non-critical check unhealthy) ->
    degraded; else healthy. See docs/health.md.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        classifier: ErrorClassifier | None = None,
        window: float = 300.0,
        window_size: int = 256,
        max_events: int = 100,
        meter_provider: Any = None,
        logger_provider: Any = None,
    ) -> None:
        check_clock("clock", clock)
        check_classifier("classifier", classifier)
        self.options = RegistryOptions(
            window=window, window_size=window_size, max_events=max_events
        )
        self._clock: Clock = clock or SYSTEM_CLOCK
        self._classifier = classifier or DEFAULT_CLASSIFIER
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._events: deque[Transition] = deque(maxlen=max_events)
        self._started = self._clock.monotonic()
        self._telemetry = _telemetry.HealthTelemetry(self, meter_provider, logger_provider)

    # -- registration ---------------------------------------------------------------------------

    def register(
        self,
        name: str,
        check: Callable[[], Any],
        *,
        timeout: float = 5.0,
        interval: float = 30.0,
        critical: bool = True,
        failure_threshold: int = 1,
    ) -> None:
        """Add check ``name``; below ``failure_threshold`` consecutive failures it is degraded."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if check is None:
            raise ValueError("check must be callable, got None")
        check_callable("check", check)
        opts = CheckOptions(
            timeout=timeout,
            interval=interval,
            critical=critical,
            failure_threshold=failure_threshold,
        )
        self._add(name, _Entry(check, is_async_check(check), self._state(name, opts)))

    def register_breaker(
        self, breaker: CircuitBreaker, *, critical: bool = True, name: str | None = None
    ) -> None:
        """Add a breaker as a dependency: open is unhealthy, half-open degraded, closed healthy.

        Its status is read live by :meth:`status` and :meth:`report` (it costs no I/O).
        """
        if not isinstance(breaker, CircuitBreaker):
            raise ValueError(f"breaker must be a CircuitBreaker, got {breaker!r}")
        name = name if name is not None else breaker.name
        opts = CheckOptions(critical=critical)
        entry = _Entry(partial(breaker_check, breaker), False, self._state(name, opts), breaker)
        self._add(name, entry)

    def unregister(self, name: str) -> None:
        """Remove check ``name`` (KeyError if there is none)."""
        with self._lock:
            del self._entries[name]

    def _state(self, name: str, opts: CheckOptions) -> CheckState:
        return CheckState(name, opts, self.options.window, self.options.window_size)

    def _add(self, name: str, entry: _Entry) -> None:
        with self._lock:
            if name in self._entries:
                raise ValueError(f"name {name!r} is already registered")
            self._entries[name] = entry

    @property
    def names(self) -> list[str]:
        """The registered check names, in registration order."""
        return list(self._entries)

    @property
    def breakers(self) -> list[CircuitBreaker]:
        """The breakers registered with :meth:`register_breaker`."""
        return [e.breaker for e in list(self._entries.values()) if e.breaker is not None]

    # -- running --------------------------------------------------------------------------------

    def run_once(self) -> HealthStatus:
        """Run every check now, one after another, each sync check in a worker thread waited
        for at most its timeout; the overall status after them."""
        for name, entry in list(self._entries.items()):
            self._record(name, entry, self._run_sync(entry))
        return self.status()

    async def arun_once(self) -> HealthStatus:
        """Run every check now, concurrently (sync checks in worker threads)."""
        import asyncio

        entries = list(self._entries.items())
        outcomes = await asyncio.gather(*(self._run_async(entry) for _, entry in entries))
        for (name, entry), outcome in zip(entries, outcomes, strict=True):
            self._record(name, entry, outcome)
        return self.status()

    def _run_sync(self, entry: _Entry) -> Outcome:
        opts = entry.state.opts
        if entry.is_async:  # no loop of ours in this thread: run the coroutine to its end here
            import asyncio

            return asyncio.run(self._run_async(entry))
        if entry.breaker is not None:  # no I/O: no thread needed
            return run_check(entry.check, self._clock, opts.timeout, self._classifier)
        return run_check_bounded(
            entry.check, self._clock, opts.timeout, self._classifier, entry.busy
        )

    async def _run_async(self, entry: _Entry) -> Outcome:
        if entry.breaker is not None:  # no I/O: no thread needed
            return run_check(entry.check, self._clock, entry.state.opts.timeout, self._classifier)
        return await arun_check(
            entry.check,
            entry.is_async,
            self._clock,
            entry.state.opts.timeout,
            self._classifier,
            entry.busy,
        )

    def _record(self, name: str, entry: _Entry, outcome: Outcome) -> None:
        now = self._clock.monotonic()
        with self._lock:
            if self._entries.get(name) is not entry:  # unregistered meanwhile
                return
            transition = entry.state.record(outcome, now)
            if transition is not None:
                self._events.append(transition)
        self._telemetry.ran(name, outcome, entry.state.status)
        if transition is not None:
            self._telemetry.changed(transition)

    def _refresh_breakers(self) -> None:
        """Breakers move on their own: record a breaker entry whose state changed."""
        for name, entry in list(self._entries.items()):
            if entry.breaker is not None:
                result = breaker_check(entry.breaker)
                if result.status is not entry.state.status:
                    self._record(name, entry, Outcome(result.status, 0.0, result.message))

    def _due(self) -> tuple[list[tuple[str, _Entry]], float]:
        """Checks due now, and seconds until the next one is."""
        now = self._clock.monotonic()
        entries = list(self._entries.items())
        due = [(n, e) for n, e in entries if e.state.next_due <= now]
        pending = [e.state.next_due - now for _, e in entries if e.state.next_due > now]
        return due, min(pending, default=min((e.state.opts.interval for _, e in due), default=1.0))

    def _tick(self) -> float:
        for name, entry in self._due()[0]:
            self._record(name, entry, self._run_sync(entry))
        return max(self._due()[1], 0.0)

    async def _atick(self) -> float:
        import asyncio

        due = self._due()[0]
        outcomes = await asyncio.gather(*(self._run_async(entry) for _, entry in due))
        for (name, entry), outcome in zip(due, outcomes, strict=True):
            self._record(name, entry, outcome)
        return max(self._due()[1], 0.0)

    def start(self) -> HealthProbes:
        """Run each check every ``interval`` in a daemon thread; ``stop()`` the handle."""
        return HealthProbes(self._clock, 1.0, tick=self._tick)

    def astart(self) -> HealthProbes:
        """Run each check every ``interval`` in a task of the running loop; ``stop()`` it."""
        return HealthProbes(self._clock, 1.0, atick=self._atick)

    # -- reading --------------------------------------------------------------------------------

    def status(self) -> HealthStatus:
        """The overall status (see the class docstring for the roll-up rules)."""
        self._refresh_breakers()
        with self._lock:
            states = [(e.state.status, e.state.opts.critical) for e in self._entries.values()]
        return roll_up(states)

    def check_status(self, name: str) -> HealthStatus:
        """The status of check ``name`` (KeyError if there is none)."""
        return self._entries[name].state.status

    @property
    def uptime(self) -> float:
        """Seconds since the registry was created."""
        return self._clock.monotonic() - self._started

    def events(self) -> list[dict[str, Any]]:
        """Recent status changes, oldest first (``recovered``: back to healthy)."""
        now = self._clock.monotonic()
        with self._lock:
            events = list(self._events)
        return [
            {
                "check": t.name,
                "previous": t.previous.value,
                "status": t.status.value,
                "recovered": t.recovered,
                "ago": now - t.at,
                "error": t.error,
            }
            for t in events
        ]

    def report(self) -> dict[str, Any]:
        """Everything as a JSON-ready dict: overall status, uptime, each check, recent events."""
        overall = self.status()
        now = self._clock.monotonic()
        checks: dict[str, Any] = {}
        with self._lock:
            for name, entry in self._entries.items():
                item = entry.state.snapshot(now)
                item["kind"] = "breaker" if entry.breaker is not None else "check"
                checks[name] = item
        for name, entry in list(self._entries.items()):
            if entry.breaker is not None and name in checks:
                checks[name]["breaker"] = breaker_facts(entry.breaker)
        return {
            "status": overall.value,
            "uptime": now - self._started,
            "checks": checks,
            "events": self.events(),
        }

    def status_observations(self) -> Iterator[Observation]:
        """Observations for the ``resilience.health.status`` gauge."""
        with self._lock:
            current = [(n, e.state.status) for n, e in self._entries.items()]
        for name, status in current:
            for candidate in HealthStatus:
                yield Observation(
                    1 if candidate is status else 0,
                    {semconv.HEALTH_CHECK_NAME: name, semconv.HEALTH_STATUS: candidate.value},
                )

    def __repr__(self) -> str:
        return f"HealthRegistry(checks={len(self._entries)}, status={self.status().value!r})"
