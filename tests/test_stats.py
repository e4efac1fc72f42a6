"""otel_resilience.stats against independent computations (scipy, in the tests only)."""

from __future__ import annotations

import math
import random

import pytest
from scipy import special
from scipy import stats as sp

from otel_resilience._special import betainc, t_isf2, t_sf2
from otel_resilience.stats import two_proportion_z_test, welch_t_test

COUNTS = [
    (480, 1000, 520, 1000),
    (9, 40, 21, 45),
    (990, 1000, 985, 1200),
    (1, 3, 2, 7),
    (12_345, 20_000, 12_111, 19_000),
]


@pytest.mark.parametrize(("sa", "na", "sb", "nb"), COUNTS)
def test_z_test_matches_chi_square(sa, na, sb, nb):
    """The pooled z-test's p-value is the uncorrected 2x2 chi-square's; z squared is chi2."""
    table = [[sa, na - sa], [sb, nb - sb]]
    chi2, p, _, _ = sp.chi2_contingency(table, correction=False)
    result = two_proportion_z_test(sa, na, sb, nb)
    assert result.p_value == pytest.approx(p, rel=1e-9, abs=1e-15)
    assert result.statistic**2 == pytest.approx(chi2, rel=1e-9)
    assert math.copysign(1, result.statistic) == math.copysign(1, sa / na - sb / nb)


@pytest.mark.parametrize(("sa", "na", "sb", "nb"), COUNTS)
def test_z_test_interval_and_sample_size(sa, na, sb, nb):
    """The Wald interval uses scipy's normal quantile; the size reaches the power, one less not."""
    result = two_proportion_z_test(sa, na, sb, nb, confidence=0.9, power=0.8)
    pa, pb = sa / na, sb / nb
    half = sp.norm.ppf(0.95) * math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    assert result.ci_low == pytest.approx(pa - pb - half, rel=1e-9)
    assert result.ci_high == pytest.approx(pa - pb + half, rel=1e-9)
    n = result.sample_size_per_group
    assert n is not None

    def power(k: int) -> float:
        se = math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / k)
        return float(sp.norm.cdf(abs(pa - pb) / se - sp.norm.ppf(0.95)))

    assert power(n) >= 0.8 - 1e-9
    if n > 2:
        assert power(n - 1) < 0.8
    assert result.additional_samples == max(0, n - na) + max(0, n - nb)


def test_z_test_edge_cases():
    """Identical all-success groups differ by nothing; a zero effect needs no sample size."""
    result = two_proportion_z_test(10, 10, 20, 20)
    assert (result.statistic, result.p_value) == (0.0, 1.0)
    assert result.sample_size_per_group is None
    assert two_proportion_z_test(10, 10, 20, 20, effect=0.1).sample_size_per_group is not None


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((5, 0, 1, 2), "total_a"),
        ((5, 4, 1, 2), "successes_a"),
        ((1, 4, 3, 2), "successes_b"),
        ((-1, 4, 1, 2), "successes_a"),
        ((1, 4, 1, 2.5), "total_b"),
        ((True, 4, 1, 2), "successes_a"),
    ],
)
def test_z_test_refuses_impossible_counts(args, field):
    """Impossible counts are a ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        two_proportion_z_test(*args)


def _samples(seed: int, n_a: int, n_b: int) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    return (
        [rng.gauss(10.0, 2.0) for _ in range(n_a)],
        [rng.gauss(10.6, 3.5) for _ in range(n_b)],
    )


@pytest.mark.parametrize(("seed", "n_a", "n_b"), [(1, 5, 7), (2, 30, 12), (3, 400, 380), (4, 2, 2)])
def test_welch_matches_scipy(seed, n_a, n_b):
    """Statistic, p-value, degrees of freedom and interval match scipy's Welch test to 1e-9."""
    a, b = _samples(seed, n_a, n_b)
    ref = sp.ttest_ind(a, b, equal_var=False)
    result = welch_t_test(a, b, confidence=0.95)
    assert result.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert result.df == pytest.approx(ref.df, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert result.ci_low == pytest.approx(ci.low, rel=1e-9)
    assert result.ci_high == pytest.approx(ci.high, rel=1e-9)


def test_welch_refusals_and_constants():
    """Too small or non-finite samples name the field; constant samples have exact answers."""
    with pytest.raises(ValueError, match="sample_a"):
        welch_t_test([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="sample_b"):
        welch_t_test([1.0, 2.0], [1.0, math.nan])
    with pytest.raises(ValueError, match="confidence"):
        welch_t_test([1.0, 2.0], [1.0, 2.0], confidence=1.0)
    same = welch_t_test([3.0, 3.0], [3.0, 3.0, 3.0])
    assert (same.statistic, same.p_value) == (0.0, 1.0)
    apart = welch_t_test([3.0, 3.0], [4.0, 4.0])
    assert apart.p_value == 0.0
    assert apart.statistic == -math.inf


def test_incomplete_beta_matches_scipy():
    """The regularised incomplete beta matches scipy.special.betainc over a fixed grid."""
    rng = random.Random(7)
    cases = [(0.5, 0.5, 0.3), (10, 0.5, 0.99), (500, 0.5, 0.9999), (2000, 1500, 0.57)]
    cases += [(rng.uniform(0.1, 300), rng.uniform(0.1, 300), rng.random()) for _ in range(300)]
    for a, b, x in cases:
        ref = float(special.betainc(a, b, x))
        assert betainc(a, b, x) == pytest.approx(ref, rel=1e-9, abs=1e-300), (a, b, x)


@pytest.mark.parametrize("df", [1, 2.5, 10, 57.3, 5000, 1e6])
def test_t_tails_and_quantiles_match_scipy(df):
    """Two-sided t tails and critical values match scipy up to a million degrees of freedom."""
    for t in (0.0, 0.01, 0.7, 2.0, 4.5, 12.0):
        assert t_sf2(t, df) == pytest.approx(2 * sp.t.sf(t, df), rel=1e-9)
    for p in (0.2, 0.05, 0.01):
        assert t_isf2(p, df) == pytest.approx(sp.t.isf(p / 2, df), rel=1e-9)
