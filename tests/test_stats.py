"""Confidence intervals, checked against independently known values."""

from __future__ import annotations

import math

import pytest

from benchmark.stats import betainc, student_t_cdf, student_t_ppf, summarize

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
