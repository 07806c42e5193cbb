"""backprop_lab.analysis.stats against scipy.stats on fixed samples, against a t table and a hand computation,
and its stated behaviour in the degenerate cases (one value, identical samples, no spread)."""

import math
import statistics

import numpy as np
import pytest
from scipy import stats as sp

from backprop_lab.analysis import stats
from backprop_lab.analysis.comparison import welch as compare_welch

# Final test accuracies over seeds, as sweeps and comparisons produce them (unequal counts on purpose).
SAMPLES = {
    "close": ([0.9712, 0.9688, 0.9731, 0.9702, 0.9695], [0.9650, 0.9671, 0.9702, 0.9633]),
    "apart": ([0.9521, 0.9488, 0.9535], [0.8813, 0.9012, 0.8790, 0.8931, 0.8870, 0.8899]),
    "same means": ([0.91, 0.93, 0.95], [0.92, 0.93, 0.94]),
    "wide": ([0.12, 0.31, 0.09, 0.33, 0.20, 0.11, 0.27], [0.18, 0.21]),
    "one without spread": ([0.95, 0.95, 0.95], [0.93, 0.96, 0.94, 0.955]),
}


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy, on the sample without spread
@pytest.mark.parametrize("name", SAMPLES)
def test_welch_matches_scipy(name):
    a, b = SAMPLES[name]
    ours = stats.welch(a, b)
    theirs = sp.ttest_ind(a, b, equal_var=False)
    assert ours.t == pytest.approx(theirs.statistic, rel=1e-10)
    assert ours.df == pytest.approx(theirs.df, rel=1e-10)
    assert ours.p == pytest.approx(theirs.pvalue, rel=1e-8)
    assert ours.difference == pytest.approx(np.mean(a) - np.mean(b), rel=1e-12)
    assert stats.beyond_seed_spread(a, b) == (theirs.pvalue < 0.05)
    assert compare_welch(a, b) == (ours.t, ours.p)  # the old public name gives the same numbers


def test_welch_by_hand():
    """a = 1, 2, 3 (mean 2, variance 1); b = 4, 5, 6, 7 (mean 5.5, variance 5/3)."""
    se2 = 1 / 3 + (5 / 3) / 4
    df = se2**2 / ((1 / 3) ** 2 / 2 + ((5 / 3) / 4) ** 2 / 3)
    test = stats.welch([1, 2, 3], [4, 5, 6, 7])
    assert test.t == pytest.approx(-3.5 / math.sqrt(se2), rel=1e-12)
    assert test.df == pytest.approx(df, rel=1e-12) and 4.9 < test.df < 5.0
    assert test.p == pytest.approx(2 * sp.t.sf(3.5 / math.sqrt(se2), df), rel=1e-10)
    assert 0.009 < test.p < 0.011


def test_the_check_can_fail():
    """Pooled variances (Student's test) give another p on unequal samples: the comparison above would see it."""
    a, b = SAMPLES["wide"]
    assert stats.welch(a, b).p != pytest.approx(sp.ttest_ind(a, b, equal_var=True).pvalue, rel=1e-3)


@pytest.mark.parametrize("name", SAMPLES)
def test_mean_std_and_interval_match_scipy(name):
    for xs in SAMPLES[name]:
        n = len(xs)
        interval = stats.ci95(xs)
        assert stats.mean(xs) == pytest.approx(np.mean(xs), rel=1e-12)
        assert stats.std(xs) == pytest.approx(np.std(xs, ddof=1), rel=1e-10, abs=1e-15)
        low, high = sp.t.interval(0.95, n - 1, loc=np.mean(xs), scale=sp.sem(xs))
        half = sp.t.ppf(0.975, n - 1) * np.std(xs, ddof=1) / math.sqrt(n)
        assert interval.half_width == pytest.approx(half, rel=1e-10, abs=1e-15)
        if half > 0:  # scipy's interval of a sample without spread is (nan, nan)
            assert (interval.low, interval.high) == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))
        assert interval.n == n and interval.known


