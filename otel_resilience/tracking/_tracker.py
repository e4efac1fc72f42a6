"""ErrorTracker: fingerprinted error groups, breadcrumbs, and errors exported as log records."""

from __future__ import annotations

import logging
import random
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from opentelemetry import metrics, trace
from opentelemetry._logs import LogRecord, SeverityNumber

from otel_resilience import semconv
from otel_resilience._telemetry import Telemetry
from otel_resilience._version import __version__ as _VERSION
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorClassifier, Severity

from ._breadcrumbs import Breadcrumb, Trail, TrailHandler, make_crumb
from ._fingerprint import fingerprint, message_template, type_name
from ._groups import Group, GroupTable
from ._scrub import default_scrub, safe_scrub

if TYPE_CHECKING:
    from ._hooks import Hooks
    from ._strategy import TrackErrors

__all__ = ["ErrorTracker", "TrackerOptions"]

_log = logging.getLogger(__name__)

_SEVERITY = {
    Severity.LOW: SeverityNumber.WARN,
    Severity.MEDIUM: SeverityNumber.ERROR,
    Severity.HIGH: SeverityNumber.ERROR,
    Severity.CRITICAL: SeverityNumber.FATAL,
}


@dataclass(frozen=True, kw_only=True)
class TrackerOptions:
    """What an :class:`ErrorTracker` keeps and exports (validated at construction)."""

    #: Groups kept; the least recently seen one makes room for a new one.
    max_groups: int = 1000
    #: Breadcrumbs kept per context (thread, task), oldest dropped first.
    max_breadcrumbs: int = 50
    #: Exception classes, or regular expressions searched in ``"Type: message"``, not tracked.
    ignore: tuple[type[BaseException] | str, ...] = ()
    #: Share of repeated occurrences of a group exported as log records (the first always is;
    #: every occurrence is counted).
    repeat_sample_rate: float = 1.0
    #: Characters of ``exception.stacktrace`` exported.
    max_stacktrace: int = 8192

    def __post_init__(self) -> None:
        for name in ("max_groups", "max_breadcrumbs", "max_stacktrace"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        rate = self.repeat_sample_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"repeat_sample_rate must be within 0..1; got {rate!r}")
        ignore = (self.ignore,) if isinstance(self.ignore, (str, type)) else tuple(self.ignore)
        for item in ignore:
            if isinstance(item, str):
                try:
                    re.compile(item)
                except re.error as exc:
                    raise ValueError(f"ignore: {item!r} is not a valid regex: {exc}") from None
            elif not (isinstance(item, type) and issubclass(item, BaseException)):
                raise ValueError(
                    f"ignore entries must be exception classes or regexes; got {item!r}"
                )
        object.__setattr__(self, "ignore", ignore)


