"""Properties of the exact solvers on random games (Hypothesis).

Random games (conftest.py ``game_specs``): 2-4 states, 2-4 actions, utilities small
integers or fractions with denominators up to 4, priors from integer weights (exact, zero
entries allowed); receiver-types games with 1-3 types. Each property is a theorem of
Bayesian persuasion checked on every drawn game:

* the two LP formulations have the same optimum (to 1e-7 in floats, exactly when certified);
* for two states the exact concave closure gives the same value;
* the returned signals are Bayes plausible and obedient, and evaluating the returned scheme
  under sender-preferred tie-breaking gives back the value;
* the value does not change when states or actions are relabelled, when the receiver's
  utility gets a per-state constant or a positive factor;
* no-information value <= value <= E_w max_a v(w, a), and full revelation is a lower bound;
* solving does not mutate the game.

The reference quantities (bounds, best responses) are computed here in exact arithmetic,
independently of the package.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persuasion import evaluate_scheme, solve

PLAIN = dict(n_states=(2, 4), n_actions=(2, 4))
TYPES = dict(n_states=(2, 4), n_actions=(2, 4), n_types=(1, 3), as_types=True)
LP_METHODS = ("signaling", "posterior")


# --------------------------------------------------------------- references
def br_value(spec, mu) -> F:
    """Sender's value at belief ``mu`` when every type best-responds, ties to the sender."""
    total = F(0)
    for t in range(spec.T):
        rec = [sum(mu[i] * spec.U[t][i][a] for i in range(spec.n)) for a in range(spec.m)]
        top = max(rec)
        total += spec.rho[t] * max(sum(mu[i] * spec.V[i][a] for i in range(spec.n))
                                   for a in range(spec.m) if rec[a] == top)
    return total


def no_information_value(spec) -> F:
    return br_value(spec, spec.prior)


def full_revelation_value(spec) -> F:
    unit = [tuple(F(int(i == w)) for i in range(spec.n)) for w in range(spec.n)]
    return sum((spec.prior[w] * br_value(spec, unit[w]) for w in range(spec.n)), F(0))


def sender_upper_bound(spec) -> F:
    return sum((spec.prior[w] * max(spec.V[w]) for w in range(spec.n)), F(0))


def transform(spec, *, states=None, actions=None, add=None, scale=None, sender=None):
    """A relabelled / rescaled copy of ``spec``."""
    n, m = spec.n, spec.m
    sp = list(range(n)) if states is None else list(states)
    ap = list(range(m)) if actions is None else list(actions)
    prior = tuple(spec.prior[w] for w in sp)
    V = tuple(tuple(spec.V[w][a] for a in ap) for w in sp)
    U = []
    for t in range(spec.T):
        c = add[t] if add is not None else [0] * n
        s = scale[t] if scale is not None else 1
        U.append(tuple(tuple(s * spec.U[t][w][a] + c[w] for a in ap) for w in sp))
    if sender is not None:
        a_, b_ = sender
        V = tuple(tuple(a_ * x + b_ for x in row) for row in V)
    return replace(spec, prior=prior, V=V, U=tuple(U))


def draw(data, game_specs, **limits):
    spec = data.draw(game_specs(**limits), label="game")
    return spec, spec.game()


def certified(game, method):
    res = solve(game, method, certify=True)
    assert res.certified, res.message
    return res


# ------------------------------------------------------------------ agreement
@given(data=st.data())
def test_methods_agree(game_specs, data):
    _, g = draw(data, game_specs, **PLAIN)
    sig, post = certified(g, "signaling"), certified(g, "posterior")
    assert abs(sig.value - post.value) <= 1e-7
    assert sig.value_exact == post.value_exact
    for res in (sig, post):
        assert abs(float(res.value_exact) - res.value) <= 1e-9


@settings(max_examples=40)
@given(data=st.data())
def test_methods_agree_receiver_types(game_specs, data):
    _, g = draw(data, game_specs, **TYPES)
    sig, post = certified(g, "signaling"), certified(g, "posterior")
    assert abs(sig.value - post.value) <= 1e-7
    assert sig.value_exact == post.value_exact
    for res in (sig, post):
        assert abs(float(res.value_exact) - res.value) <= 1e-9


