"""Confidence intervals, checked against independently known values."""

from __future__ import annotations

import math

import pytest

from rexbench.benchmark.stats import betainc, equivalent, holm, student_t_cdf, student_t_ppf, summarize, welch

# Two-sided 95% critical values t_{0.975, df} from standard statistical tables.
T_TABLE = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 9: 2.2622, 19: 2.0930, 29: 2.0452, 120: 1.9799}


@pytest.mark.parametrize(("df", "expected"), sorted(T_TABLE.items()))
def test_t_quantile_matches_tables(df: int, expected: float) -> None:
    assert student_t_ppf(0.975, df) == pytest.approx(expected, abs=1e-4)


def test_t_cdf_closed_forms() -> None:
    # df=1 is Cauchy: F(t) = 1/2 + atan(t)/pi; df=2: F(t) = 1/2 + t / (2 sqrt(2 + t^2))
    for t in (-3.0, -0.5, 0.0, 0.7, 4.0):
        assert student_t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
        assert student_t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)
    assert betainc(2.0, 3.0, 0.4) == pytest.approx(0.5248, abs=1e-12)  # 1 - sum_{j<2} C(4,j)0.4^j 0.6^(4-j)


def test_summarize_by_hand() -> None:
    # values 0.5, 0.7, 0.9: mean 0.7, s = 0.2, half-width 4.302653 * 0.2 / sqrt(3) = 0.496828
    s = summarize([0.5, 0.7, 0.9])
    assert (s.mean, s.n) == (pytest.approx(0.7), 3)
    assert s.std == pytest.approx(0.2)
    assert (s.lo, s.hi) == (pytest.approx(0.7 - 0.496828, abs=1e-6), pytest.approx(0.7 + 0.496828, abs=1e-6))
    one = summarize([0.25])
    assert one.n == 1 and one.lo == one.hi == 0.25 and math.isnan(one.std)
    const = summarize([0.0] * 5)
    assert const.lo == const.hi == 0.0
    with pytest.raises(ValueError):
        summarize([])


def test_overlap() -> None:
    a, b, c = summarize([0.1, 0.2, 0.3]), summarize([0.25, 0.3, 0.35]), summarize([0.9, 0.91, 0.92])
    assert a.overlaps(b) and b.overlaps(a) and not a.overlaps(c)


# --------------------------------------------------------------------------- two rows (SPEC §4.5)
# With a = 1..5 and b = a + d, both variances are 2.5 and n = 5, so Welch's se is
# sqrt(2.5/5 + 2.5/5) = 1 and df = (2 * 0.5)^2 / (2 * 0.5^2 / 4) = 8 exactly: the t-table
# values t_{0.975, 8} = 2.3060 and t_{0.95, 8} = 1.8595 then give p and the TOST interval.
A5 = [1.0, 2.0, 3.0, 4.0, 5.0]


def test_welch_by_hand() -> None:
    w = welch(A5, [x + 0.7 for x in A5])
    assert (w.diff, w.se, w.df) == (pytest.approx(-0.7), pytest.approx(1.0), pytest.approx(8.0))
    # p at the table's critical value is 0.05
    assert welch(A5, [x + 2.3060 for x in A5]).p_two_sided() == pytest.approx(0.05, abs=1e-4)
    assert welch(A5, [x + 1.8595 for x in A5]).p_two_sided() == pytest.approx(0.10, abs=1e-4)
    # unequal variances: a = (0, 2): var 2, n 2; b = (0, 0, 3): var 3, n 3 -> se = sqrt(1 + 1),
    # df = 2^2 / (1^2/1 + 1^2/2) = 8/3
    w = welch([0.0, 2.0], [0.0, 0.0, 3.0])
    assert (w.diff, w.se, w.df) == (pytest.approx(0.0), pytest.approx(math.sqrt(2)), pytest.approx(8 / 3))
    with pytest.raises(ValueError):
        welch([1.0], A5)


def test_tost_by_hand() -> None:
    b = [x + 0.1 for x in A5]  # diff = -0.1; 90% interval -0.1 -+ 1.8595 = [-1.9595, 1.7595]
    eq, (lo, hi) = equivalent(A5, b, delta=2.0)
    assert eq and lo == pytest.approx(-1.9595, abs=1e-4) and hi == pytest.approx(1.7595, abs=1e-4)
    assert not equivalent(A5, b, delta=1.9)[0]  # -1.9595 is outside (-1.9, 1.9)
    # exact rows (zero variance): equivalent iff |diff| < delta
    assert equivalent([0.0] * 5, [0.0] * 5, delta=0.002)[0]
    assert not equivalent([0.0] * 5, [0.003] * 5, delta=0.002)[0]
    assert welch([1.0, 1.0], [0.0, 0.0]).p_two_sided() == 0.0 and welch([1.0, 1.0], [1.0, 1.0]).p_two_sided() == 1.0


def test_holm_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04 with m = 3: 3*0.01 = 0.03; max(0.03, 2*0.03) = 0.06; max(0.06, 1*0.04) = 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []
