"""RetryBudget accounting, I/O-free: invariants against a model (hypothesis), percent window."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_resilience.retry_budget import RetryBudget, RetryBudgetOptions
from otel_resilience.retry_budget._core import PercentCore, TokenCore

# An operation: True for a success, or (False, retry wanted) for a failure worth retrying.
_OPS = st.lists(st.one_of(st.just(True), st.tuples(st.just(False), st.booleans())), max_size=300)


@given(
    max_tokens=st.integers(min_value=1, max_value=50),
    ratio=st.integers(min_value=1, max_value=3000).map(lambda m: m / 1000),
    ops=_OPS,
)
def test_tokens_follow_the_grpc_model_step_by_step(max_tokens, ratio, ops):
    """Tokens stay in [0, max]; a retry is allowed exactly when tokens after the charge > half."""
    core = TokenCore(RetryBudgetOptions(max_tokens=max_tokens, token_ratio=ratio))
    cap, step = max_tokens * 1000, round(ratio * 1000)
    model = cap  # thousandths of a token, updated one event at a time as gRPC does
    for op in ops:
        if op is True:
            core.success(True, 0.0)
            model = min(cap, model + step)
        else:
            allowed = core.failure(False, op[1], 0.0)
            model = max(0, model - 1000)
            assert allowed == (op[1] and model * 2 > cap)
        tokens = core.tokens(0.0)
        assert 0.0 <= tokens <= max_tokens
        assert tokens == model / 1000


def test_successes_beyond_a_full_refill_are_clamped():
    """A million successes on an empty budget leave it at max_tokens, holding a bounded queue."""
    core = TokenCore(RetryBudgetOptions(max_tokens=10, token_ratio=0.1))
    for _ in range(20):
        core.failure(True, True, 0.0)
    assert core.tokens(0.0) == 0.0
    for _ in range(1_000_000):
        core.success(True, 0.0)
    assert len(core.successes) == 100
    assert core.tokens(0.0) == 10.0
    assert core.failure(False, True, 0.0) is True  # 9 left, above half


def test_retries_stop_at_half_of_max_tokens():
    """Default budget: four retries allowed (tokens 9, 8, 7, 6), refused from 5 on."""
    core = TokenCore(RetryBudgetOptions())
    answers = [core.failure(True, True, 0.0) for _ in range(8)]
    assert answers == [True] * 4 + [False] * 4
    assert core.tokens(0.0) == 2.0


def test_percent_allows_a_share_of_requests_plus_the_floor():
    """percent=20, floor 0.5/s over 10 s: 5 + 20% of 100 requests = 25 retries, then none."""
    core = PercentCore(RetryBudgetOptions(kind="percent", percent=20, min_retries_per_second=0.5))
    for _ in range(100):
        core.success(True, 1.0)
    assert core.tokens(1.0) == 25.0
    allowed = sum(core.failure(False, True, 1.0) for _ in range(40))
    assert allowed == 25
    assert core.tokens(1.0) == 0.0


def test_percent_counts_first_attempts_only_and_forgets_old_requests():
    """Retries' outcomes are not requests; requests older than the window stop counting."""
    core = PercentCore(
        RetryBudgetOptions(kind="percent", percent=50, min_retries_per_second=0.1, window=10.0)
    )
    for _ in range(10):
        core.success(False, 0.0)  # successful retries: not requests
    assert core.tokens(0.0) == 1.0  # the floor only
    for _ in range(10):
        core.failure(True, False, 0.0)  # first attempts that failed, no retry wanted
    assert core.tokens(0.0) == 6.0
    assert core.tokens(9.9) == 6.0
    assert core.tokens(10.5) == 1.0  # the requests of [0, 1) left the window


def test_percent_tolerates_a_clock_going_back():
    """A clock read earlier than the newest bucket counts in the newest bucket."""
    core = PercentCore(RetryBudgetOptions(kind="percent", percent=100, min_retries_per_second=0))
    core.success(True, 5.0)
    core.success(True, 3.0)
    assert core.tokens(5.0) == 2.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 1001}, "max_tokens"),
        ({"max_tokens": float("nan")}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"token_ratio": 0}, "token_ratio"),
        ({"token_ratio": -0.1}, "token_ratio"),
        ({"token_ratio": "0.1"}, "token_ratio"),
        ({"kind": "leaky"}, "kind"),
        ({"percent": 101}, "percent"),
        ({"percent": -1}, "percent"),
        ({"min_retries_per_second": -1}, "min_retries_per_second"),
        ({"window": 0}, "window"),
        ({"window": float("inf")}, "window"),
        ({"kind": "percent", "percent": 0, "min_retries_per_second": 0}, "percent"),
        ({"name": ""}, "name"),
        ({"clock": object()}, "clock"),
    ],
)
def test_invalid_options_fail_fast_naming_the_field(kwargs, field):
    """Every invalid option is a ValueError naming its field."""
    with pytest.raises(ValueError, match=field):
        RetryBudget(**kwargs)


def test_percent_constructor_and_repr():
    """RetryBudget.percent builds the percent kind; repr shows the options of the kind."""
    budget = RetryBudget.percent(percent=10, min_retries_per_second=1, window=5, name="db")
    assert budget.kind == "percent"
    assert budget.options.percent == 10
    assert "percent=10" in repr(budget)
    assert "max_tokens=10" in repr(RetryBudget(name="x"))
