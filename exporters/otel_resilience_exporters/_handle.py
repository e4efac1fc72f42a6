"""The handle :func:`~otel_resilience_exporters.build` returns: providers and a bounded
lifecycle."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from otel_resilience import semconv

from ._drops import DropCounter, ExportFailureLog
from ._guard import GuardedBatchLogRecordProcessor, GuardedBatchSpanProcessor
from ._settings import TelemetrySettings, check_timeout

__all__ = ["Telemetry", "run_bounded"]

_log = logging.getLogger(__name__)


def run_bounded(calls: Sequence[Callable[[], object]], deadline: float) -> bool:
    """Run ``calls`` in parallel daemon threads; True when all finished before ``deadline``.

    Daemon threads: a call stuck on an unreachable collector is abandoned, and never keeps the
    interpreter from exiting.
    """
    done: list[bool] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except Exception:
            _log.debug("telemetry shutdown step failed", exc_info=True)
        done.append(True)

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return len(done) == len(calls)


class Telemetry:
    """What :func:`configure` / :func:`build` set up: three providers and their lifecycle."""

    def __init__(
        self,
        settings: TelemetrySettings,
        *,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        logger_provider: LoggerProvider,
        drops: DropCounter,
        guards: Sequence[GuardedBatchSpanProcessor | GuardedBatchLogRecordProcessor],
        failure_log: ExportFailureLog | None = None,
    ) -> None:
        self.settings = settings
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.logger_provider = logger_provider
        self._drops = drops
        self._guards = list(guards)
        self._failure_log = failure_log
        self._lock = threading.Lock()
        self._shut = False

    def add_span_processor(self, processor: SpanProcessor) -> None:
        """Add a processor; it sees spans after redaction (when redaction is on), as one added
        with ``tracer_provider.add_span_processor`` does."""
        self.tracer_provider.add_span_processor(processor)

    def add_log_record_processor(self, processor: LogRecordProcessor) -> None:
        """Add a processor; it runs after the redacting one, so it sees scrubbed records."""
        self.logger_provider.add_log_record_processor(processor)

    def dropped(self) -> dict[str, int]:
        """Items lost so far per signal ("traces", "logs", "metrics"); 0 when none."""
        return self._drops.per_signal()

    def dropped_by_reason(self) -> dict[tuple[str, str], int]:
        """Items lost so far, keyed by (signal, reason)."""
        return self._drops.snapshot()

    def _budget(self, timeout: float | None) -> float:
        if timeout is None:
            return self.settings.shutdown_timeout
        if timeout == 0:
            return 0.0
        return check_timeout("timeout", timeout)

    @property
    def is_shutdown(self) -> bool:
        """Whether :meth:`shutdown` has been called."""
        return self._shut

    def flush(self, timeout: float | None = None) -> bool:
        """Export everything buffered; returns within ``timeout`` seconds (default: the shutdown
        timeout) and says whether every provider finished."""
        if self._shut:
            return False
        budget = self._budget(timeout)
        millis = int(budget * 1000)
        deadline = time.monotonic() + budget
        return run_bounded(
            [
                lambda: self.tracer_provider.force_flush(millis),
                lambda: self.logger_provider.force_flush(millis),
                lambda: self.meter_provider.force_flush(millis),
            ],
            deadline,
        )

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush and shut all three providers down within ``timeout`` seconds in total (default
        ``OTEL_RESILIENCE_SHUTDOWN_TIMEOUT``, 5), whatever the collector does. Idempotent.

        Returns whether everything finished in time; what did not is abandoned and counted.
        """
        with self._lock:
            if self._shut:
                return True
            self._shut = True
        budget = self._budget(timeout)
        millis = int(budget * 1000)
        # In parallel, each with the whole budget: sequential phases would let one stuck signal
        # starve the others. Drops counted here are only exportable if the collector is up,
        # and then there are none.
        finished = run_bounded(
            [
                self.tracer_provider.shutdown,
                self.logger_provider.shutdown,
                lambda: self.meter_provider.shutdown(timeout_millis=millis),
            ],
            time.monotonic() + budget,
        )
        if not finished:
            for guard in self._guards:
                self._drops.add(guard.signal, semconv.DROP_REASON_SHUTDOWN, guard.pending)
        if self._failure_log is not None:
            self._failure_log.at_shutdown()
        return finished
