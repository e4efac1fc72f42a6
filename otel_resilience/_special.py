"""Special functions for :mod:`otel_resilience.stats`, in pure Python (no scipy at run time).

The standard library gives ``erfc``, ``lgamma`` and the normal quantile
(:meth:`statistics.NormalDist.inv_cdf`); the Student t distribution needs the regularised
incomplete beta function, evaluated here by its continued fraction (modified Lentz method).
"""

from __future__ import annotations

import math

__all__ = ["betainc", "normal_sf2", "t_sf2", "t_isf2"]

_EPS = 1e-16
_TINY = 1e-300


def normal_sf2(z: float) -> float:
    """Two-sided tail of the standard normal: ``P(|Z| >= |z|)``, accurate far into the tail."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """The regularised incomplete beta function ``I_x(a, b)`` for ``a, b > 0``, ``0 <= x <= 1``.

    ``y`` is ``1 - x`` when the caller knows it more precisely than the subtraction would.
    """
    if y is None:
        y = 1.0 - x
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    # The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry
    # I_x(a, b) = 1 - I_{1-x}(b, a) on the other side.
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc_cf(b, a, y, x)
    return _betainc_cf(a, b, x, y)


def _betainc_cf(a: float, b: float, x: float, y: float) -> float:
    # log(x) and log(y) from whichever of x, y is small: a near-1 value's log loses digits.
    log_x = math.log1p(-y) if x > 0.5 else math.log(x)
    log_y = math.log1p(-x) if y > 0.5 else math.log(y)
    log_front = a * log_x + b * log_y - _log_beta(a, b)
    # Modified Lentz evaluation of 1 / (1 + d1 / (1 + d2 / (1 + ...))).
    c, d, f = 1.0, 0.0, 1.0
    limit = 1000 + 20 * int(math.sqrt(max(a, b)))
    for i in range(limit):
        if i == 0:
            num = 1.0
        else:
            m = i // 2
            if i % 2 == 0:
                num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            else:
                num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + num / c
        c = c if abs(c) > _TINY else _TINY
        step = c * d
        f *= step
        if abs(1.0 - step) < _EPS:
            break
    return math.exp(log_front) * (f - 1.0) / a


def _stirling_tail(x: float) -> float:
    """``lgamma(x)`` minus its Stirling leading terms, for ``x >= 20`` (error < 1e-15)."""
    r = 1.0 / (x * x)
    return (1.0 / 12.0 - r * (1.0 / 360.0 - r * (1.0 / 1260.0 - r / 1680.0))) / x


def _log_beta(a: float, b: float) -> float:
    """``log B(a, b)``; for a large argument without the cancellation of three lgammas."""
    big, small = (a, b) if a >= b else (b, a)
    if big < 20.0:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    # lgamma(big + small) - lgamma(big), from Stirling's series for both: the large terms
    # cancel analytically instead of in floating point.
    total = big + small
    diff = (big - 0.5) * math.log1p(small / big) + small * math.log(total) - small
    diff += _stirling_tail(total) - _stirling_tail(big)
    return math.lgamma(small) - diff


def t_sf2(t: float, df: float) -> float:
    """Two-sided tail of Student's t with ``df`` degrees of freedom: ``P(|T| >= |t|)``."""
    if math.isinf(t):
        return 0.0
    if math.isinf(df):
        return normal_sf2(t)
    t2 = t * t
    # P(|T| >= t) = I_x(df/2, 1/2) with x = df / (df + t^2); 1 - x is passed as computed
    # directly, so that neither side loses precision to a subtraction.
    return betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def t_isf2(p: float, df: float) -> float:
    """The ``t >= 0`` with ``t_sf2(t, df) == p`` (the two-sided critical value), ``0 < p < 1``."""
    lo, hi = 0.0, 1.0
    while t_sf2(hi, df) > p:
        lo, hi = hi, hi * 2.0
        if hi > 1e300:
            return math.inf
    # The tail falls monotonically in t: bisect down to the float spacing.
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if t_sf2(mid, df) > p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
