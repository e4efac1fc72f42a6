"""Where pipelines hand each recorded call to the SLOs watching them (see otel_resilience.slo).

Kept apart from the SLO package so a pipeline pays one empty-list check when no SLO exists and
never imports the SLO code.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

__all__ = ["SINKS", "active", "observe", "register"]

_log = logging.getLogger(__name__)

#: Live SLOs, weakly held.
SINKS: weakref.WeakSet[Any] = weakref.WeakSet()
#: True once an SLO was made: pipelines test this plain flag (a WeakSet's len is a Python call).
active = False
_lock = threading.Lock()


def register(slo: Any) -> None:
    """Have ``slo._observe(pipeline, outcome, seconds)`` called for every recorded call."""
    global active
    with _lock:
        SINKS.add(slo)
        active = True


def observe(pipeline: str, outcome: str, seconds: float) -> None:
    """One call of ``pipeline`` ended with ``outcome`` after ``seconds``; never raises."""
    for slo in list(SINKS):
        try:
            slo._observe(pipeline, outcome, seconds)
        except Exception:  # an SLO must never fail the call it counts
            _log.debug("otel-resilience: SLO %r failed to count a call", slo, exc_info=True)
