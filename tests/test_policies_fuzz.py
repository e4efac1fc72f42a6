"""Property: any values a TOML file can hold either build a pipeline or raise a PolicyError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_resilience.policies import PRESETS, PolicyError
from otel_resilience.policies._build import build
from otel_resilience.policies._kinds import STRATEGIES

TOML_VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["timeout", "connection", "exponential", "lru", "thread", "time", "count"]),
    st.lists(st.sampled_from(["timeout", "connection", "nope", ""]), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
def test_any_option_values_build_or_raise_policy_error(kind):
    """No value makes the loader raise anything but a PolicyError naming the strategy's path."""
    names = [*STRATEGIES[kind].options(), *STRATEGIES[kind].file_only, "bogus"]

    @settings(max_examples=150)
    @given(st.dictionaries(st.sampled_from(names), TOML_VALUES, max_size=4))
    def check(options):
        data = {"pipelines": {"p": {"strategies": [{kind: options}]}}}
        error: PolicyError | None = None
        try:
            built = build(data, previous={}, pipeline_kwargs={}, presets=PRESETS)
        except PolicyError as exc:
            error = exc
        if error is None:
            assert list(built.pipelines) == ["p"]
        else:
            assert error.key.startswith(f"pipelines.p.strategies[0].{kind}")
            assert "__init__()" not in error.reason  # a message about the file, not Python

    check()
