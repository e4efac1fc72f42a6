"""Two-sample tests for A/B comparisons: the pooled two-proportion z-test and Welch's t-test.

Pure Python (no scipy at run time). Both return the statistic (sign: a - b), the two-sided
p-value, a confidence interval for the difference a - b, and the sample size per group that a
test at the same level would need to detect the difference (the observed one unless
``effect`` is given) with the given ``power``, and how many more samples that means::

    from otel_resilience.stats import two_proportion_z_test

    result = two_proportion_z_test(480, 1000, 520, 1000)
    print(result.p_value < 0.05, result.additional_samples)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist

from otel_resilience._special import normal_sf2, t_isf2, t_sf2

__all__ = ["TTestResult", "ZTestResult", "two_proportion_z_test", "welch_t_test"]

_NORMAL = NormalDist()
_MAX_COUNT = 1 << 1000


@dataclass(frozen=True, slots=True)
class ZTestResult:
    """The pooled two-proportion z-test of rate a against rate b."""

    statistic: float
    p_value: float
    rate_a: float
    rate_b: float
    #: ``rate_a - rate_b``.
    difference: float
    #: Confidence interval for the difference (unpooled Wald), at ``confidence``.
    ci_low: float
    ci_high: float
    confidence: float
    #: Calls per group needed to detect the effect; ``None`` when the effect is zero.
    sample_size_per_group: int | None
    #: Calls still needed over both groups (0 once both reach the size; ``None`` as above).
    additional_samples: int | None


@dataclass(frozen=True, slots=True)
class TTestResult:
    """Welch's unequal-variances t-test of mean a against mean b."""

    statistic: float
    p_value: float
    #: Welch-Satterthwaite degrees of freedom.
    df: float
    mean_a: float
    mean_b: float
    #: ``mean_a - mean_b``.
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    sample_size_per_group: int | None
    additional_samples: int | None


def _check_count(field: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{field} must be an integer >= {minimum}, got {value!r}")
    if value > _MAX_COUNT:  # the rates are floats: a count past float range has no rate
        raise ValueError(
            f"{field} must be at most 2**1000, got an integer of {value.bit_length()} bits"
        )
    return value


def _check_level(field: str, value: object) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not 0.0 < value < 1.0:  # type: ignore[operator]
        raise ValueError(f"{field} must be a number in (0, 1), got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _check_effect(value: float | None) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok:
        raise ValueError(f"effect must be a finite number or None, got {value!r}")
    return abs(float(value))


def _needed(
    spread: float, effect: float, confidence: float, power: float, n_a: int, n_b: int
) -> tuple[int | None, int | None]:
    """Per-group size for a two-sided test (normal approximation), and the shortfall."""
    if effect == 0.0 or not math.isfinite(spread):
        return None, None
    z = _NORMAL.inv_cdf(1.0 - (1.0 - confidence) / 2.0) + _NORMAL.inv_cdf(power)
    per_group = max(2, math.ceil((z * z * spread) / (effect * effect) - 1e-9))
    return per_group, max(0, per_group - n_a) + max(0, per_group - n_b)


def two_proportion_z_test(
    successes_a: int,
    total_a: int,
    successes_b: int,
    total_b: int,
    *,
    confidence: float = 0.95,
    power: float = 0.8,
    effect: float | None = None,
) -> ZTestResult:
    """Pooled two-proportion z-test: is rate a (``successes_a / total_a``) not rate b?

    ``statistic`` is ``(p_a - p_b) / se`` with the pooled standard error, ``p_value`` is
    two-sided. Counts must be integers with ``0 <= successes <= total`` and ``total >= 1``;
    otherwise ``ValueError`` names the field. ``effect`` is the smallest absolute difference
    of rates worth detecting (default: the observed one) for the sample size.
    """
    total_a = _check_count("total_a", total_a, 1)
    total_b = _check_count("total_b", total_b, 1)
    successes_a = _check_count("successes_a", successes_a, 0)
    successes_b = _check_count("successes_b", successes_b, 0)
    if successes_a > total_a:
        raise ValueError(f"successes_a must be <= total_a ({total_a}), got {successes_a!r}")
    if successes_b > total_b:
        raise ValueError(f"successes_b must be <= total_b ({total_b}), got {successes_b!r}")
    confidence = _check_level("confidence", confidence)
    power = _check_level("power", power)
    wanted = _check_effect(effect)
    p_a, p_b = successes_a / total_a, successes_b / total_b
    diff = p_a - p_b
    pooled = (successes_a + successes_b) / (total_a + total_b)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / total_a + 1.0 / total_b))
    if se == 0.0:  # every call succeeded, or every call failed, in both groups: no difference
        statistic, p_value = 0.0, 1.0
    else:
        statistic = diff / se
        p_value = normal_sf2(statistic)
    z = _NORMAL.inv_cdf(1.0 - (1.0 - confidence) / 2.0)
    half = z * math.sqrt(p_a * (1.0 - p_a) / total_a + p_b * (1.0 - p_b) / total_b)
    target = abs(diff) if wanted is None else wanted
    # Variance of one group's difference under the alternative (the two observed rates).
    spread = p_a * (1.0 - p_a) + p_b * (1.0 - p_b)
    if spread == 0.0:
        spread = 2.0 * pooled * (1.0 - pooled) or 0.25  # no variance seen: assume the worst
    size, more = _needed(spread, target, confidence, power, total_a, total_b)
    return ZTestResult(
        statistic=statistic,
        p_value=p_value,
        rate_a=p_a,
        rate_b=p_b,
        difference=diff,
        ci_low=diff - half,
        ci_high=diff + half,
        confidence=confidence,
        sample_size_per_group=size,
        additional_samples=more,
    )


