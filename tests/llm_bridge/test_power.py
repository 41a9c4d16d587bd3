"""The exact power of the McNemar test (llm_bridge.stats.mcnemar_power) against a brute-force
sum over every outcome, and against simulation; the sample size it plans."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from llm_bridge.stats import mcnemar_exact, mcnemar_power, mcnemar_sample_size


def _brute(n, d, lift, alpha=0.05):
    q = (d + lift) / (2 * d)
    total = 0.0
    for m in range(1, n + 1):
        pm = binom.pmf(m, n, d)
        for w in range(m + 1):
            if binomtest(w, m, 0.5).pvalue <= alpha:
                total += pm * binom.pmf(w, m, q)
    return total


@pytest.mark.parametrize("n,d,lift", [(30, 0.3, 0.1), (57, 0.2, -0.05), (80, 0.5, 0.2), (12, 1.0, 0.5)])
def test_power_equals_the_brute_force_sum(n, d, lift):
    assert mcnemar_power(n, d, lift) == pytest.approx(_brute(n, d, lift), rel=1e-9, abs=1e-12)


def test_power_matches_a_simulation_of_the_test_itself():
    rng = np.random.default_rng(0)
    n, d, lift, reps = 120, 0.3, 0.1, 1500
    p10, p01 = (d + lift) / 2, (d - lift) / 2
    hits = 0
    for _ in range(reps):
        u = rng.random(n)
        a = u < p10 + 0.4            # first right: the (1, 0) pairs and 40% both right
        b = (u >= p10) & (u < p10 + p01 + 0.4)
        hits += mcnemar_exact(a, b) <= 0.05
    sim = hits / reps
    assert abs(sim - mcnemar_power(n, d, lift)) < 4 * np.sqrt(0.25 / reps)


def test_sample_size_is_the_smallest_n_reaching_the_power():
    n = mcnemar_sample_size(0.2, 0.1)
    assert mcnemar_power(n, 0.2, 0.1) >= 0.8 > mcnemar_power(n - 1, 0.2, 0.1)
    assert mcnemar_sample_size(0.3, 0.05) > mcnemar_sample_size(0.1, 0.05)  # more discordance, more n
    assert mcnemar_power(100, 0.2, 0.0) <= 0.05
    # where the power is not monotone in n (every pair discordant), still the smallest n
    for d, lift, power in ((1.0, 0.3, 0.9), (1.0, 0.4, 0.8), (1.0, 0.1, 0.8)):
        n = mcnemar_sample_size(d, lift, power=power)
        assert mcnemar_power(n, d, lift) >= power
        assert all(mcnemar_power(m, d, lift) < power for m in range(1, n))


@pytest.mark.parametrize("args,field", [((0.0, 0.0), "discordance"), ((0.2, 0.3), "lift"),
                                        ((0.2, 0.0), "lift")])
def test_bad_designs_name_the_field(args, field):
    with pytest.raises(ValueError, match=field):
        mcnemar_sample_size(*args)
    for power in (0.0, 1.0):
        with pytest.raises(ValueError, match="power"):
            mcnemar_sample_size(0.2, 0.1, power=power)
    for n in (0, -5, True, 10.5):
        with pytest.raises(ValueError, match="^n: "):
            mcnemar_power(n, 0.2, 0.1)
