"""SLO.record(at=...) out of order or older than a ring: never erases newer counts."""

from __future__ import annotations

import math

import pytest

from otel_resilience import SLO
from otel_resilience.testing import FakeClock


def test_a_call_recorded_a_ring_turn_ago_keeps_the_current_minute():
    """A call 361 minutes old lands in the slot of the current minute: it must not reset it."""
    clock = FakeClock()
    clock.advance(86400.0)
    slo = SLO("s", objective=0.99, clock=clock)
    for _ in range(10):
        slo.record(False)
    slo.record(True, at=clock.monotonic() - 361 * 60.0)  # older than the 6h minute ring
    status = slo.status()
    assert status.burn_rates["5m"] == pytest.approx(1.0 / 0.01)
    assert status.bad == 10


def test_late_calls_out_of_order_all_count():
    """Calls recorded a few minutes late, interleaved with current ones, are all counted."""
    clock = FakeClock()
    clock.advance(3600.0)
    slo = SLO("s", objective=0.99, clock=clock)
    now = clock.monotonic()
    for i in range(6):
        slo.record(False, at=now)
        slo.record(True, at=now - 120.0 - i)
    status = slo.status()
    assert (status.calls, status.bad) == (12, 6)


@pytest.mark.parametrize("at", [math.nan, math.inf, -math.inf, "now"])
def test_record_refuses_an_impossible_time_naming_it(at):
    """``at`` that is not a finite number is a ValueError naming ``at``."""
    slo = SLO("s", clock=FakeClock())
    with pytest.raises(ValueError, match=r"^at must be"):
        slo.record(True, at=at)
