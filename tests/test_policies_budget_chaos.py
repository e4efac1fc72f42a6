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


def test_adaptive_threshold_is_a_table_and_survives_an_unchanged_reload(tmp_path):
    """`adaptive = { ... }` builds an AdaptiveThreshold, inline and as a registry default; a
    bad option names its path; an unchanged file keeps the same breaker."""
    from otel_resilience import AdaptiveThreshold

    path = tmp_path / "policies.toml"
    text = """
[breaker_registries.hosts]
adaptive = { min_ratio = 0.2, max_ratio = 0.8 }
[pipelines.a]
strategies = [{ circuit_breaker = { adaptive = { min_ratio = 0.3 } } }]
[pipelines.b]
strategies = [{ circuit_breaker = { registry = "hosts", key = "x" } }]
"""
    path.write_text(text)
    policies = load_policies(path, environ={}, clock=FakeClock())
    (inline,) = policies.pipeline("a").current.strategies
    (keyed,) = policies.pipeline("b").current.strategies
    assert inline.options.adaptive == AdaptiveThreshold(min_ratio=0.3)
    assert keyed.options.adaptive == AdaptiveThreshold(min_ratio=0.2, max_ratio=0.8)
    path.write_text(text + "\n# touched: a new content hash, the same options\n")
    assert policies.reload() is True
    assert policies.pipeline("a").current.strategies[0] is inline  # kept, not rebuilt
    path.write_text(text.replace("min_ratio = 0.3", "min_rate = 0.3"))
    with pytest.raises(PolicyError, match=r"pipelines\.a\.strategies\[0\]\.circuit_breaker"):
        load_policies(path, environ={})