class ErrorTracker:
    """Groups exceptions by fingerprint and exports each one as an OpenTelemetry log record.

    ``capture(exc)`` never raises and returns the group's fingerprint (``None`` when ignored).
    Errors leave the process only through the logger provider (``resilience.error`` log
    events) and the ``resilience.errors`` counter (by category); ``groups()`` reads the local
    table. ``scrub`` cleans each message, stack trace and breadcrumb before it is templated,
    kept or exported; by default the exporters' redaction when installed, else the core's
    masks (``otel_resilience.tracking._scrub``); ``scrub=lambda text: text`` opts out. Options
    are those of :class:`TrackerOptions`.
    """

    def __init__(
        self,
        *,
        classifier: ErrorClassifier | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
        wall_clock: Callable[[], float] = time.time,
        scrub: Callable[[str], str] | None = None,
        **options: Any,
    ) -> None:
        self.options = opts = TrackerOptions(**options)
        if classifier is not None and not callable(getattr(classifier, "classify", None)):
            raise ValueError(f"classifier must be an ErrorClassifier, got {classifier!r}")
        if scrub is not None and not callable(scrub):
            raise ValueError(f"scrub must be callable, got {scrub!r}")
        self._scrub = scrub if scrub is not None else default_scrub()
        if not callable(wall_clock):
            raise ValueError(f"wall_clock must be callable, got {wall_clock!r}")
        self._classifier = classifier or DEFAULT_CLASSIFIER
        self._telemetry = Telemetry(tracer_provider, meter_provider, logger_provider)
        self._meter_provider = meter_provider
        self._counter: tuple[object, Any] | None = None
        self._wall = wall_clock
        self._table = GroupTable(opts.max_groups)
        self._lock = threading.Lock()
        self._random = random.Random()
        self._ignore_types = tuple(t for t in opts.ignore if isinstance(t, type))
        patterns = [p for p in opts.ignore if isinstance(p, str)]
        self._ignore_regex = (
            re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
        )
        self.trail = Trail(opts.max_breadcrumbs)
        #: A logging handler filling the trail; :meth:`install_hooks` adds it to the root logger.
        self.logging_handler = TrailHandler(self.trail)
        self._hooks: Hooks | None = None
        # Failures seen by TrackErrors strategies, per call still running: id(ctx) -> (ctx,
        # fingerprints, ids of the exceptions). Bounded: a call that never ends here (its last
        # strategy was innermost and it failed) is forgotten eventually.
        self.calls: LRUCache[int, tuple[object, list[str], set[int]]] = LRUCache(1024)

    # -- breadcrumbs ---------------------------------------------------------------------------

    def breadcrumb(
        self, message: str, *, category: str = "user", level: str = "info", **data: Any
    ) -> None:
        """Add a breadcrumb to the current context's trail (attached to its next errors).

        ``data`` values are kept as short ``repr()`` strings; this never raises."""
        try:
            self.trail.add(make_crumb(str(category), str(message), str(level), data))
        except Exception:  # a hostile message or key: the breadcrumb is dropped, not the call
            _log.debug("otel-resilience: a breadcrumb was dropped", exc_info=True)

    def breadcrumbs(self) -> tuple[Breadcrumb, ...]:
        """The current context's trail, oldest first."""
        return self.trail.get()

    # -- capture -------------------------------------------------------------------------------

    def capture(self, exc: BaseException, *, handled: bool = False) -> str | None:
        """Record ``exc``; its fingerprint, or ``None`` when ignored (never raises).

        ``handled``: a strategy saw it (it was retried or fell back), not the application.
        """
        try:
            return self._capture(exc, handled)
        except Exception:  # tracking an error must never raise another one
            _log.debug("otel-resilience: tracking %r failed", type(exc), exc_info=True)
            return None

    def _capture(self, exc: BaseException, handled: bool) -> str | None:
        if isinstance(exc, self._ignore_types):
            return None
        name = type_name(exc)
        message = _safe_str(exc)
        message = safe_scrub(self._scrub, message)
        if self._ignore_regex is not None and self._ignore_regex.search(f"{name}: {message}"):
            return None
        template = message_template(message)
        key = fingerprint(exc, template)
        info = self._classifier.classify(exc)
        span_context = trace.get_current_span().get_span_context()
        trace_id = format(span_context.trace_id, "032x") if span_context.is_valid else None
        now = self._wall()
        with self._lock:
            group = self._table.get(key)
            if group is None:
                group = Group(
                    key, name, template, info.category.value, info.severity.value, now, now
                )
                self._table.add(group)
            group.count += 1
            group.last_seen = now
            group.recovered = False
            if group.sample_trace_id is None:
                group.sample_trace_id = trace_id
            count = group.count
            export = count == 1 or self._random.random() < self.options.repeat_sample_rate
        self._count(info.category.value)
        if export:
            self._emit(exc, name, message, key, count, info.category.value, info.severity, handled)
        return key

    def mark_recovered(self, fingerprints: Iterable[str]) -> None:
        """The occurrences of these groups were retried or fell back successfully."""
        with self._lock:
            for key in fingerprints:
                group = self._table.get(key)
                if group is not None:
                    group.recovered_count += 1
                    group.recovered = True

    def groups(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The groups as dicts, most frequent first (at most ``limit``)."""
        with self._lock:
            groups = self._table.snapshot()
        return [g.as_dict() for g in groups[:limit]]

    @property
    def evicted(self) -> int:
        """Groups dropped to keep the table within ``max_groups``."""
        return self._table.evicted

    # -- pipelines and hooks -------------------------------------------------------------------

    def strategy(self) -> TrackErrors:
        """A new strategy reporting a pipeline's failures here (see docs/errors.md)."""
        from ._strategy import TrackErrors

        return TrackErrors(self)

    def install_hooks(self, *, loop: Any = None, logging_level: int | None = logging.INFO) -> None:
        """Track uncaught exceptions: ``sys.excepthook``, ``threading.excepthook`` and the
        exception handler of ``loop`` (else of the running loop, if any); previous hooks are
        still called. ``logging_level``: also add stdlib log records at or above it as
        breadcrumbs (``None``: not)."""
        from ._hooks import Hooks

        if self._hooks is not None:
            raise RuntimeError("hooks are already installed; call uninstall_hooks() first")
        self._hooks = Hooks(self, loop, logging_level)

    def uninstall_hooks(self) -> None:
        """Restore the hooks found by :meth:`install_hooks` (a no-op when not installed)."""
        hooks, self._hooks = self._hooks, None
        if hooks is not None:
            hooks.restore()

    # -- export --------------------------------------------------------------------------------

    def _count(self, category: str) -> None:
        inst = self._telemetry.instruments()
        cached = self._counter
        if cached is None or cached[0] is not inst:
            provider = self._meter_provider or metrics.get_meter_provider()
            counter = provider.get_meter(semconv.SCOPE_NAME, _VERSION).create_counter(
                semconv.METRIC_ERRORS, unit="{error}", description="Errors tracked, by category."
            )
            self._counter = cached = (inst, counter)
        try:
            cached[1].add(1, {semconv.ERROR_CATEGORY: category})
        except Exception:
            _log.debug("otel-resilience: counting an error failed", exc_info=True)

    def _emit(
        self,
        exc: BaseException,
        name: str,
        message: str,
        key: str,
        count: int,
        category: str,
        severity: Severity,
        handled: bool,
    ) -> None:
        logger = self._telemetry.instruments().logger
        if logger is None:
            return
        limit = self.options.max_stacktrace
        try:
            stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        except Exception:
            stack = f"{name}: <unprintable traceback>"
        crumbs = tuple(safe_scrub(self._scrub, c.render()) for c in self.trail.get())
        attrs: dict[str, Any] = {
            semconv.EXCEPTION_TYPE: name,
            semconv.EXCEPTION_MESSAGE: message,
            semconv.EXCEPTION_STACKTRACE: safe_scrub(self._scrub, stack[-limit:]),
            semconv.ERROR_FINGERPRINT: key,
            semconv.ERROR_GROUP_COUNT: count,
            semconv.ERROR_CATEGORY: category,
            semconv.ERROR_SEVERITY: severity.value,
            semconv.ERROR_HANDLED: handled,
            semconv.ERROR_BREADCRUMBS: crumbs,
        }
        number = _SEVERITY[severity]
        try:
            logger.emit(
                LogRecord(
                    timestamp=time.time_ns(),
                    event_name=semconv.LOG_EVENT_ERROR,
                    body=f"{name}: {message}",
                    attributes=attrs,
                    severity_number=number,
                    severity_text=number.name,
                )
            )
        except Exception:
            _log.debug("otel-resilience: exporting an error failed", exc_info=True)


#: Characters of an exception message read (the rest is cut: a huge message costs nothing).
_MESSAGE_MAX = 4096


def _safe_str(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        return "<unprintable exception>"
    return text if len(text) <= _MESSAGE_MAX else text[:_MESSAGE_MAX] + "..."
