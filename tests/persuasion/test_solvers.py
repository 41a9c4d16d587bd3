"""Exact solvers on textbook games with optima derived by hand (see conftest.py).

One test class is re-run for every method, in the style of scipy's linprog tests: each
textbook game must give its exact optimum as a Fraction (certified), the float value to
1e-9, and -- where the optimal split is unique -- exactly the expected signals.
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from persuasion import (Game, GameValidationError, ProblemTooLargeError, ReceiverTypesGame,
                        solve, solve_both)
from persuasion.concavification import value_function
from persuasion.result import STATUS_CERTIFIED
from persuasion.solve import MethodsDisagreeError

METHODS = ["signaling", "posterior", "concavification"]
CASES = ["prosecutor", "no_conflict", "default_is_favourite", "sender_indifferent",
         "degenerate", "one_state", "one_action", "three_state", "two_judges"]
TWO_STATES = {"prosecutor", "sender_indifferent", "degenerate", "one_action", "two_judges"}


def method_case_pairs(names):
    """(method, name) pairs; concavification only for the two-state games."""
    return [(m, n) for m in METHODS for n in names if m != "concavification" or n in TWO_STATES]


def _solve(game, method, **kw):
    if method == "concavification":
        return solve(game, method)
    return solve(game, method, certify=True, **kw)


def signal_set(res):
    """{(probability, posterior, action)} with exact entries."""
    return {(s.probability_exact, tuple(s.posterior_exact), s.action) for s in res.signals}


def assert_success(res, value: F):
    assert res.success and res.status == STATUS_CERTIFIED, res.message
    assert res.certified
    assert res.value_exact == value and isinstance(res.value_exact, F)
    assert res.value == pytest.approx(float(value), abs=1e-9)
    assert res.sender_utility == pytest.approx(float(value), abs=1e-9)
    # the scheme is a row-stochastic matrix [state][signal]
    assert res.scheme.shape == (res.game.n_states, res.n_signals)
    assert np.all(res.scheme >= 0)
    np.testing.assert_allclose(res.scheme.sum(1), 1, atol=1e-12)
    # exact signals are Bayes plausible and reproduce the exact value
    assert sum(s.probability_exact for s in res.signals) == 1
    for i, p in enumerate(res.game.prior_exact):
        assert sum(s.probability_exact * s.posterior_exact[i] for s in res.signals) == p


class TestTextbook:
    @pytest.mark.parametrize("method,name", method_case_pairs(CASES))
    def test_value(self, textbook, method, name):
        case = textbook[name]
        assert (case.game.n_states == 2) == (name in TWO_STATES)
        assert_success(_solve(case.game, method), case.value)

    @pytest.mark.parametrize("method,name", method_case_pairs(
        ["prosecutor", "no_conflict", "three_state", "one_state", "two_judges"]))
    def test_unique_split(self, textbook, method, name):
        case = textbook[name]
        res = _solve(case.game, method)
        assert signal_set(res) == case.signals

    @pytest.mark.parametrize("method", METHODS)
    def test_prosecutor_details(self, textbook, method):
        res = _solve(textbook["prosecutor"].game, method)
        by_action = {s.action_name: s for s in res.signals}
        assert set(by_action) == {"acquit", "convict"}
        assert by_action["convict"].posterior_exact == (F(1, 2), F(1, 2))
        assert by_action["convict"].probability_exact == F(3, 5)
        assert by_action["acquit"].posterior_exact == (F(1), F(0))
        assert by_action["acquit"].probability_exact == F(2, 5)
        # P(convict | innocent) = 3/7, P(convict | guilty) = 1
        k = list(res.action_names).index("convict")
        assert res.scheme[0, k] == pytest.approx(3 / 7)
        assert res.scheme[1, k] == pytest.approx(1.0)
        # the judge's expected utility: 2/5 * 1 (acquit, sure of innocence) + 3/5 * 1/2
        assert res.receiver_utility == pytest.approx(0.7)

    @pytest.mark.parametrize("method", METHODS)
    def test_degenerate(self, textbook, method):
        case = textbook["degenerate"]
        res = _solve(case.game, method)
        # The split {0: 2/5, 1/2: 3/5} is found by every method; which twin (a2 or a3) is
        # recommended at the posterior 1/2 is not determined -- the signaling LP may even
        # split that mass between two signals with the same posterior (see conftest.py).
        mass, acts = {}, {}
        for s in res.signals:
            key = tuple(s.posterior_exact)
            mass[key] = mass.get(key, 0) + s.probability_exact
            acts.setdefault(key, set()).add(s.action)
        assert {(p, k) for k, p in mass.items()} == set(case.signal_actions)
        for (p, k), allowed in case.signal_actions.items():
            assert acts[k] <= allowed
        assert 0 not in {s.action for s in res.signals}  # a0 loses every tie to a1

    @pytest.mark.parametrize("method", ["signaling", "posterior"])
    def test_default_action_is_favourite(self, textbook, method):
        case = textbook["default_is_favourite"]
        res = _solve(case.game, method)
        assert {s.action for s in res.signals} == {case.extra["only_action"]}
        if method == "signaling":
            # one recommendation, so the signal reveals nothing: posterior == prior
            assert res.n_signals == 1
            assert res.signals[0].posterior_exact == case.game.prior_exact

    @pytest.mark.parametrize("method", METHODS)
    def test_sender_indifferent(self, textbook, method):
        game = textbook["sender_indifferent"].game
        res = _solve(game, method)
        assert res.value_exact == F(19, 10)
        # any scheme gives the same value: check with two extremes
        from persuasion import evaluate_scheme
        assert evaluate_scheme(game, np.eye(2)).sender_value == pytest.approx(1.9)
        assert evaluate_scheme(game, np.ones((2, 1))).sender_value == pytest.approx(1.9)

    @pytest.mark.parametrize("method", METHODS)
    def test_one_action(self, textbook, method):
        res = _solve(textbook["one_action"].game, method)
        assert {s.action for s in res.signals} == {0}

    @pytest.mark.parametrize("method", METHODS)
    def test_result_to_dict_and_summary(self, textbook, method):
        res = _solve(textbook["prosecutor"].game, method)
        d = res.to_dict()
        assert d["value"] == pytest.approx(0.6)
        assert d["value_exact"] == "3/5" and d["certified"] is True
        assert d["states"] == ["innocent", "guilty"]
        assert "_value_function" not in d["details"]
        assert "3/5" in res.summary()


# ----------------------------------------------------------------- uniqueness
# ``unique`` (see PersuasionResult): the signaling LP decides whether the optimal direct
# (recommendation) scheme is unique; the posterior LP ranges over cell vertices only and
# reports None; concavification reports False when the prior lies on a flat piece of
# cav V that V touches (revealing nothing and splitting are both optimal).
def test_prosecutor_optimum_is_unique(prosecutor):
    assert solve(prosecutor, "signaling").unique is True
    assert solve(prosecutor, "posterior").unique is None


def test_obvious_tie_is_not_unique(textbook):
    # The sender's payoff depends on the state only ([[1, 1], [4, 4]]): every obedient
    # scheme earns 19/10. For the signaling LP both "recommend acquit always" (x puts all
    # mass on acquit) and full revelation (x[guilty, convict] = 3/10) are optimal, so its
    # optimum is not unique. V(p) = 1 + 3p is linear, cav V = V: the prior 3/10 sits on a
    # flat piece that V touches, and concavification says the same.
    game = textbook["sender_indifferent"].game
    assert solve(game, "signaling").unique is False
    conc = solve(game, "concavification")
    assert conc.unique is False
    assert conc.n_signals == 1 and conc.value_exact == F(19, 10)  # revealing nothing
    assert solve(game, "posterior").unique is None


def test_degenerate_uniqueness(textbook):
    # the twins a2/a3 make the signaling LP's optimum non-unique (recommend a2 or a3 at
    # the posterior 1/2); the posterior LP keeps one label per posterior and cannot tell
    game = textbook["degenerate"].game
    assert solve(game, "signaling").unique is False
    assert solve(game, "posterior").unique is None


def test_check_unique_off(prosecutor):
    assert solve(prosecutor, "signaling", check_unique=False).unique is None


# ------------------------------------------------------------- receiver types
def test_one_type_equals_plain_game(textbook):
    for name in ["prosecutor", "no_conflict", "three_state", "degenerate", "one_state"]:
        g = textbook[name].game
        tg = ReceiverTypesGame(list(g.prior_exact), g.sender_utility_exact,
                               [g.receiver_utility_exact], [1])
        for method in ("signaling", "posterior"):
            a, b = solve(g, method, certify=True), solve(tg, method, certify=True)
            assert a.value_exact == b.value_exact == textbook[name].value
            # the same LP is built for both, so the same signals come back (for one type
            # the actions are plain indices, as for a Game)
            assert signal_set(a) == signal_set(b)


def test_types_lp_equals_types_posterior_lp(two_judges):
    post, sig = solve_both(two_judges, certify=True)
    assert post.value_exact == sig.value_exact == F(2, 5)
    assert signal_set(post) == signal_set(sig)


def test_two_state_types_game_equals_concavification(two_judges):
    conc = solve(two_judges, "concavification")
    post = solve(two_judges, "posterior", certify=True)
    assert conc.value_exact == post.value_exact == F(2, 5)
    vf = conc.details["_value_function"]
    assert vf.hull == [(0, 0), (F(3, 4), 1), (1, 1)]
    assert vf.breakpoints == [0, F(1, 2), F(3, 4), 1]
    assert vf.values == [0, F(1, 2), 1, 1]


def test_types_game_with_three_actions():
    # Two receivers who both take the safe action s unless convinced; the lenient one
    # takes b at P(w1) >= 1/3, the strict one at >= 2/3; c is never a best response.
    # Sender: 1 for b, 0 otherwise. V(p) = 0 on [0, 1/3), 1/2 on [1/3, 2/3), 1 on
    # [2/3, 1]. From (0, 0) the slopes to (1/3, 1/2) and to (2/3, 1) are both 3/2 (so the
    # optimal split is not unique) and to (1, 1) only 1: cav(1/5) = 3/2 * 1/5 = 3/10.
    g = ReceiverTypesGame(["4/5", "1/5"], [[0, 1, 0], [0, 1, 0]],
                          [[[1, 0, -5], [0, 2, -5]], [[2, 0, -5], [0, 1, -5]]], ["1/2", "1/2"])
    for method in METHODS:
        assert _solve(g, method).value_exact == F(3, 10)


# ------------------------------------------------------------- concavification
def test_value_function_of_prosecutor(prosecutor):
    vf = value_function(prosecutor)
    assert vf.breakpoints == [0, F(1, 2), 1]
    assert vf.values == [0, 1, 1]
    assert vf.hull == [(0, 0), (F(1, 2), 1), (1, 1)]
    assert [p[2] for p in vf.pieces] == [(0,), (1,)]
    assert vf.V(0.3) == 0.0 and vf.V(0.5) == 1.0 and vf.V(0.9) == 1.0
    np.testing.assert_allclose(vf.cav([0.0, 0.3, 0.5, 1.0]), [0.0, 0.6, 1.0, 1.0])


def test_concavification_at_a_hull_vertex():
    # prior exactly on the kink: revealing nothing is optimal (one signal)
    g = Game(["1/2", "1/2"], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
    res = solve(g, "concavification")
    assert res.value_exact == 1 and res.n_signals == 1


@pytest.mark.parametrize("p", ["0", "1"])
def test_degenerate_priors(p):
    g = Game([1 - F(p), p], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
    expected = F(p)  # the judge knows the state
    for method in METHODS:
        assert _solve(g, method).value_exact == expected


def test_zero_prior_state_in_three_states(textbook):
    g = textbook["three_state"].game.with_data(prior=["1/2", "1/2", "0"])
    # without w2 nothing makes b obedient (2 p2 >= p0 + p1 fails): value 0
    for method in ("signaling", "posterior"):
        res = _solve(g, method)
        assert res.value_exact == 0
        np.testing.assert_allclose(res.scheme.sum(1), 1)


# --------------------------------------------------------------- size refusals
def test_types_game_above_max_variables():
    rng = np.random.default_rng(0)
    U = rng.integers(-2, 3, size=(3, 2, 3))
    g = ReceiverTypesGame([0.5, 0.5], [[0, 1, 2], [2, 1, 0]], U, ["1/3"] * 3)
    # 3 actions, 3 types: 27 signals, 54 variables
    with pytest.raises(ProblemTooLargeError, match=r"3\^3 = 27 signals and 54 variables"):
        solve(g, "signaling", max_variables=53)
    assert solve(g, "signaling", max_variables=54).success


def test_posterior_lp_above_max_vertices(textbook):
    g = textbook["three_state"].game
    with pytest.raises(ProblemTooLargeError, match="method='signaling'") as info:
        solve(g, "posterior", max_vertices=3)
    assert "max_vertices=3" in str(info.value)


def test_posterior_lp_above_max_cells(two_judges):
    with pytest.raises(ProblemTooLargeError, match="max_cells=3") as info:
        solve(two_judges, "posterior", max_cells=3)
    assert "signaling" in str(info.value)
    assert solve(two_judges, "posterior", max_cells=4).success


# ----------------------------------------------------------------- bad options
def test_tie_breaking_other_than_sender(prosecutor):
    for tb in ("adversarial", "first", "nonsense"):
        with pytest.raises(GameValidationError) as info:
            solve(prosecutor, "signaling", tie_breaking=tb)
        assert info.value.field == "tie_breaking"
        assert "evaluate_scheme" in info.value.problem


def test_unknown_method(prosecutor):
    with pytest.raises(GameValidationError) as info:
        solve(prosecutor, "simplex")
    assert info.value.field == "method"
    assert "signaling" in info.value.problem and "'simplex'" in info.value.problem


def test_concavification_needs_two_states(textbook):
    with pytest.raises(GameValidationError) as info:
        solve(textbook["three_state"].game, "concavification")
    assert info.value.field == "method" and "2 states" in info.value.problem


def test_concavification_takes_no_options(prosecutor):
    with pytest.raises(GameValidationError) as info:
        solve(prosecutor, "concavification", max_vertices=3)
    assert info.value.field == "options" and "max_vertices" in info.value.problem


def test_unknown_solver_option(prosecutor):
    with pytest.raises(TypeError):
        solve(prosecutor, "signaling", max_vertice=3)


# ------------------------------------------------------------------ solve_both
def test_solve_both(prosecutor):
    post, sig = solve_both(prosecutor, certify=True)
    assert post.method == "posterior" and sig.method == "signaling"
    assert post.value_exact == sig.value_exact == F(3, 5)


def test_solve_both_disagreement_is_reported(prosecutor):
    # a negative tolerance makes any pair of values "disagree": the error path works
    with pytest.raises(MethodsDisagreeError, match="differ"):
        solve_both(prosecutor, atol=-1.0)


@pytest.mark.parametrize("solver", ["simplex", "ipm", "choose"])
def test_signaling_solver_option(prosecutor, solver):
    res = solve(prosecutor, "signaling", certify=True, solver=solver)
    assert res.value_exact == F(3, 5)
