"""OTEL_RESILIENCE_HTTP_BASE_DELAY and _MAX_DELAY are checked against each other, not against
the other's default."""

from __future__ import annotations

import logging

import pytest
from otel_resilience_instrumentation.policy import HttpPolicy, policy_from_env


@pytest.mark.parametrize(
    ("base", "top"),
    [("0.01", "0.05"), ("45", "60")],  # a max below the default base; a base above the default max
)
def test_delays_valid_together_are_both_taken(base, top, caplog):
    """A pair valid together is used as given, with no warning, even when one of them alone
    would clash with the other's default (base 0.2 s, max 30 s)."""
    env = {"OTEL_RESILIENCE_HTTP_BASE_DELAY": base, "OTEL_RESILIENCE_HTTP_MAX_DELAY": top}
    with caplog.at_level(logging.WARNING):
        policy = policy_from_env(env, strict=True)
        assert policy_from_env(env) == policy
    assert (policy.base_delay, policy.max_delay) == (float(base), float(top))
    assert caplog.records == []


def test_delays_inconsistent_together_fall_back_or_raise_when_strict(caplog):
    """A max below the base is still refused: defaults with a warning, ValueError if strict."""
    env = {"OTEL_RESILIENCE_HTTP_BASE_DELAY": "1", "OTEL_RESILIENCE_HTTP_MAX_DELAY": "0.5"}
    with caplog.at_level(logging.WARNING):
        assert policy_from_env(env) == HttpPolicy()
    assert "inconsistent" in caplog.text
    with pytest.raises(ValueError, match="max_delay"):
        policy_from_env(env, strict=True)


def test_a_negative_max_delay_alone_is_named():
    """An invalid max delay alone still raises naming its variable when strict."""
    with pytest.raises(ValueError, match="OTEL_RESILIENCE_HTTP_MAX_DELAY"):
        policy_from_env({"OTEL_RESILIENCE_HTTP_MAX_DELAY": "-1"}, strict=True)
