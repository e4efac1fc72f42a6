"""The policy file builds real retry budgets (shared by name) and chaos strategies."""

from __future__ import annotations

import pytest

from otel_resilience import Chaos, RetryBudget
from otel_resilience.policies import PolicyError, load_policies
from otel_resilience.testing import FakeClock

FILE = """
[budgets.shared]
max_tokens = 20
token_ratio = 0.2

[pipelines.a]
strategies = [
  { retry = { max_attempts = 3, base_delay = 0.0, jitter = false, budget = "shared" } },
  { chaos = { type = "fault", rate = 1.0, error = "ConnectionError", seed = 7, enabled = true } },
]

[pipelines.b]
strategies = [{ retry = { budget = "shared" } }]
"""


def test_budget_is_shared_by_name_and_chaos_injects(tmp_path):
    """Both Retries hold the one [budgets.shared]; the chaos fault reaches every attempt and
    each failed attempt is charged to the shared budget."""
    path = tmp_path / "policies.toml"
    path.write_text(FILE)
    policies = load_policies(path, environ={}, clock=FakeClock())
    retry_a, chaos = policies.pipeline("a").current.strategies
    (retry_b,) = policies.pipeline("b").current.strategies
    assert isinstance(chaos, Chaos)
    assert isinstance(retry_a._budget, RetryBudget)
    assert retry_a._budget is retry_b._budget
    assert retry_a._budget.name == "shared"
    called = []
    with pytest.raises(ConnectionError):
        policies.pipeline("a").call(lambda: called.append(1))
    assert called == []  # the fault replaced every attempt
    assert retry_a._budget.tokens() == pytest.approx(17.0)  # three failed attempts


def test_unknown_chaos_error_names_the_path(tmp_path):
    """An exception the file may not name is a PolicyError naming its TOML path."""
    path = tmp_path / "policies.toml"
    path.write_text(FILE.replace('"ConnectionError"', '"os.system"'))
    with pytest.raises(PolicyError, match=r"pipelines\.a\.strategies\[1\]\.chaos\.error"):
        load_policies(path, environ={})
