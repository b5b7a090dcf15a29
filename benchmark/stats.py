"""Across-seed statistics: mean, sample standard deviation and a Student-t 95% interval.

The t quantile is computed here (no SciPy): the Student-t CDF through the regularized
incomplete beta function (Lentz's continued fraction), inverted by bisection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)), -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def student_t_cdf(t: float, df: float) -> float:
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


@lru_cache(maxsize=4096)  # a leaderboard asks for the same few (level, seeds - 1) thousands of times
def student_t_ppf(q: float, df: float) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (bisection to 1e-12)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile level must be in (0, 1), got {q}")
    lo, hi = -1e6, 1e6
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if student_t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Summary:
    """Mean, sample std (ddof=1), two-sided 95% t-interval; n = number of seeds."""

    mean: float
    std: float
    lo: float
    hi: float
    n: int

    def overlaps(self, other: Summary) -> bool:
        return self.lo <= other.hi and other.lo <= self.hi


def summarize(values: Sequence[float], level: float = 0.95) -> Summary:
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = math.fsum(values) / n
    if n == 1:
        return Summary(mean, float("nan"), mean, mean, 1)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = student_t_ppf(0.5 + level / 2.0, n - 1) * std / math.sqrt(n)
    return Summary(mean, std, mean - half, mean + half, n)


# --------------------------------------------------------------------------- two rows
@dataclass(frozen=True)
class Welch:
    """Welch's comparison of two rows' means: ``diff = mean(a) - mean(b)``, its standard
    error ``se = sqrt(var_a/n_a + var_b/n_b)`` and the Welch–Satterthwaite ``df``
    (``inf`` when ``se = 0``: both rows exact)."""

    diff: float
    se: float
    df: float

    @property
    def exact(self) -> bool:
        return self.se == 0.0

    def interval(self, level: float) -> tuple[float, float]:
        """Two-sided ``level`` confidence interval of ``diff`` (a point when exact)."""
        if self.exact:
            return self.diff, self.diff
        half = student_t_ppf(0.5 + level / 2.0, self.df) * self.se
        return self.diff - half, self.diff + half

    def p_two_sided(self) -> float:
        """p of H0: equal means (exact rows: 0 if they differ at all, else 1)."""
        if self.exact:
            return 0.0 if self.diff != 0.0 else 1.0
        t = abs(self.diff) / self.se
        return min(1.0, 2.0 * (1.0 - student_t_cdf(t, self.df)))


def welch(a: Sequence[float], b: Sequence[float]) -> Welch:
    """Welch statistics of two samples of at least two values each."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's test needs at least two values per row")
    sa, sb = summarize(a), summarize(b)
    va, vb = sa.std**2 / sa.n, sb.std**2 / sb.n
    se = math.sqrt(va + vb)
    if se == 0.0:
        return Welch(sa.mean - sb.mean, 0.0, math.inf)
    df = (va + vb) ** 2 / (va**2 / (sa.n - 1) + vb**2 / (sb.n - 1))
    return Welch(sa.mean - sb.mean, se, df)


def equivalent(a: Sequence[float], b: Sequence[float], delta: float, alpha: float = 0.05) -> tuple[bool, tuple[float, float]]:
    """Two one-sided tests (TOST) at level ``alpha``: (equivalent?, the (1 - 2 alpha)
    Welch interval of the difference). Equivalent iff that interval lies inside
    ``(-delta, delta)``; two exact rows (zero variance) iff ``|diff| < delta``."""
    w = welch(a, b)
    lo, hi = w.interval(1.0 - 2.0 * alpha)
    return (-delta < lo and hi < delta), (lo, hi)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order:
    ``p_adj(i) = max over j <= i (sorted) of min(1, (m - j) p(j))`` with 0-based j."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out
