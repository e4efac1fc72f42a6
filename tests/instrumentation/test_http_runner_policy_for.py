"""HttpRunner.policy_for: the policy a request to a URL would get, before it is sent."""

from __future__ import annotations

from typing import Any

from otel_resilience_instrumentation._http import HttpPolicy, HttpRunner


class _NoResponses:
    """An adapter never asked anything: policy_for sends nothing."""

    def status(self, response: Any) -> int:
        raise AssertionError("no response expected")

    def protocol_version(self, response: Any) -> str | None:
        raise AssertionError("no response expected")

    def watch_body(self, response: Any, done: Any) -> None:
        raise AssertionError("no response expected")


def test_policy_for_matches_host_port_wildcard_and_default():
    """The most specific policy wins, as for send(); a broken URL gets the default."""
    default, port, wild, off = (
        HttpPolicy(),
        HttpPolicy(max_attempts=2),
        HttpPolicy(max_attempts=4),
        HttpPolicy(enabled=False),
    )
    runner = HttpRunner(
        _NoResponses(),
        policies={"*": default, "a.test:8080": port, "*.b.test": wild, "off.test": off},
        environ={},
    )
    assert runner.policy_for("http://a.test:8080/x") is port
    assert runner.policy_for("http://a.test/x") is default
    assert runner.policy_for("https://x.b.test/") is wild
    assert runner.policy_for("http://off.test/?q=1") is off
    assert runner.policy_for("http://[broken/") is default
