"""Evaluation of signaling schemes under explicit tie-breaking rules (persuasion.scheme).

Prosecutor and judge, prior P(guilty) = 3/10, judge convicts iff P(guilty) >= 1/2 and is
indifferent at exactly 1/2. Hand-computed values of three schemes:

================  =========  =========  ===========  =======================
scheme            "sender"   "first"    adversarial  judge's utility
================  =========  =========  ===========  =======================
full revelation   3/10       3/10       3/10         1
no information    0          0          0            7/10
optimal (3/7)     3/5        0          0            7/10 (both rules)
================  =========  =========  ===========  =======================

The optimal scheme puts the "convict" posterior exactly on the judge's indifference point:
with sender-preferred ties it earns 3/5, with adversarial ties (or the lowest index,
acquit) nothing -- the optimum is a supremum there, not attained.
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from persuasion import Game, GameValidationError, evaluate_scheme, solve
from persuasion.scheme import obedience_violation

FULL = [[1, 0], [0, 1]]
NONE = [[1], [1]]
OPTIMAL = [[4 / 7, 3 / 7], [0, 1]]


@pytest.mark.parametrize("scheme,tb,sender,receiver", [
    (FULL, "sender", 0.3, 1.0),
    (FULL, "adversarial", 0.3, 1.0),
    (FULL, "first", 0.3, 1.0),
    (NONE, "sender", 0.0, 0.7),
    (NONE, "adversarial", 0.0, 0.7),
    (NONE, "first", 0.0, 0.7),
    (OPTIMAL, "sender", 0.6, 0.7),
    (OPTIMAL, "adversarial", 0.0, 0.7),
    (OPTIMAL, "first", 0.0, 0.7),
])
def test_prosecutor_schemes(prosecutor, scheme, tb, sender, receiver):
    ev = evaluate_scheme(prosecutor, scheme, tie_breaking=tb)
    assert ev.sender_value == pytest.approx(sender, abs=1e-12)
    assert ev.receiver_value == pytest.approx(receiver, abs=1e-12)


def test_prosecutor_optimal_scheme_details(prosecutor):
    ev = evaluate_scheme(prosecutor, OPTIMAL)
    np.testing.assert_allclose(ev.signal_probabilities, [0.4, 0.6])
    np.testing.assert_allclose(ev.posteriors, [[1, 0], [0.5, 0.5]])
    assert ev.actions == [(0,), (1,)]
    adv = evaluate_scheme(prosecutor, OPTIMAL, tie_breaking="adversarial")
    assert adv.actions == [(0,), (0,)]


@pytest.mark.parametrize("method", ["signaling", "posterior", "concavification"])
def test_solver_scheme_drops_to_zero_under_adversarial_ties(prosecutor, method):
    res = solve(prosecutor, method)
    assert evaluate_scheme(prosecutor, res.scheme).sender_value == pytest.approx(0.6)
    # the judge is indifferent at the optimal posterior 1/2: a judge who breaks the tie
    # against the prosecutor acquits, and the prosecutor gets nothing
    adv = evaluate_scheme(prosecutor, res.scheme, tie_breaking="adversarial")
    assert adv.sender_value == pytest.approx(0.0, abs=1e-12)


def test_first_follows_action_order():
    # the same game with the actions listed as (convict, acquit): "first" now convicts
    g = Game(["7/10", "3/10"], [[1, 0], [1, 0]], [[0, 1], [1, 0]],
             actions=["convict", "acquit"])
    assert evaluate_scheme(g, OPTIMAL, tie_breaking="first").sender_value == pytest.approx(0.6)
    assert evaluate_scheme(g, OPTIMAL, tie_breaking="adversarial").sender_value == \
        pytest.approx(0.0, abs=1e-12)
    assert evaluate_scheme(g, OPTIMAL, tie_breaking="sender").sender_value == pytest.approx(0.6)


def test_tie_tolerance():
    # posterior P(guilty) = 1/2 - 1e-7: not a tie at the default tol 1e-9, a tie at 1e-6
    g = Game([0.5 + 1e-7, 0.5 - 1e-7], [[0, 1], [0, 1]], [[1, 0], [0, 1]], tol=1e-6)
    assert evaluate_scheme(g, NONE, tol=1e-9).sender_value == 0.0
    assert evaluate_scheme(g, NONE, tol=1e-6).sender_value == pytest.approx(1.0)
    assert evaluate_scheme(g, NONE).sender_value == pytest.approx(1.0)  # game.tol


def test_other_prior(prosecutor):
    # the same optimal-for-3/10 scheme charged under a true prior of 1/5: posterior of
    # the convict signal is (1/5) / (4/5 * 3/7 + 1/5) = 7/19 < 1/2, so the judge acquits
    ev = evaluate_scheme(prosecutor, OPTIMAL, prior=[0.8, 0.2])
    assert ev.sender_value == 0.0
    np.testing.assert_allclose(ev.posteriors[1], [12 / 19, 7 / 19])
    # and under 2/5 the posterior is 14/23 > 1/2: convict with probability 3/7*3/5 + 2/5
    ev = evaluate_scheme(prosecutor, OPTIMAL, prior=[0.6, 0.4])
    assert ev.sender_value == pytest.approx(0.6 * 3 / 7 + 0.4)


def test_zero_probability_signal(prosecutor):
    ev = evaluate_scheme(prosecutor, [[1, 0, 0], [0, 1, 0]])
    assert ev.signal_probabilities[2] == 0
    assert ev.actions[2] == (-1,)
    np.testing.assert_allclose(ev.posteriors[2], prosecutor.prior)
    assert ev.sender_value == pytest.approx(0.3)


def test_receiver_types(two_judges):
    # split P(guilty) = 0 (prob 3/5) and 3/4 (prob 2/5): both judges convict at 3/4;
    # P(convict-signal | innocent) = (2/5 * 1/4) / (7/10) = 1/7
    scheme = [[6 / 7, 1 / 7], [0, 1]]
    ev = evaluate_scheme(two_judges, scheme)
    assert ev.sender_value == pytest.approx(0.4)
    assert ev.actions == [(0, 0), (1, 1)]
    # the strict judge is indifferent at 3/4: adversarially he acquits, the lenient
    # judge still convicts: 2/5 * 1/2 = 1/5
    adv = evaluate_scheme(two_judges, scheme, tie_breaking="adversarial")
    assert adv.sender_value == pytest.approx(0.2)
    assert adv.actions == [(0, 0), (1, 0)]
    # pooling at 1/2 (the prosecutor's optimal scheme): only the lenient judge convicts
    ev = evaluate_scheme(two_judges, OPTIMAL)
    assert ev.sender_value == pytest.approx(0.6 * 0.5)


def test_evaluate_does_not_mutate_scheme(prosecutor):
    scheme = np.array(OPTIMAL)
    before = scheme.copy()
    evaluate_scheme(prosecutor, scheme)
    assert np.array_equal(scheme, before)


# -------------------------------------------------------------------- obedience
def test_obedience_violation(prosecutor):
    # the optimal joint recommending (acquit, convict) is obedient
    joint = np.array([[0.4, 0.3], [0.0, 0.3]])
    assert obedience_violation(prosecutor, joint, [(0,), (1,)]) == pytest.approx(0.0)
    # always recommending convict is not: deviating to acquit gains 0.7 - 0.3
    assert obedience_violation(prosecutor, np.array([[0.7], [0.3]]), [(1,)]) == \
        pytest.approx(0.4)
    # recommending the wrong action in each state (convict the innocent, acquit the
    # guilty): deviating gains 0.7 on the first signal and 0.3 on the second
    joint = np.array([[0.7, 0.0], [0.0, 0.3]])
    assert obedience_violation(prosecutor, joint, [(1,), (0,)]) == pytest.approx(0.7)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("scheme,field,words", [
    ([[1, 0], [0, 1], [0, 1]], "scheme", "shape (2, k)"),
    ([1, 0], "scheme", "shape"),
    ([[], []], "scheme", "shape"),
    ([[0.5, 0.5], [1.5, -0.5]], "scheme[1][1]", "negative"),
    ([[0.5, 0.4], [0, 1]], "scheme[0]", "sums to 0.9"),
    ([[0.5, 0.5], [0, 0.5]], "scheme[1]", "expected 1"),
    ([[np.nan, 1], [0, 1]], "scheme", "nan"),
    ([[np.inf, 0], [0, 1]], "scheme", "infinite"),
    ([["a", 1], [0, 1]], "scheme", "numeric"),
    ([[1, 0], [0]], "scheme", "numeric"),
    ([[None, 1], [0, 1]], "scheme", "nan"),  # None reads as NaN
])
def test_bad_schemes(prosecutor, scheme, field, words):
    with pytest.raises(GameValidationError) as info:
        evaluate_scheme(prosecutor, scheme)
    assert info.value.field == field
    assert info.value.field.startswith("scheme")
    assert words.lower() in info.value.problem.lower()


def test_bad_tie_breaking(prosecutor):
    with pytest.raises(GameValidationError) as info:
        evaluate_scheme(prosecutor, FULL, tie_breaking="receiver")
    assert info.value.field == "tie_breaking"
    assert "sender" in info.value.problem and "'receiver'" in info.value.problem


def test_tiny_negative_entries_within_tolerance_are_clipped(prosecutor):
    ev = evaluate_scheme(prosecutor, [[1 + 1e-12, -1e-12], [0, 1]])
    assert ev.sender_value == pytest.approx(0.3)
    assert np.all(ev.signal_probabilities >= 0)


def test_exact_fractions_in_scheme(prosecutor):
    ev = evaluate_scheme(prosecutor, [[F(4, 7), F(3, 7)], [0, 1]])
    assert ev.sender_value == pytest.approx(0.6)