def _sample(field: str, values: Iterable[float]) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be an iterable of numbers") from None
    if len(out) < 2:
        raise ValueError(f"{field} must hold at least 2 values, got {len(out)}")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{field} must hold finite numbers only")
    return out


def _scale_of(values: list[float]) -> float:
    """A power of two near the largest magnitude (1 for all zeros): dividing by it is exact
    and keeps squares of the values and of their variances within float range."""
    largest = max(abs(v) for v in values)
    return math.ldexp(1.0, math.frexp(largest)[1] - 1) if largest > 0.0 else 1.0


def _mean_var(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = math.fsum(values) / n
    return mean, math.fsum((v - mean) ** 2 for v in values) / (n - 1)


def welch_t_test(
    sample_a: Iterable[float],
    sample_b: Iterable[float],
    *,
    confidence: float = 0.95,
    power: float = 0.8,
    effect: float | None = None,
) -> TTestResult:
    """Welch's t-test: is the mean of ``sample_a`` not the mean of ``sample_b``?

    ``statistic`` is ``(mean_a - mean_b) / sqrt(var_a / n_a + var_b / n_b)`` with sample
    variances, ``p_value`` is two-sided on the Welch-Satterthwaite degrees of freedom, the
    interval uses the t quantile on those. Each sample needs 2 finite values at least.
    """
    a = _sample("sample_a", sample_a)
    b = _sample("sample_b", sample_b)
    confidence = _check_level("confidence", confidence)
    power = _check_level("power", power)
    wanted = _check_effect(effect)
    n_a, n_b = len(a), len(b)
    # Statistic, p-value and df do not depend on the unit: compute on values scaled into
    # (-2, 2) so that 1e-300 or 1e300 samples neither underflow nor overflow, then scale back.
    scale = _scale_of(a + b)
    mean_a, var_a = _mean_var([v / scale for v in a])
    mean_b, var_b = _mean_var([v / scale for v in b])
    diff = mean_a - mean_b
    se_a, se_b = var_a / n_a, var_b / n_b
    se2 = se_a + se_b
    if se2 == 0.0:  # two constant samples: equal means differ by nothing, others certainly
        statistic = 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
        p_value = 1.0 if diff == 0.0 else 0.0
        df = float(n_a + n_b - 2)
        half = 0.0
    else:
        se = math.sqrt(se2)
        df = se2 * se2 / (se_a * se_a / (n_a - 1) + se_b * se_b / (n_b - 1))
        statistic = diff / se
        p_value = t_sf2(statistic, df)
        half = t_isf2(1.0 - confidence, df) * se
    target = abs(diff) if wanted is None else wanted / scale
    size, more = _needed(var_a + var_b, target, confidence, power, n_a, n_b)
    return TTestResult(
        statistic=statistic,
        p_value=p_value,
        df=df,
        mean_a=mean_a * scale,
        mean_b=mean_b * scale,
        difference=diff * scale,
        ci_low=(diff - half) * scale,
        ci_high=(diff + half) * scale,
        confidence=confidence,
        sample_size_per_group=size,
        additional_samples=more,
    )
