"""SLO: error budget and multi-window burn-rate state in process, fed by pipelines' metrics."""

from __future__ import annotations

import gc

import pytest

from otel_resilience import SLO, CircuitBreaker, Fallback, Pipeline, semconv
from otel_resilience.slo._core import BurnCore
from otel_resilience.slo.options import SLOOptions, format_window, parse_window
from otel_resilience.testing import FakeClock

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0


def feed(slo: SLO, clock: FakeClock, minutes: int, good: int, bad: int, step: int = 1) -> None:
    """``good`` and ``bad`` calls every ``step`` minutes for ``minutes``, the clock moving on."""
    for _ in range(0, minutes, step):
        clock.advance(step * MINUTE)
        for _ in range(good):
            slo.record(True)
        for _ in range(bad):
            slo.record(False)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"objective": 1.0}, "objective"),
        ({"objective": 0}, "objective"),
        ({"objective": True}, "objective"),
        ({"window": "30x"}, "window"),
        ({"window": "10s"}, "window"),
        ({"window": "400d"}, "window"),
        ({"pipeline": ""}, "pipeline"),
        ({"latency_threshold": 0}, "latency_threshold"),
        ({"latency_threshold": float("nan")}, "latency_threshold"),
        ({"clock": object()}, "clock"),
        ({"meter_provider": object()}, "meter_provider"),
    ],
)
def test_invalid_options_name_the_field(kwargs, field):
    """A bad option is a ValueError that starts with the field's name."""
    args = {"name": "s", **kwargs}
    with pytest.raises(ValueError, match=rf"^{field} must"):
        SLO(**args)


def test_windows_parse_and_format():
    """Durations read as seconds and print back in Prometheus syntax."""
    assert parse_window("w", "30d") == 30 * DAY
    assert parse_window("w", "90m") == 90 * MINUTE
    assert parse_window("w", "1w") == 7 * DAY
    assert parse_window("w", 7200) == 2 * HOUR
    assert [format_window(s) for s in (30 * DAY, 6 * HOUR, 300, 7 * DAY, 90)] == [
        "30d", "6h", "5m", "1w", "90s",
    ]  # fmt: skip


def test_a_fast_burn_pages_and_the_short_window_resets_it(fake_clock):
    """5 % errors for an hour burns 50x: page (and ticket); 35 good minutes end the page."""
    slo = SLO("s", objective=0.999, clock=fake_clock)
    feed(slo, fake_clock, 60, good=95, bad=5)
    status = slo.status()
    assert status.burn_rates["1h"] == pytest.approx(50.0)
    assert status.burn_rates["5m"] == pytest.approx(50.0)
    assert status.alerts == {"page": True, "ticket": True}
    assert (status.calls, status.bad) == (6000, 300)
    assert status.error_budget_remaining == pytest.approx(1 - 0.05 / 0.001)
    feed(slo, fake_clock, 10, good=100, bad=0)
    assert slo.status().alerts["page"] is True  # 6h/30m: the 30 minutes still hold errors
    feed(slo, fake_clock, 25, good=100, bad=0)
    after = slo.status()
    assert after.burn_rates["5m"] == after.burn_rates["30m"] == 0.0  # short windows: all good
    assert (after.burn_rates["1h"] > 14.4, after.burn_rates["6h"] > 6) == (True, True)
    assert after.alerts == {"page": False, "ticket": True}


def test_a_slow_burn_only_tickets(fake_clock):
    """2 % errors (2x of 99 %) for three days: the ticket alert fires, the page alert not."""
    slo = SLO("s", objective=0.99, clock=fake_clock)
    feed(slo, fake_clock, 3 * 24 * 60, good=49, bad=1, step=5)
    status = slo.status()
    for window in ("5m", "30m", "1h", "6h", "3d"):
        assert status.burn_rates[window] == pytest.approx(2.0), window
    assert status.alerts == {"page": False, "ticket": True}
    assert status.error_budget_remaining == pytest.approx(1 - 2.0)  # 3 of 30 days at 2x
    # Not a long-window artefact: half the rate (1x exactly) does not fire the ticket.
    calm = SLO("calm", objective=0.98, clock=fake_clock)
    feed(calm, fake_clock, 6 * 60, good=49, bad=1, step=5)
    assert calm.status().alerts == {"page": False, "ticket": False}


def test_a_burst_at_6x_pages_through_the_6h_pair(fake_clock):
    """1 % errors (10x) for six hours: 1h/5m stays under 14.4x, 6h/30m over 6x pages."""
    slo = SLO("s", objective=0.999, clock=fake_clock)
    feed(slo, fake_clock, 6 * 60, good=99, bad=1)
    status = slo.status()
    assert status.burn_rates["1h"] == pytest.approx(10.0)
    assert status.alerts["page"] is True