@given(data=st.data())
def test_one_type_game_equals_plain_game(game_specs, data):
    spec = data.draw(game_specs(**PLAIN))
    plain, typed = spec.game(), replace(spec, as_types=True).game()
    for method in LP_METHODS:
        assert certified(plain, method).value_exact == certified(typed, method).value_exact


@given(data=st.data())
def test_two_states_concavification(game_specs, data):
    spec, g = draw(data, game_specs, n_states=(2, 2), n_actions=(1, 4), n_types=(1, 3))
    conc = solve(g, "concavification")
    post = certified(g, "posterior")
    assert conc.value_exact == post.value_exact
    assert abs(conc.value - post.value) <= 1e-9
    # cav V at the prior from the hull, and V <= cav V at every breakpoint
    vf = conc.details["_value_function"]
    assert float(vf.cav(float(spec.prior[1]))) == pytest.approx(float(conc.value_exact), abs=1e-9)
    for p, v in zip(vf.breakpoints, vf.values):
        assert v == br_value(spec, (1 - p, p))
        assert vf.cav(float(p)) >= float(v) - 1e-12


# ---------------------------------------------------- plausibility, obedience
def check_bayes_plausible(res, game):
    probs = res.signal_probabilities
    assert np.all(probs > 0) and abs(probs.sum() - 1) <= 1e-9
    np.testing.assert_allclose(probs @ res.posteriors, game.prior, atol=1e-9)
    np.testing.assert_allclose(res.posteriors.sum(1), 1, atol=1e-9)
    assert np.all(res.scheme >= 0)
    np.testing.assert_allclose(res.scheme.sum(1), 1, atol=1e-9)
    # the scheme induces these signal probabilities
    np.testing.assert_allclose(game.prior @ res.scheme, probs, atol=1e-9)
    if res.signals_exact is not None:
        for i, p in enumerate(game.prior_exact):
            assert sum(pk * post[i] for pk, post in res.signals_exact) == p


def check_obedient(res, game):
    ev = evaluate_scheme(game, res.scheme, tie_breaking="sender")
    assert abs(ev.sender_value - res.value) <= 1e-7
    assert abs(ev.receiver_value - res.receiver_utility) <= 1e-7
    assert abs(res.sender_utility - res.value) <= 1e-9
    for k in range(res.n_signals):
        post = res.posteriors[k]
        prof = res.actions[k] if game.n_types > 1 else (res.actions[k],)
        for t, a in enumerate(prof):
            pay = post @ game.receiver_utilities[t]
            assert pay[a] >= pay.max() - 1e-9, (k, t, a, pay)
    assert res.details["max_obedience_violation"] <= 1e-9


@pytest.mark.parametrize("method", LP_METHODS)
@given(data=st.data())
def test_signals_are_bayes_plausible_and_obedient(game_specs, method, data):
    _, g = draw(data, game_specs, **PLAIN)
    res = solve(g, method, certify=True)
    check_bayes_plausible(res, g)
    check_obedient(res, g)


@pytest.mark.parametrize("method", LP_METHODS)
@settings(max_examples=40)
@given(data=st.data())
def test_types_signals_are_bayes_plausible_and_obedient(game_specs, method, data):
    _, g = draw(data, game_specs, **TYPES)
    res = solve(g, method, certify=True)
    check_bayes_plausible(res, g)
    check_obedient(res, g)


@settings(max_examples=40)
@given(data=st.data())
def test_concavification_signals(game_specs, data):
    _, g = draw(data, game_specs, n_states=(2, 2), n_actions=(1, 4), n_types=(1, 2))
    res = solve(g, "concavification")
    check_bayes_plausible(res, g)
    check_obedient(res, g)
    assert res.n_signals <= 2


# ------------------------------------------------------------------ invariance
@given(data=st.data())
def test_permuting_states_and_actions(game_specs, data):
    spec = data.draw(game_specs(**PLAIN, n_types=(1, 2)), label="game")
    sp = data.draw(st.permutations(range(spec.n)), label="states")
    ap = data.draw(st.permutations(range(spec.m)), label="actions")
    method = data.draw(st.sampled_from(LP_METHODS), label="method")
    base = certified(spec.game(), method)
    other = certified(transform(spec, states=sp, actions=ap).game(), method)
    assert other.value_exact == base.value_exact
    assert abs(other.value - base.value) <= 1e-7


