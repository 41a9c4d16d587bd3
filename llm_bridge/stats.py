"""Statistics of the evaluation: accuracy intervals, paired lifts and paired tests.

* :func:`wilson_interval` — Wilson score interval of a binomial proportion (Wilson 1927);
  well behaved at 0 and 1 and for small n, unlike the Wald interval.
* :func:`paired_lift` — difference of two accuracies measured on the *same* problems, with a
  Wald interval on the mean of the per-problem differences (the paired design removes the
  problem-difficulty variance).
* :func:`mcnemar_exact` — exact McNemar test: under H0 (equal accuracy), the discordant
  pairs split Binomial(b + c, 1/2); two-sided p-value.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["wilson_interval", "paired_lift", "mcnemar_exact", "accuracy_summary"]


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


def accuracy_summary(correct: Sequence[bool]) -> dict:
    """``{"accuracy", "ci95", "correct", "n"}`` of a list of grades."""
    c = [bool(x) for x in correct]
    k, n = sum(c), len(c)
    lo, hi = wilson_interval(k, n)
    return {"accuracy": (k / n) if n else 0.0, "ci95": [lo, hi], "correct": k, "n": n}
