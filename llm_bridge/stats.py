"""Statistics of the evaluation: accuracy intervals, paired lifts and paired tests.

* :func:`wilson_interval` — Wilson score interval of a binomial proportion (Wilson 1927);
  well behaved at 0 and 1 and for small n, unlike the Wald interval.
* :func:`paired_lift` — difference of two accuracies measured on the *same* problems, with a
  Wald interval on the mean of the per-problem differences (the paired design removes the
  problem-difficulty variance).
* :func:`mcnemar_exact` — exact McNemar test: under H0 (equal accuracy), the discordant
  pairs split Binomial(b + c, 1/2); two-sided p-value.
* :func:`mcnemar_power` and :func:`mcnemar_sample_size` — the exact power of that test on n
  paired problems, given the probability that a pair is discordant and the lift (the planning
  of an experiment: how many problems detect a 5-point lift at 80% power).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["wilson_interval", "paired_lift", "mcnemar_exact", "mcnemar_power", "mcnemar_sample_size",
           "accuracy_summary"]


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval.

    >>> lo, hi = wilson_interval(0, 10)
    >>> round(lo, 4), round(hi, 4)
    (0.0, 0.2775)
    >>> wilson_interval(0, 0)
    (0.0, 1.0)
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"successes/n: expected 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return (0.0, 1.0)
    from scipy.stats import norm  # 0.8 s to import: only when a statistic is computed

    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, float(centre - half))
    hi = 1.0 if successes == n else min(1.0, float(centre + half))  # exact at the ends (no rounding)
    return (lo, hi)


def paired_lift(a: Sequence[bool], b: Sequence[bool], confidence: float = 0.95) -> dict:
    """Lift of accuracy ``a`` over accuracy ``b`` on the same problems.

    >>> d = paired_lift([1, 1, 0, 1], [0, 1, 0, 0])
    >>> d["lift"], d["wins"], d["losses"]
    (0.5, 2, 0)
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired_lift: the two conditions have {a.size} and {b.size} problems")
    n = a.size
    d = a - b
    lift = float(d.mean()) if n else 0.0
    if n > 1:
        from scipy.stats import norm  # 0.8 s to import: only when a statistic is computed

        z = norm.ppf(0.5 + confidence / 2)
        se = float(d.std(ddof=1) / math.sqrt(n))
        ci = (lift - z * se, lift + z * se)
    else:
        ci = (-1.0, 1.0)
    return {"lift": lift, "ci95": [float(ci[0]), float(ci[1])], "wins": int((d > 0).sum()),
            "losses": int((d < 0).sum()), "n": int(n)}


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Two-sided exact McNemar p-value for paired binary outcomes.

    >>> round(mcnemar_exact([1] * 10 + [0] * 5, [0] * 10 + [0] * 5), 5)
    0.00195
    >>> mcnemar_exact([1, 0], [1, 0])
    1.0
    """
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError("mcnemar_exact: the two conditions have different numbers of problems")
    wins = int((a & ~b).sum())
    losses = int((~a & b).sum())
    if wins + losses == 0:
        return 1.0
    from scipy.stats import binomtest  # 0.8 s to import: only when a statistic is computed

    return float(binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue)


def _check_design(discordance: float, lift: float, alpha: float) -> None:
    if not 0 < discordance <= 1:
        raise ValueError(f"discordance: expected a probability in (0, 1], got {discordance!r}")
    if not abs(lift) <= discordance:
        raise ValueError(f"lift: |lift| must be at most the discordance {discordance}, got {lift!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: expected a probability in (0, 1), got {alpha!r}")


def mcnemar_power(n: int, discordance: float, lift: float, alpha: float = 0.05) -> float:
    """Exact power of the two-sided exact McNemar test (:func:`mcnemar_exact`) at level ``alpha``
    on ``n`` paired problems, when a pair is discordant with probability ``discordance`` and
    ``lift`` = P(only the first is right) - P(only the second is right).

    The number of discordant pairs is Binomial(n, discordance); given m of them, the first
    condition's wins are Binomial(m, (discordance + lift) / (2 discordance)); the test rejects
    when its p-value is at most ``alpha``. Summed exactly over m and the wins.

    >>> round(mcnemar_power(100, 0.2, 0.0), 4) <= 0.05      # the level, under H0
    True
    >>> mcnemar_power(400, 0.2, 0.1) > 0.99
    True
    """
    _check_design(discordance, lift, alpha)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer number of problems, got {n!r}")
    from scipy.stats import binom

    q = (discordance + lift) / (2 * discordance)
    m = np.arange(1, n + 1)
    # the exact two-sided test at 1/2 rejects m discordant pairs with w wins iff
    # 2 P(Bin(m, 1/2) <= min(w, m - w)) <= alpha: iff min(w, m - w) <= k_m
    k = binom.ppf(alpha / 2, m, 0.5)
    k = np.where(binom.cdf(k, m, 0.5) > alpha / 2, k - 1, k)
    ok = k >= 0
    m, k = m[ok], k[ok]
    reject = binom.cdf(k, m, q) + binom.sf(m - k - 1, m, q)
    return float(np.sum(binom.pmf(m, n, discordance) * reject))


def mcnemar_sample_size(discordance: float, lift: float, *, alpha: float = 0.05, power: float = 0.8,
                        n_max: int = 20_000) -> int:
    """The smallest n whose :func:`mcnemar_power` reaches ``power``. The exact power is not
    monotone in n (the test's discreteness), so a bisection finds an n that reaches it and
    every smaller n is then checked in order.

    >>> mcnemar_sample_size(0.2, 0.1)   # 20% discordant pairs, a 10-point lift
    168
    """
    _check_design(discordance, lift, alpha)
    if not 0 < power < 1:
        raise ValueError(f"power: expected a probability in (0, 1), got {power!r}")
    if lift == 0:
        raise ValueError("lift: a zero lift cannot be detected")
    if mcnemar_power(n_max, discordance, lift, alpha) < power:
        raise ValueError(f"n_max: {n_max} problems do not reach power {power}")
    lo, hi = 1, n_max
    while lo < hi:
        mid = (lo + hi) // 2
        if mcnemar_power(mid, discordance, lift, alpha) >= power:
            hi = mid
        else:
            lo = mid + 1
    return next(n for n in range(1, lo + 1) if mcnemar_power(n, discordance, lift, alpha) >= power)


def accuracy_summary(correct: Sequence[bool]) -> dict:
    """``{"accuracy", "ci95", "correct", "n"}`` of a list of grades."""
    c = [bool(x) for x in correct]
    k, n = sum(c), len(c)
    lo, hi = wilson_interval(k, n)
    return {"accuracy": (k / n) if n else 0.0, "ci95": [lo, hi], "correct": k, "n": n}
