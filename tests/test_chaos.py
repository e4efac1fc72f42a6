"""Chaos: faults, latency and results in a seeded share of calls; off by default; the guard."""

from __future__ import annotations

import asyncio
import logging
import random

import httpx
import pytest
from core_support import http_response

from otel_resilience import Pipeline, Retry, semconv
from otel_resilience._strategy import UsageError
from otel_resilience.chaos import Chaos
from otel_resilience.chaos._core import environment_name, resolve_enabled


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """No chaos or environment variable leaks in from the machine running the tests."""
    for name in (
        "OTEL_RESILIENCE_CHAOS",
        "OTEL_RESILIENCE_ENVIRONMENT",
        "OTEL_RESILIENCE_CHAOS_ALLOW_PRODUCTION",
        "OTEL_RESOURCE_ATTRIBUTES",
    ):
        monkeypatch.delenv(name, raising=False)


def _hits(seed: int, rate: float, n: int) -> list[bool]:
    draw = random.Random(seed).random
    return [draw() < rate for _ in range(n)]


class Counted:
    """The protected dependency: counts calls, returns "ok"."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return "ok"


def test_a_fault_replaces_the_call_in_the_seeded_share(run, fake_clock):
    """rate=0.3, seed=7: exactly the calls the seed picks raise, and never reach the dependency."""
    chaos = Chaos.fault(rate=0.3, error=ConnectionError, seed=7, enabled=True)
    pipeline = Pipeline("p", chaos, clock=fake_clock)
    dep = Counted()
    outcomes = []
    for _ in range(200):
        try:
            outcomes.append(run(pipeline, dep))
        except ConnectionError as exc:
            outcomes.append(str(exc))
    expected = _hits(7, 0.3, 200)
    assert outcomes == ["injected by otel-resilience Chaos" if hit else "ok" for hit in expected]
    assert dep.calls == 200 - sum(expected)


def test_an_error_instance_is_copied_for_each_injection(run, fake_clock):
    """Each injection raises a fresh copy of the instance, with its message and attributes."""
    error = TimeoutError("slow upstream")
    error.code = 504  # type: ignore[attr-defined]
    pipeline = Pipeline("p", Chaos.fault(rate=1.0, error=error, enabled=True), clock=fake_clock)
    first = run.raises(TimeoutError, pipeline, Counted())
    second = run.raises(TimeoutError, pipeline, Counted())
    assert first is not error
    assert second is not first
    assert (str(first), first.code) == ("slow upstream", 504)


def test_an_error_needing_keyword_arguments_is_rebuilt(run, fake_clock):
    """An httpx.HTTPStatusError (keyword-only constructor) is injected as a fresh copy."""
    response = http_response(503)
    error = httpx.HTTPStatusError("boom", request=response.request, response=response)
    pipeline = Pipeline("p", Chaos.fault(rate=1.0, error=error, enabled=True), clock=fake_clock)
    raised = run.raises(httpx.HTTPStatusError, pipeline, Counted())
    assert raised is not error
    assert str(raised) == "boom"
    assert raised.response is response


class Stubborn(Exception):
    """An exception that cannot be built again from its args."""

    def __new__(cls, *args: object) -> Stubborn:
        if args:
            raise TypeError("no")
        return super().__new__(cls)


def test_an_uncopyable_error_is_raised_without_its_old_traceback(run, fake_clock):
    """The last resort re-raises the instance, its traceback reset so it does not grow."""
    error = Stubborn()
    error.args = ("stubborn",)
    pipeline = Pipeline("p", Chaos.fault(rate=1.0, error=error, enabled=True), clock=fake_clock)
    depths = []
    for _ in range(3):
        raised = run.raises(Stubborn, pipeline, Counted())
        assert raised is error
        tb, depth = raised.__traceback__, 0
        while tb is not None:
            tb, depth = tb.tb_next, depth + 1
        depths.append(depth)
    assert depths[0] == depths[1] == depths[2]


def test_latency_sleeps_on_the_clock_then_calls(run, fake_clock):
    """Hit calls sleep ``seconds`` on the pipeline's clock, then reach the dependency."""
    chaos = Chaos.latency(rate=0.5, seconds=2.5, seed=3, enabled=True)
    pipeline = Pipeline("p", chaos, clock=fake_clock)
    dep = Counted()
    for _ in range(20):
        assert run(pipeline, dep) == "ok"
    assert dep.calls == 20
    assert fake_clock.sleeps == [2.5] * sum(_hits(3, 0.5, 20))


def test_a_result_replaces_the_call(run, fake_clock):
    """Hit calls return ``value`` without calling the dependency."""
    pipeline = Pipeline(
        "p", Chaos.result(rate=1.0, value={"price": -1}, enabled=True), clock=fake_clock
    )
    dep = Counted()
    assert run(pipeline, dep) == {"price": -1}
    assert dep.calls == 0


