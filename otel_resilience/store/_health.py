"""Fail-open bookkeeping of a store: connected or not, back-off, and the telemetry of both.

A failure counts ``state_store_error`` (on ``resilience.events``) and starts a back-off during
which the store answers None at once (strategies decide locally) instead of paying a timeout
on every call. The first failure after a success logs one record (OpenTelemetry and stdlib
logging), the first success after failures another: one pair per outage, not one per call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import Observation

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._telemetry import Telemetry, _StateGauges

__all__ = ["StoreHealth", "track_store"]

_log = logging.getLogger("otel_resilience.store")

_connected_gauges = _StateGauges(
    semconv.METRIC_STATE_STORE_CONNECTED,
    "1",
    "1 while a state store reaches its server, 0 while its strategies decide locally.",
    "connected_observations",
)
#: ``track_store(meter_provider, store)``: report ``store.connected_observations()``.
track_store = _connected_gauges.follow


class StoreHealth:
    """Whether the server answered last time, and until when to leave it alone after not."""

    __slots__ = (
        "_backoff",
        "_clock",
        "_lock",
        "_max",
        "_min",
        "connected",
        "prefix",
        "retry_at",
        "telemetry",
        "url",
    )

    def __init__(
        self,
        prefix: str,
        url: str,
        clock: Clock,
        backoff: float,
        max_backoff: float,
        telemetry: Telemetry,
    ) -> None:
        self.prefix, self.url, self._clock = prefix, url, clock
        self._min = self._backoff = backoff
        self._max = max_backoff
        self.telemetry = telemetry
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget the past (a forked child starts afresh)."""
        self._lock = threading.Lock()
        #: None until the first answer; then True or False.
        self.connected: bool | None = None
        self.retry_at = 0.0
        self._backoff = self._min

    def usable(self) -> bool:
        """False while backing off after a failure."""
        return self.retry_at == 0.0 or self._clock.monotonic() >= self.retry_at

    def failed(self, exc: BaseException, name: str) -> None:
        """A command failed: count it, back off, log once per outage."""
        with self._lock:
            lost = self.connected is not False
            self.connected = False
            self.retry_at = self._clock.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2.0, self._max)
        attrs = {semconv.STATE_STORE_PREFIX: self.prefix}
        inst = self.telemetry.instruments()
        inst.count(name, semconv.STRATEGY_STATE_STORE, semconv.EVENT_STATE_STORE_ERROR, attrs)
        if lost:
            error = type(exc).__qualname__
            _log.warning(
                "otel-resilience: state store %s (prefix %r) unreachable (%s); strategies "
                "decide locally meanwhile",
                self.url,
                self.prefix,
                error,
            )
            inst.emit_event(
                semconv.LOG_EVENT_STATE_STORE_DISCONNECTED,
                {**attrs, semconv.ERROR_TYPE: error},
                SeverityNumber.WARN,
            )

    def key_error(self, exc: BaseException, name: str) -> None:
        """The server refused one key's data: count it; no back-off, no outage."""
        _log.debug("otel-resilience: state store refused key %s: %s", name, type(exc).__name__)
        attrs = {semconv.STATE_STORE_PREFIX: self.prefix}
        self.telemetry.instruments().count(
            name, semconv.STRATEGY_STATE_STORE, semconv.EVENT_STATE_STORE_ERROR, attrs
        )

    def succeeded(self) -> None:
        """A command answered: end the outage (logged once) and the back-off."""
        if self.connected is True:  # the common case: no lock
            return
        with self._lock:
            back = self.connected is False
            self.connected = True
            self.retry_at = 0.0
            self._backoff = self._min
        if back:
            _log.warning(
                "otel-resilience: state store %s (prefix %r) is back", self.url, self.prefix
            )
            self.telemetry.instruments().emit_event(
                semconv.LOG_EVENT_STATE_STORE_RECONNECTED, {semconv.STATE_STORE_PREFIX: self.prefix}
            )

    def observations(self) -> Iterator[Observation]:
        """The gauge's point: 1 connected (or not tried yet), 0 failing open."""
        yield Observation(
            0 if self.connected is False else 1, {semconv.STATE_STORE_PREFIX: self.prefix}
        )
