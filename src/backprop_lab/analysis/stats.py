"""Statistics over seeds: mean, sample standard deviation, the 95% interval of the mean (Student's t)
and Welch's t-test, the one place every comparison, sweep and study verdict takes them from.

The formulas (``n`` values ``x``; two samples ``a`` and ``b``):

- mean ``m = sum(x) / n``; sample standard deviation ``s = sqrt(sum((x - m)^2) / (n - 1))``;
- 95% interval of the mean: ``m ± t(0.975, n - 1) · s / sqrt(n)``, ``t`` Student's quantile;
- Welch: ``t = (m_a - m_b) / sqrt(s_a²/n_a + s_b²/n_b)`` with the Welch–Satterthwaite degrees of freedom
  ``(s_a²/n_a + s_b²/n_b)² / ((s_a²/n_a)²/(n_a - 1) + (s_b²/n_b)²/(n_b - 1))``; two-sided
  ``p = 2 · P(T_df > |t|)``.

Means and variances are computed exactly (``statistics`` sums in rational arithmetic), so a sample of
equal values has that value as its mean and a spread of exactly 0, where a floating-point two-pass formula leaves round-off that
scipy reports as ``t ≈ 1e15``.

Degenerate cases, by design:

- no values: ``ValueError``;
- one value: the spread cannot be estimated, so ``std`` and the interval's half-width are ``nan`` and
  ``welch`` gives ``t = p = nan``; :func:`beyond_seed_spread` then answers ``None``: *cannot tell*;
- both samples without spread (every value equal within each): equal means give ``t = 0, p = 1``,
  different means ``t = ±inf, p = 0`` (every seed lands on the same value, so any difference is beyond the
  seed spread);
- identical samples: ``t = 0, p = 1``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Iterable

LEVEL = 0.05  # two-sided significance level: "beyond the seed spread" means Welch p < LEVEL
CONFIDENCE = 0.95  # the intervals' confidence


def _values(values: Iterable[float], what: str = "values") -> list[float]:
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError(f"{what}: no values")
    return xs


def mean(values: Iterable[float]) -> float:
    """The arithmetic mean, computed exactly and rounded once (equal values give that value back);
    ``ValueError`` when there are no values."""
    return float(statistics.mean(_values(values)))


def variance(values: Iterable[float]) -> float:
    """Sample variance (divides by n - 1), computed exactly; ``nan`` with one value."""
    xs = _values(values)
    return statistics.variance(xs) if len(xs) > 1 else math.nan


def std(values: Iterable[float]) -> float:
    """Sample standard deviation (divides by n - 1); ``nan`` with one value."""
    return math.sqrt(variance(values))


def t_quantile(probability: float, df: float) -> float:
    """Student's t quantile: ``P(T_df <= q) = probability``."""
    from scipy.special import stdtrit

    return float(stdtrit(df, probability))


def t_two_sided_p(t: float, df: float) -> float:
    """``2 · P(T_df > |t|)``."""
    from scipy.special import stdtr

    return float(min(1.0, 2.0 * stdtr(df, -abs(t))))


@dataclass(frozen=True)
class Interval:
    """The interval ``mean ± half_width`` of the mean of ``n`` values (``half_width`` is ``nan`` with one)."""

    mean: float
    half_width: float
    n: int
    confidence: float = CONFIDENCE

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    @property
    def known(self) -> bool:
        """False with one value: there is no interval to show."""
        return not math.isnan(self.half_width)

    def clipped(self, lowest: float, highest: float) -> tuple[float, float]:
        """(low, high) kept within [lowest, highest] (an accuracy cannot leave [0, 1]); the mean twice when
        the interval is unknown (one value)."""
        if not self.known:
            return self.mean, self.mean
        return max(lowest, self.low), min(highest, self.high)


def ci95(values: Iterable[float]) -> Interval:
    """The 95% interval of the mean by Student's t: ``m ± t(0.975, n - 1) · s / sqrt(n)``."""
    xs = _values(values)
    n = len(xs)
    if n < 2:
        return Interval(xs[0], math.nan, 1)
    half = t_quantile(0.5 + CONFIDENCE / 2, n - 1) * std(xs) / math.sqrt(n)
    return Interval(mean(xs), half, n)


@dataclass(frozen=True)
class WelchTest:
    """Welch's t-test of ``mean(a) - mean(b)``: statistic, Welch–Satterthwaite degrees of freedom, two-sided p."""

    t: float
    df: float
    p: float
    difference: float  # mean(a) - mean(b)

    @property
    def known(self) -> bool:
        return not math.isnan(self.p)


def welch(a: Iterable[float], b: Iterable[float]) -> WelchTest:
    """Welch's t-test (unequal variances), two-sided. See the module's docstring for the degenerate cases."""
    xa, xb = _values(a, "first sample"), _values(b, "second sample")
    na, nb = len(xa), len(xb)
    difference = mean(xa) - mean(xb)
    if na < 2 or nb < 2:
        return WelchTest(math.nan, math.nan, math.nan, difference)
    va, vb = variance(xa) / na, variance(xb) / nb
    if va + vb == 0:
        if difference == 0:
            return WelchTest(0.0, float(na + nb - 2), 1.0, 0.0)
        return WelchTest(math.copysign(math.inf, difference), float(na + nb - 2), 0.0, difference)
    t = difference / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return WelchTest(t, df, t_two_sided_p(t, df), difference)


def beyond_seed_spread(a: Iterable[float], b: Iterable[float], level: float = LEVEL) -> bool | None:
    """Do two samples (one value per seed) differ beyond the seed-to-seed spread? Welch's p < ``level``;
    ``None`` when a sample has a single value: one seed cannot tell."""
    test = welch(a, b)
    return None if not test.known else test.p < level