@given(data=st.data())
def test_receiver_utility_per_state_constant(game_specs, data):
    spec = data.draw(game_specs(**PLAIN, n_types=(1, 2)), label="game")
    add = data.draw(st.lists(st.lists(st.integers(-5, 5).map(F), min_size=spec.n,
                                      max_size=spec.n), min_size=spec.T, max_size=spec.T),
                    label="add")
    method = data.draw(st.sampled_from(LP_METHODS), label="method")
    base = certified(spec.game(), method)
    other = certified(transform(spec, add=add).game(), method)
    assert other.value_exact == base.value_exact
    assert abs(other.value - base.value) <= 1e-7


@given(data=st.data())
def test_receiver_utility_positive_scale(game_specs, data):
    spec = data.draw(game_specs(**PLAIN, n_types=(1, 2)), label="game")
    scale = data.draw(st.lists(st.fractions(min_value=F(1, 4), max_value=5, max_denominator=4),
                               min_size=spec.T, max_size=spec.T),
                      label="scale")
    method = data.draw(st.sampled_from(LP_METHODS), label="method")
    base = certified(spec.game(), method)
    other = certified(transform(spec, scale=scale).game(), method)
    assert other.value_exact == base.value_exact
    assert abs(other.value - base.value) <= 1e-7


@given(data=st.data())
def test_sender_utility_positive_affine(game_specs, data):
    spec = data.draw(game_specs(**PLAIN), label="game")
    a = data.draw(st.fractions(min_value=F(1, 3), max_value=3, max_denominator=3), label="a")
    b = data.draw(st.integers(-4, 4).map(F), label="b")
    base = certified(spec.game(), "signaling")
    other = certified(transform(spec, sender=(a, b)).game(), "signaling")
    assert other.value_exact == a * base.value_exact + b


# ---------------------------------------------------------------------- bounds
@given(data=st.data())
def test_value_between_information_bounds(game_specs, data):
    spec = data.draw(game_specs(**PLAIN, n_types=(1, 2)), label="game")
    method = data.draw(st.sampled_from(LP_METHODS), label="method")
    res = certified(spec.game(), method)
    lower = max(no_information_value(spec), full_revelation_value(spec))
    upper = sender_upper_bound(spec)
    assert lower <= res.value_exact <= upper
    assert float(lower) - 1e-9 <= res.value <= float(upper) + 1e-9


def test_reference_bounds_on_prosecutor():
    # the references themselves, by hand: no information 0, full revelation 3/10,
    # upper bound 1 (the prosecutor always wants a conviction)
    spec = SimpleNamespace(prior=(F(7, 10), F(3, 10)), V=((0, 1), (0, 1)),
                           U=(((1, 0), (0, 1)),), rho=(F(1),), n=2, m=2, T=1)
    assert no_information_value(spec) == 0
    assert full_revelation_value(spec) == F(3, 10)
    assert sender_upper_bound(spec) == 1
    assert br_value(spec, (F(1, 2), F(1, 2))) == 1  # tie at 1/2 goes to the sender


# ----------------------------------------------------------------- no mutation
def snapshot(g):
    arrays = [g.prior, g.sender_utility, g.receiver_utilities, g.type_probabilities]
    return g.to_dict(exact=True), [a.copy() for a in arrays], arrays


@given(data=st.data())
def test_solving_does_not_mutate_the_game(game_specs, data):
    _, g = draw(data, game_specs, n_states=(2, 3), n_actions=(2, 3), n_types=(1, 2))
    d0, copies, arrays = snapshot(g)
    methods = list(LP_METHODS) + (["concavification"] if g.n_states == 2 else [])
    for method in methods:
        res = solve(g, method, certify=method != "concavification")
        assert res.game is g
        evaluate_scheme(g, res.scheme, tie_breaking="adversarial")
    d1, _, arrays1 = snapshot(g)
    assert d1 == d0
    for a, c in zip(arrays1, copies):
        assert np.array_equal(a, c) and not a.flags.writeable
