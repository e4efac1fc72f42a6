"""Statistics at the edges of float range: scale-free values, or a ValueError naming the field."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sp

from otel_resilience.stats import two_proportion_z_test, welch_t_test


@pytest.mark.parametrize("scale", [1e-300, 1e-160, 1e150, 1e300])
def test_welch_is_scale_free(scale):
    """Tiny and huge samples give the statistic, p-value and df of the same data at scale 1."""
    a, b = [1.0, 2.0, 4.0], [3.0, 5.0, 8.0, 9.0]
    ref = sp.ttest_ind(a, b, equal_var=False)
    got = welch_t_test([v * scale for v in a], [v * scale for v in b])
    assert got.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert got.df == pytest.approx(ref.df, rel=1e-9)
    assert got.difference == pytest.approx((7 / 3 - 25 / 4) * scale, rel=1e-9)
    assert got.ci_low < got.difference < got.ci_high
    assert got.sample_size_per_group == welch_t_test(a, b).sample_size_per_group


def test_welch_near_float_max_does_not_overflow():
    """Values near the largest float give a finite statistic and p-value, not OverflowError."""
    got = welch_t_test([1e308, -1e308, 0.0], [1e308, 1e308, 0.5e308])
    assert math.isfinite(got.statistic)
    assert 0.0 <= got.p_value <= 1.0


def test_z_test_refuses_counts_beyond_float_range_naming_the_field():
    """A count too large to be a float is a ValueError naming it, not an OverflowError."""
    with pytest.raises(ValueError, match="total_a"):
        two_proportion_z_test(10**400, 2 * 10**400, 1, 2)