def test_off_by_default_and_on_with_the_environment(run, fake_clock, monkeypatch):
    """Without enabled= nor OTEL_RESILIENCE_CHAOS nothing is injected; =true switches it on."""
    dep = Counted()
    off = Chaos.fault(rate=1.0, error=ConnectionError)
    assert off.enabled is False
    assert run(Pipeline("p", off, clock=fake_clock), dep) == "ok"
    monkeypatch.setenv("OTEL_RESILIENCE_CHAOS", "TRUE")
    on = Chaos.fault(rate=1.0, error=ConnectionError)
    assert on.enabled is True
    run.raises(ConnectionError, Pipeline("q", on, clock=fake_clock), dep)
    assert Chaos.fault(rate=1.0, error=ConnectionError, enabled=False).enabled is False
    monkeypatch.setenv("OTEL_RESILIENCE_CHAOS", "1")  # only "true" counts
    assert Chaos.fault(rate=1.0, error=ConnectionError).enabled is False


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"OTEL_RESILIENCE_ENVIRONMENT": "Production"}, "Production"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=x,deployment.environment.name=prod"}, "prod"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=live"}, "live"),
        ({"OTEL_RESILIENCE_ENVIRONMENT": "prd", "OTEL_RESOURCE_ATTRIBUTES": ""}, "prd"),
    ],
)
def test_the_production_guard_keeps_chaos_off(monkeypatch, caplog, env, name):
    """In an environment named like production, even enabled=True stays off, with a warning."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with caplog.at_level(logging.WARNING, logger="otel_resilience.chaos.strategy"):
        chaos = Chaos.fault(rate=1.0, error=ConnectionError, enabled=True)
    assert chaos.enabled is False
    assert name in caplog.text
    assert "OTEL_RESILIENCE_CHAOS_ALLOW_PRODUCTION" in caplog.text
    monkeypatch.setenv("OTEL_RESILIENCE_CHAOS_ALLOW_PRODUCTION", "true")
    assert Chaos.fault(rate=1.0, error=ConnectionError, enabled=True).enabled is True


def test_environment_names_other_than_production_allow_chaos():
    """staging, an empty name or no name at all do not trigger the guard."""
    assert resolve_enabled(True, {"OTEL_RESILIENCE_ENVIRONMENT": "staging"}) == (True, None)
    assert resolve_enabled(True, {"OTEL_RESILIENCE_ENVIRONMENT": " "}) == (True, None)
    assert environment_name({"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name="}) is None
    assert environment_name({"OTEL_RESILIENCE_ENVIRONMENT": "qa"}) == "qa"


def test_injections_are_counted_and_marked_on_the_span(run, fake_clock, otel_capture):
    """Each injection: counter chaos_injected with its kind, span attribute and span event."""
    chaos = Chaos.result(rate=0.5, value="cached", seed=11, enabled=True)
    pipeline = Pipeline("p", chaos, clock=fake_clock, **otel_capture.providers)
    for _ in range(30):
        run(pipeline, Counted())
    hits = _hits(11, 0.5, 30)
    spans = otel_capture.spans("p")
    assert [s.attributes.get(semconv.CHAOS_INJECTED, False) for s in spans] == hits
    for span, hit in zip(spans, hits, strict=True):
        kinds = [e.attributes[semconv.CHAOS_KIND] for e in span.events]
        assert kinds == ([semconv.CHAOS_KIND_RESULT] if hit else [])
    (point,) = otel_capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.EVENT: semconv.EVENT_CHAOS_INJECTED}
    )
    assert point.value == sum(hits)
    assert point.attributes[semconv.STRATEGY] == semconv.STRATEGY_CHAOS
    assert point.attributes[semconv.CHAOS_KIND] == semconv.CHAOS_KIND_RESULT


class NeedsTwo(Exception):
    """An exception class that cannot be built from one message."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(a, b)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "fault", "rate": 0.5, "error": "boom"}, "error"),
        ({"kind": "fault", "rate": 0.5, "error": KeyboardInterrupt}, "error"),
        ({"kind": "fault", "rate": 0.5, "error": NeedsTwo}, "error"),
        ({"kind": "fault", "rate": 0, "error": ValueError}, "rate"),
        ({"kind": "fault", "rate": 1.5, "error": ValueError}, "rate"),
        ({"kind": "latency", "rate": 0.5}, "seconds"),
        ({"kind": "latency", "rate": 0.5, "seconds": -1}, "seconds"),
        ({"kind": "latency", "rate": 0.5, "seconds": float("nan")}, "seconds"),
        ({"kind": "result", "rate": 0.5, "seed": "7"}, "seed"),
        ({"kind": "result", "rate": 0.5, "enabled": "true"}, "enabled"),
        ({"kind": "flood", "rate": 0.5}, "kind"),
    ],
)
def test_invalid_options_fail_fast_naming_the_field(kwargs, field):
    """Every invalid option is a ValueError naming its field, at construction."""
    with pytest.raises(ValueError, match=field):
        Chaos(**kwargs)


def test_repr_shows_kind_rate_and_whether_enabled():
    """repr tells at a glance whether a Chaos will inject."""
    assert repr(Chaos.latency(rate=0.1, seconds=1)) == (
        "Chaos(kind='latency', rate=0.1, enabled=False)"
    )


def test_a_switched_off_chaos_gets_no_layer(run, fake_clock):
    """Off, a Chaos is left out of the pipeline's layers; calls and misuse checks still work."""
    off = Chaos.fault(rate=1.0, error=ConnectionError, enabled=False)
    alone = Pipeline("p", off, clock=fake_clock)
    assert alone._sync_outer is None
    assert alone._async_outer is None
    assert run(alone, Counted()) == "ok"
    with_retry = Pipeline("q", Retry(), off, clock=fake_clock)
    assert [s for _, s in with_retry._sync_layers] == []  # only the Retry, called directly
    with pytest.raises(UsageError):
        asyncio.run(with_retry.acall(lambda: "not awaitable"))
