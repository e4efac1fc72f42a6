"""Where pipelines hand each recorded call to the SLOs watching them (see otel_resilience.slo).

Kept apart from the SLO package so a pipeline pays one flag check when no SLO exists and never
imports the SLO code.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

__all__ = ["active", "live", "observe", "register"]

_log = logging.getLogger(__name__)

#: True once an SLO was made: pipelines test this plain flag before calling observe().
active = False
# Weak references to the live SLOs, replaced (never mutated) on register: calls iterate it
# without a lock while another thread registers an SLO.
_sinks: tuple[weakref.ref[Any], ...] = ()
_lock = threading.Lock()


def register(slo: Any) -> None:
    """Have ``slo._observe(pipeline, outcome, seconds)`` called for every recorded call."""
    global active, _sinks
    with _lock:
        _sinks = (*(ref for ref in _sinks if ref() is not None), weakref.ref(slo))
        active = True


def live() -> list[Any]:
    """The SLOs still referenced, in the order they were made (read by ``/reliability``)."""
    return [slo for slo in (ref() for ref in _sinks) if slo is not None]


def observe(pipeline: str, outcome: str, seconds: float) -> None:
    """One call of ``pipeline`` ended with ``outcome`` after ``seconds``; never raises."""
    for ref in _sinks:
        slo = ref()
        if slo is None:
            continue
        try:
            slo._observe(pipeline, outcome, seconds)
        except Exception:  # an SLO must never fail the call it counts
            _log.debug("otel-resilience: SLO %r failed to count a call", slo, exc_info=True)