@pytest.mark.parametrize("df, quantile", [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (29, 2.045)])
def test_interval_uses_the_t_table(df, quantile):
    """Student's t(0.975, df) as printed in every t table, to three decimals."""
    xs = [0.0, 1.0] * ((df + 1) // 2) + [0.5] * ((df + 1) % 2)
    assert len(xs) == df + 1
    interval = stats.ci95(xs)
    assert interval.half_width / (statistics.stdev(xs) / math.sqrt(len(xs))) == pytest.approx(quantile, abs=5e-4)
    assert stats.t_quantile(0.975, df) == pytest.approx(quantile, abs=5e-4)


def test_one_value_has_no_spread_no_interval_and_cannot_tell():
    assert stats.mean([0.9]) == 0.9
    assert math.isnan(stats.std([0.9]))
    interval = stats.ci95([0.9])
    assert not interval.known and math.isnan(interval.half_width) and interval.n == 1
    assert interval.clipped(0.0, 1.0) == (0.9, 0.9)
    for a, b in (([0.9], [0.8]), ([0.9], [0.8, 0.85, 0.83]), ([0.8, 0.85], [0.9])):
        test = stats.welch(a, b)
        assert math.isnan(test.t) and math.isnan(test.p) and not test.known
        assert stats.beyond_seed_spread(a, b) is None


def test_no_values_is_an_error():
    for call in (
        lambda: stats.mean([]),
        lambda: stats.std([]),
        lambda: stats.ci95([]),
        lambda: stats.welch([], [0.5, 0.6]),
        lambda: stats.welch([0.5, 0.6], []),
    ):
        with pytest.raises(ValueError, match="no values"):
            call()


def test_identical_samples_give_t_zero_p_one():
    a = [0.9712, 0.9688, 0.9731]
    test = stats.welch(a, list(a))
    assert (test.t, test.p) == (0.0, 1.0)
    theirs = sp.ttest_ind(a, a, equal_var=False)
    assert (theirs.statistic, theirs.pvalue) == (0.0, 1.0)
    assert stats.beyond_seed_spread(a, a) is False


def test_samples_without_spread():
    """Equal values within each sample: the spread is exactly 0 (scipy's round-off gives t ~ 1e15, or nan)."""
    same = [0.95, 0.95, 0.95]
    assert stats.std(same) == 0.0 and stats.ci95(same).half_width == 0.0 and stats.ci95(same).known
    assert stats.ci95(same).clipped(0.0, 1.0) == (0.95, 0.95)
    equal = stats.welch(same, [0.95, 0.95])
    assert (equal.t, equal.p) == (0.0, 1.0) and stats.beyond_seed_spread(same, [0.95, 0.95]) is False
    up, down = stats.welch(same, [0.9, 0.9]), stats.welch([0.9, 0.9], same)
    assert (up.t, up.p) == (math.inf, 0.0) and (down.t, down.p) == (-math.inf, 0.0)
    assert stats.beyond_seed_spread(same, [0.9, 0.9]) is True
    with pytest.warns(RuntimeWarning):  # what we do not inherit
        assert abs(sp.ttest_ind(same, [0.9, 0.9, 0.9], equal_var=False).statistic) > 1e12


def test_level_is_the_threshold():
    a, b = SAMPLES["close"]
    p = stats.welch(a, b).p
    assert stats.beyond_seed_spread(a, b, level=p * 1.01) is True
    assert stats.beyond_seed_spread(a, b, level=p * 0.99) is False


def test_interval_clipped_to_the_range_of_an_accuracy():
    interval = stats.ci95([0.99, 1.0, 0.97])
    assert interval.high > 1.0
    low, high = interval.clipped(0.0, 1.0)
    assert high == 1.0 and low == pytest.approx(interval.low)
