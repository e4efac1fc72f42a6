"""The I/O-free part of Shadow: one sampled call's record, the counters, the slot bound."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["Job", "ShadowStats", "Slots", "score_of", "verdict_of"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShadowStats:
    """Counters of a Shadow since construction (or ``reset_stats()``)."""

    #: Calls chosen for a shadow call.
    sampled: int = 0
    #: Sampled calls whose shadow call was dropped: every slot was taken.
    dropped: int = 0
    #: Shadow calls finished (succeeded, failed or timed out).
    completed: int = 0
    #: Shadow calls that raised, returned a failing result, or timed out.
    failed: int = 0
    #: Of the failed: ran past ``timeout`` (async: cancelled; sync: finished late).
    timed_out: int = 0
    #: Calls where both primary and candidate succeeded and were compared.
    compared: int = 0
    #: Of the compared: scored 1 (``True`` or 1.0).
    agreed: int = 0
    #: Sum of the compare scores (mean agreement = agreement_sum / compared).
    agreement_sum: float = 0.0
    #: Compare functions that raised (the comparison is then not counted).
    compare_errors: int = 0

    @property
    def agreement(self) -> float | None:
        """Mean compare score, or ``None`` before the first comparison."""
        return self.agreement_sum / self.compared if self.compared else None


class Slots:
    """At most ``limit`` shadow calls in flight; counters updated under one lock."""

    __slots__ = ("_cond", "counts", "in_flight", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._cond = threading.Condition()
        self.counts: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        """Zero the counters (not the calls in flight)."""
        with self._cond:
            self.counts = dict.fromkeys(ShadowStats.__dataclass_fields__, 0)
            self.counts["agreement_sum"] = 0.0

    def after_fork(self) -> None:
        """In a forked child: no call is in flight (the parent's threads stayed behind)."""
        self._cond = threading.Condition()
        self.in_flight = 0

    def take(self) -> bool:
        """Count a sampled call and take a slot; ``False`` (counted as dropped) when full."""
        with self._cond:
            self.counts["sampled"] += 1
            if self.in_flight >= self.limit:
                self.counts["dropped"] += 1
                return False
            self.in_flight += 1
            return True

    def release(self, failed: bool, timed_out: bool, score: float | None, errored: bool) -> None:
        """Record a finished shadow call and give its slot back."""
        with self._cond:
            counts = self.counts
            counts["completed"] += 1
            counts["failed"] += failed
            counts["timed_out"] += timed_out
            counts["compare_errors"] += errored
            if score is not None:
                counts["compared"] += 1
                counts["agreed"] += score >= 1.0
                counts["agreement_sum"] += score
            self.in_flight -= 1
            self._cond.notify_all()

    def give_back(self) -> None:
        """Release a slot whose shadow call never started."""
        with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def snapshot(self) -> ShadowStats:
        """The counters now."""
        with self._cond:
            return ShadowStats(**self.counts)

    def wait_idle(self, timeout: float | None) -> bool:
        """Block until no shadow call is in flight; ``False`` if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self.in_flight == 0, timeout)


class Job:
    """One sampled call: its arguments, the primary's outcome, and where to report."""

    __slots__ = (
        "args",
        "inst",
        "is_failure",
        "kwargs",
        "link",
        "pipeline",
        "primary",
        "primary_failed",
        "primary_latency",
    )

    def __init__(
        self,
        pipeline: str,
        inst: Any,
        link: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        primary: Any,
        primary_failed: bool,
        primary_latency: float,
        is_failure: Any,
    ) -> None:
        self.pipeline = pipeline
        self.inst = inst
        self.link = link
        self.args = args
        self.kwargs = kwargs
        self.primary = primary
        self.primary_failed = primary_failed
        self.primary_latency = primary_latency
        self.is_failure = is_failure  # the pipeline's is_failure_result, for the candidate too


def score_of(compare: Any, primary: Any, candidate: Any) -> tuple[float | None, bool]:
    """``(score, raised)``: the compare score clamped to [0, 1]; ``None`` when it raised."""
    try:
        value = compare(primary, candidate)
        score = float(value)
    except BaseException:  # runs in the background: nothing may leave its slot taken
        _log.debug("otel-resilience: a shadow compare function raised", exc_info=True)
        return None, True
    if math.isnan(score):  # no verdict
        return None, True
    return min(1.0, max(0.0, score)), False


def verdict_of(
    compare: Any, job: Job, value: Any, error: BaseException | None, timed_out: bool
) -> tuple[bool, float | None, bool]:
    """``(failed, score, compare raised)`` of one shadow call: runs the user's result predicate
    and compare function, which never raise out of here."""
    failed = timed_out or error is not None
    if not failed:
        try:
            failed = bool(job.is_failure(value))
        except BaseException:  # runs in the background: nothing may leave its slot taken
            failed = False
    if failed or job.primary_failed:
        return failed, None, False
    score, errored = score_of(compare, job.primary, value)
    return False, score, errored
