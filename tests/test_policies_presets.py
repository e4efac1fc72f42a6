"""Presets http, llm, database, queue: from code and from files, overridable key by key."""

from __future__ import annotations

import pytest

from otel_resilience.circuit_breaker import CircuitBreaker
from otel_resilience.policies import PRESETS, PolicyError, load_policies, preset
from otel_resilience.retry import Retry
from otel_resilience.timeout import Timeout


@pytest.mark.parametrize("kind", ["http", "llm", "database", "queue"])
def test_every_preset_builds_retry_breaker_timeout(kind, fake_clock):
    """Each preset is Retry > CircuitBreaker > Timeout, with the documented numbers."""
    pipeline = preset(kind, f"dep-{kind}", clock=fake_clock)
    assert [type(s) for s in pipeline.strategies] == [Retry, CircuitBreaker, Timeout]
    retry, breaker, timeout = pipeline.strategies
    spec = {k: v for entry in PRESETS[kind] for k, v in entry.items()}
    assert retry.max_attempts == spec["retry"]["max_attempts"]
    assert breaker.options.break_duration == spec["circuit_breaker"]["break_duration"]
    assert breaker.name == f"dep-{kind}"  # one breaker per pipeline: per host, per model
    assert timeout.seconds == spec["timeout"]["seconds"]


def test_overrides_replace_single_keys(fake_clock):
    """An override changes the keys it names and keeps every other preset value."""
    pipeline = preset("http", "github", retry={"max_attempts": 5}, clock=fake_clock)
    retry = pipeline.strategies[0]
    assert retry.max_attempts == 5
    assert retry.options.base_delay == PRESETS["http"][0]["retry"]["base_delay"]
    assert retry.deadline == PRESETS["http"][0]["retry"]["deadline"]
    assert PRESETS["http"][0]["retry"]["max_attempts"] == 3  # the preset itself is untouched


def test_bad_override_names_the_key():
    """An invalid or unknown override is a PolicyError naming the key."""
    with pytest.raises(PolicyError) as info:
        preset("llm", "gpt", timeout={"seconds": 0})
    assert info.value.key == "pipelines.gpt.timeout.seconds"
    with pytest.raises(PolicyError, match=r"pipelines\.gpt\.retry\.max_tries: unknown option"):
        preset("llm", "gpt", retry={"max_tries": 2})
    with pytest.raises(
        PolicyError, match=r"pipelines\.gpt\.bulkhead: the pipeline has no bulkhead to override"
    ):
        preset("llm", "gpt", bulkhead={"max_concurrent": 2})


def test_file_preset_equals_code_preset(tmp_path):
    """preset = "database" in a file builds what preset("database", ...) builds."""
    path = tmp_path / "policies.toml"
    path.write_text('[pipelines.orders]\npreset = "database"\ntimeout = { seconds = 1 }\n')
    from_file = load_policies(path, environ={}).pipeline("orders").current
    from_code = preset("database", "orders", timeout={"seconds": 1})
    assert repr(from_file) == repr(from_code)
    assert from_file.strategies[2].seconds == 1


def test_database_preset_retries_connection_errors_only(fake_clock):
    """database: a connection error is retried, a timeout (the statement may have run) is not."""
    pipeline = preset("database", "orders", clock=fake_clock)
    calls: list[type[BaseException]] = []

    def fails_with(exc_type):
        def fn():
            calls.append(exc_type)
            raise exc_type("x")

        return fn

    with pytest.raises(ConnectionError):
        pipeline.call(fails_with(ConnectionError))
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(TimeoutError):
        pipeline.call(fails_with(TimeoutError))
    assert len(calls) == 1
