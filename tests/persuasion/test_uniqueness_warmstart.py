"""`unique` against a brute force over the optimal face, and the dual-feasible warm start."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from persuasion import Game, ReceiverTypesGame, solve
from persuasion.highs import solve_lp
from persuasion.signaling_lp import action_profiles, build_signaling_lp, dual_feasible_basis


def face_spread(g):
    """max over variables of (max - min) of x_j over the optimal face, by 2 LPs per variable
    on a dense copy of the LP (independent of the HiGHS basis machinery)."""
    prof = action_profiles(g.n_actions, g.n_types)
    lp = build_signaling_lp(g.prior, g.sender_utility, g.receiver_utilities,
                            g.type_probabilities, prof)
    A = sp.csr_matrix((lp.data, lp.indices, lp.indptr), shape=(lp.n_rows, lp.n_cols)).toarray()
    n = g.n_states
    Aeq, beq = A[:n], lp.row_lower[:n]
    Aub, bub = -A[n:], np.zeros(lp.n_rows - n)
    opt = -linprog(-lp.c, A_ub=Aub, b_ub=bub, A_eq=Aeq, b_eq=beq, method="highs").fun
    Aub2 = np.vstack([Aub, -lp.c])
    bub2 = np.concatenate([bub, [-(opt - 1e-9 * max(1, abs(opt)))]])
    spread = 0.0
    for j in range(lp.n_cols):
        e = np.zeros(lp.n_cols)
        e[j] = 1
        lo = linprog(e, A_ub=Aub2, b_ub=bub2, A_eq=Aeq, b_eq=beq, method="highs").fun
        hi = -linprog(-e, A_ub=Aub2, b_ub=bub2, A_eq=Aeq, b_eq=beq, method="highs").fun
        spread = max(spread, hi - lo)
    return spread


def random_games(count, seed):
    rng = np.random.default_rng(seed)
    for trial in range(count):
        n, m = int(rng.integers(2, 6)), int(rng.integers(2, 5))
        prior = rng.dirichlet(np.ones(n))
        if trial % 5 == 0:  # a zero-prior state
            prior[rng.integers(n)] = 0
            prior /= prior.sum()
        ints = trial % 2 == 0
        V = rng.integers(0, 4, (n, m)) if ints else rng.uniform(size=(n, m))
        if trial % 4 == 3:
            U = rng.integers(0, 4, (2, n, m)) if ints else rng.uniform(size=(2, n, m))
            yield ReceiverTypesGame(prior.tolist(), V, U, [0.4, 0.6])
        else:
            U = rng.integers(0, 4, (n, m)) if ints else rng.uniform(size=(n, m))
            yield Game(prior.tolist(), V, U)


def test_unique_flag_matches_brute_force_face():
    """Integer utilities make degenerate optima (ties, tight rows with zero dual) common;
    the flag must agree with the brute-force spread of the optimal face on every game."""
    wrong, nonunique = [], 0
    for k, g in enumerate(random_games(60, seed=123)):
        truly_unique = face_spread(g) <= 1e-6
        nonunique += not truly_unique
        if solve(g, "signaling").unique != truly_unique:
            wrong.append(k)
    assert nonunique >= 5  # the sample really contains non-unique optima
    assert wrong == []


def test_dual_feasible_basis_is_dual_feasible_and_warm_start_agrees():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n, m = int(rng.integers(2, 12)), int(rng.integers(2, 12))
        g = Game(rng.dirichlet(np.ones(n)), rng.uniform(-1, 1, (n, m)), rng.uniform(-1, 1, (n, m)))
        prof = action_profiles(m, 1)
        lp = build_signaling_lp(g.prior, g.sender_utility, g.receiver_utilities,
                                g.type_probabilities, prof)
        cols, rows = dual_feasible_basis(lp, n)
        assert cols.sum() + rows.sum() == lp.n_rows  # a square basis
        # duals y_w = max_s c[s, w]: every reduced cost <= 0
        c = lp.c.reshape(m, n)
        assert np.all(c - c.max(0)[None, :] <= 0)
        warm = solve_lp(lp, start_basis=(cols, rows)).objective
        cold = solve_lp(lp).objective
        assert warm == pytest.approx(cold, abs=1e-9)
        assert solve(g, certify=True).certified
