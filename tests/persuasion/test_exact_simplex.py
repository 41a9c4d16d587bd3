"""The exact rational simplex (persuasion.exact_simplex), checked against independent
references: the exact certificate of HiGHS's basis, and a brute force over the bases of
small LPs."""

from fractions import Fraction as F

import numpy as np
import pytest

from persuasion import Game, solve
from persuasion.certify import certify_basis
from persuasion.errors import CertificationError
from persuasion.exact_simplex import solve_exact
from persuasion.highs import SparseLP, solve_lp
from persuasion.posterior_lp import _posterior_lp, candidate_posteriors
from persuasion.signaling_lp import action_profiles, build_signaling_lp, dual_feasible_basis


def random_game(rng, n, m, scale=10):
    V = rng.integers(-scale, scale + 1, (n, m))
    U = rng.integers(-scale, scale + 1, (n, m))
    w = [F(int(x)) for x in rng.integers(1, 20, n)]
    total = sum(w)
    return Game([p / total for p in w], V, U)


def exact_signaling_lp(g):
    return build_signaling_lp(list(g.prior_exact), g.sender_utility_exact,
                              g.receiver_utilities_exact, list(g.type_probabilities_exact),
                              action_profiles(g.n_actions, g.n_types))


@pytest.mark.parametrize("n,m", [(2, 2), (2, 4), (3, 3), (4, 2), (4, 4), (5, 5)])
def test_cold_exact_simplex_matches_the_certified_optimum(n, m):
    rng = np.random.default_rng(100 * n + m)
    for _ in range(4):
        g = random_game(rng, n, m)
        lp = exact_signaling_lp(g)
        sol = solve_exact(lp)  # from scratch: phase 1 from the crash basis
        assert sol.phase1
        cert = certify_basis(lp, sol.col_basic, sol.row_status)
        assert cert.ok, cert.message
        assert cert.value == sol.value
        assert sol.value == solve(g, certify=True).value_exact


@pytest.mark.parametrize("n", [2, 3])
def test_exact_simplex_against_a_brute_force_over_bases(n, brute_force_value):
    rng = np.random.default_rng(7 + n)
    for _ in range(6):
        g = random_game(rng, n, 3)
        posts, profiles, values, _ = candidate_posteriors(g)
        P = np.array(posts, dtype=object).T.reshape(n, len(posts))
        lp = _posterior_lp(g.prior_exact, P, values)
        assert solve_exact(lp).value == brute_force_value(g)
        assert solve_exact(exact_signaling_lp(g)).value == brute_force_value(g)


def test_warm_start_from_the_optimal_basis_makes_no_pivot():
    g = random_game(np.random.default_rng(3), 5, 5)
    lp_f = build_signaling_lp(g.prior, g.sender_utility, g.receiver_utilities,
                              g.type_probabilities, action_profiles(5, 1))
    sol = solve_lp(lp_f, start_basis=dual_feasible_basis(lp_f, 5))
    ex = solve_exact(exact_signaling_lp(g), sol.basis())
    assert not ex.phase1 and ex.iterations == 0
    assert ex.value == solve(g, certify=True).value_exact


def test_warm_start_from_a_non_optimal_feasible_basis_pivots_to_the_optimum():
    g = random_game(np.random.default_rng(5), 4, 4)
    lp = exact_signaling_lp(g)
    # full revelation as a basis: each state's receiver-best column basic, every
    # obedience slack basic (primal feasible, usually not optimal for the sender)
    n, m = 4, 4
    U = g.receiver_utility
    col_basic = np.zeros(lp.n_cols, dtype=bool)
    for w in range(n):
        col_basic[int(np.argmax(U[w])) * n + w] = True
    rows = ["lower"] * n + ["basic"] * (lp.n_rows - n)
    cert = certify_basis(lp, col_basic, rows)
    start_ok = all(v >= 0 for v in cert.x.values()) if cert.x else False
    ex = solve_exact(lp, (col_basic, rows))
    assert ex.value == solve(g, certify=True).value_exact
    if start_ok:
        assert not ex.phase1


def test_redundant_rows_and_zero_prior_states():
    """A state of prior 0 makes its Bayes-plausibility row's right-hand side 0 and two
    equal states make rows dependent: the artificial of a redundant row stays at 0."""
    g = Game(["1/2", "1/2", 0], [[0, 1], [0, 1], [1, 0]], [[1, 0], [0, 1], [0, 1]])
    posts, _, values, _ = candidate_posteriors(g)
    P = np.array(posts, dtype=object).T.reshape(3, len(posts))
    lp = _posterior_lp(g.prior_exact, P, values)
    ex = solve_exact(lp)
    assert certify_basis(lp, ex.col_basic, ex.row_status).ok
    assert ex.value == solve(g, "posterior", certify=True).value_exact
    # duplicate an equality row: rank deficiency
    dup = SparseLP(c=np.array([F(1), F(2)], dtype=object),
                   indptr=np.array([0, 2, 4]), indices=np.array([0, 1, 0, 1]),
                   data=np.array([F(1)] * 4, dtype=object),
                   row_lower=np.array([F(1), F(1)], dtype=object),
                   row_upper=np.array([F(1), F(1)], dtype=object))
    ex = solve_exact(dup)
    assert ex.value == 2 and ex.x == {1: F(1)}
    assert certify_basis(dup, ex.col_basic, ex.row_status).ok


def test_limits_are_refused():
    g = random_game(np.random.default_rng(1), 3, 3)
    with pytest.raises(CertificationError, match="limited to 2 rows"):
        solve_exact(exact_signaling_lp(g), max_rows=2)
    ranged = SparseLP(c=np.array([F(1)], dtype=object), indptr=np.array([0, 1]),
                      indices=np.array([0]), data=np.array([F(1)], dtype=object),
                      row_lower=np.array([F(0)], dtype=object),
                      row_upper=np.array([F(1)], dtype=object))
    with pytest.raises(CertificationError, match="two finite bounds"):
        solve_exact(ranged)


def test_degenerate_game_terminates():
    """Many ties (every utility equal in a state) make most pivots degenerate; Bland's
    rule takes over and the method ends at the optimum."""
    n = 5
    V = np.tile(np.arange(n), (n, 1))
    U = np.zeros((n, n), dtype=int)
    U[:, 0] = 1
    g = Game([F(1, n)] * n, V, U)
    lp = exact_signaling_lp(g)
    ex = solve_exact(lp)
    assert ex.value == solve(g, certify=True).value_exact