def test_old_calls_leave_the_window_and_memory_stays_fixed(fake_clock):
    """Calls older than the window stop counting; bucket count does not grow with traffic."""
    slo = SLO("s", objective=0.99, window="1d", clock=fake_clock)
    core = slo._core
    slots = [ring.count for ring in core._rings]
    feed(slo, fake_clock, 120, good=0, bad=10)
    assert slo.status().error_budget_remaining < 0
    fake_clock.advance(DAY + HOUR)
    status = slo.status()
    assert (status.calls, status.bad, status.error_budget_remaining) == (0, 0, 1.0)
    assert [ring.count for ring in core._rings] == slots
    assert slots == [361, 289, 721]


def test_each_ring_reads_its_own_windows():
    """A 30-day SLO reads 5m..6h from minute buckets, 3d from 15-minute ones, 30d from hours."""
    core = BurnCore(SLOOptions(name="s"))
    assert [r.width for r in core._rings] == [60.0, 900.0, 3600.0]
    clock = 10 * DAY
    core.add(clock - 2 * DAY, bad=True)  # only the 3d and 30d windows see it
    core.add(clock - 10 * DAY + 1, bad=True)  # only the 30d window
    core.add(clock, bad=False)
    assert core.sums(clock, 6 * HOUR) == (0, 1)
    assert core.sums(clock, 3 * DAY) == (1, 2)
    assert core.sums(clock, 30 * DAY) == (2, 3)


def test_pipelines_feed_their_slos_by_name(run, fake_clock, otel_capture):
    """Failures and rejections are bad, fallbacks good; another pipeline's calls do not count."""
    slo = SLO("avail", pipeline="p", clock=fake_clock)
    everyone = SLO("all", clock=fake_clock)
    breaker = CircuitBreaker(failure_ratio=1.0, minimum_calls=2)
    p = Pipeline("p", breaker, clock=fake_clock, **otel_capture.providers)
    q = Pipeline("q", Fallback(value="x"), clock=fake_clock, **otel_capture.providers)

    def boom():
        raise ConnectionError("down")

    for _ in range(3):  # fail, fail (opens), rejected
        run.raises(Exception, p, boom)
    assert run(q, boom) == "x"
    status = slo.status()
    assert (status.calls, status.bad) == (3, 3)
    assert (everyone.status().calls, everyone.status().bad) == (4, 3)


def test_a_latency_slo_counts_slow_calls_as_bad(run, fake_clock, otel_capture):
    """With latency_threshold a call is bad when slower than it, whatever its outcome."""
    slo = SLO("fast", pipeline="p", latency_threshold=0.5, clock=fake_clock)
    p = Pipeline("p", clock=fake_clock, **otel_capture.providers)

    def takes(seconds):
        def fn():
            fake_clock.advance(seconds)
            return "ok"

        return fn

    for seconds in (0.1, 0.5, 0.7, 2.0):
        assert run(p, takes(seconds)) == "ok"
    assert (slo.status().calls, slo.status().bad) == (4, 2)


def test_gauges_report_budget_burn_rates_and_alerts(fake_clock, otel_capture):
    """The three observable gauges carry the status, labelled by SLO name (and window/severity)."""
    slo = SLO("s", clock=fake_clock, meter_provider=otel_capture.meter_provider)
    feed(slo, fake_clock, 60, good=95, bad=5)
    (budget,) = otel_capture.metric_points(semconv.METRIC_SLO_ERROR_BUDGET_REMAINING)
    assert budget.attributes == {semconv.SLO_NAME: "s"}
    assert budget.value == pytest.approx(slo.status().error_budget_remaining)
    rates = {
        p.attributes[semconv.SLO_BURN_WINDOW]: p.value
        for p in otel_capture.metric_points(semconv.METRIC_SLO_BURN_RATE, **{semconv.SLO_NAME: "s"})
    }
    assert rates == pytest.approx(slo.status().burn_rates)
    alerts = {
        p.attributes[semconv.SLO_SEVERITY]: p.value
        for p in otel_capture.metric_points(semconv.METRIC_SLO_ALERT)
    }
    assert alerts == {semconv.SLO_SEVERITY_PAGE: 1, semconv.SLO_SEVERITY_TICKET: 1}


class _Broken(SLO):
    __slots__ = ()

    def _observe(self, pipeline, outcome, seconds):
        raise RuntimeError("hostile SLO")


def test_a_failing_slo_never_fails_the_call(run, fake_clock, otel_capture):
    """An SLO that raises while counting leaves the call's result and the other SLOs intact."""
    broken = _Broken("broken", clock=fake_clock)
    fine = SLO("fine", clock=fake_clock)
    p = Pipeline("p", clock=fake_clock, **otel_capture.providers)
    assert run(p, lambda: 42) == 42
    assert fine.status().calls == 1
    del broken
    gc.collect()
