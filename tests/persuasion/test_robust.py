"""The robust signaling LP of the unknown-prior setting (Zu, Iyer & Xu, EC 2021).

Independent checks: the inner minimisation three ways (scipy primal LP, scipy dual LP,
greedy); robust obedience of the returned scheme by the greedy and by sampling priors
in the confidence set; the whole robust LP against an LP over the exact vertices of
the confidence set; eps = 0 against the ordinary signaling LP; eps = 2 against full
revelation; the Weissman et al. radius by monotonicity and empirical coverage.
"""

import itertools
import time
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from persuasion import Game, GameValidationError, ReceiverTypesGame, SolverError, solve
from persuasion.errors import ProblemTooLargeError
from persuasion.robust import (build_robust_signaling_lp, full_revelation_scheme,
                               l1_confidence_radius, robust_lp_size, solve_robust,
                               worst_case_prior, worst_case_prior_value)
from persuasion.scheme import evaluate_scheme, obedience_violation
from persuasion.vertices import polytope_vertices

PROSECUTOR = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]],
                  states=["innocent", "guilty"], actions=["acquit", "convict"])
EPS_GRID = (0.0, 0.05, 0.2, 0.5, 1.0, 2.0)


# ----------------------------------------------------------------------------- helpers
def random_game(seed: int, integer: bool = True) -> Game:
    """A random game; integer utilities in [-3, 3] make ties (degenerate cases) common."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    if integer:
        V, U = rng.integers(-3, 4, (n, m)), rng.integers(-3, 4, (n, m))
    else:
        V, U = rng.normal(size=(n, m)), rng.normal(size=(n, m))
    return Game(np.full(n, 1 / n), V.tolist(), U.tolist())


def random_mu_hat(rng, n: int, exact: bool = False):
    """An empirical prior (counts / total), possibly with zero entries."""
    counts = rng.integers(0, 6, n)
    counts[rng.integers(n)] += 1
    fr = [Fraction(int(k), int(counts.sum())) for k in counts]
    return fr if exact else np.array([float(f) for f in fr])


def types_game(seed: int) -> ReceiverTypesGame:
    rng = np.random.default_rng(seed)
    n, m, T = 3, 2, 2
    if seed % 2:
        U, V = rng.normal(size=(T, n, m)), rng.normal(size=(n, m))
    else:
        U, V = rng.integers(-3, 4, (T, n, m)), rng.integers(0, 4, (n, m))
    return ReceiverTypesGame(np.full(n, 1 / n), V.tolist(), U.tolist(), [0.4, 0.6])


def sample_priors(rng, mu_hat, eps, k=300):
    """Priors in B = {mu in simplex, ||mu - mu_hat||_1 <= eps}: random points and the
    single-pair mass moves (which reach the boundary of B)."""
    n = mu_hat.size
    out = []
    for _ in range(k):
        q = rng.dirichlet(np.full(n, 0.5))
        dist = np.abs(q - mu_hat).sum()
        tau = 1.0 if dist <= eps else eps / dist
        tau *= 1.0 if rng.random() < 0.5 else rng.random()
        out.append(mu_hat + tau * (q - mu_hat))
    for i, j in itertools.permutations(range(n), 2):
        mu = mu_hat.copy()
        amount = min(eps / 2, mu[i])
        mu[i] -= amount
        mu[j] += amount
        out.append(mu)
    out = np.clip(np.array(out), 0, None)
    out /= out.sum(1, keepdims=True)
    assert (np.abs(out - mu_hat).sum(1) <= eps + 1e-12).all()
    return out


def block_worst_cases(game, result, mu_hat, eps):
    """min over B of sum_w mu(w) pi(s|w) (u_t(w,s_t) - u_t(w,a')) for every block (greedy)."""
    vals = []
    for s, prof in enumerate(result.profiles):
        for t, a in enumerate(prof):
            for b in range(game.n_actions):
                if b != a:
                    c = result.scheme[:, s] * (game.receiver_utilities[t][:, a]
                                               - game.receiver_utilities[t][:, b])
                    vals.append(worst_case_prior_value(c, mu_hat, eps))
    return np.array(vals)


def vertex_lp_value(game, mu_hat_exact, eps_exact):
    """The robust problem solved without duality: obedience at every exact vertex of B."""
    n, m = game.n_states, game.n_actions
    mh = list(mu_hat_exact)
    cons = []
    for sig in itertools.product((-1, 1), repeat=n):
        shift = eps_exact + sum(s * p for s, p in zip(sig, mh))
        cons.append([shift - s for s in sig])  # homogenised sig @ (mu - mu_hat) <= eps
    verts = np.array([[float(x) for x in v] for v in polytope_vertices(n, cons)])
    assert (np.abs(verts - np.array(mh, dtype=float)).sum(1) <= float(eps_exact) + 1e-12).all()
    U, V = game.receiver_utility, game.sender_utility
    mu_hat = np.array(mh, dtype=float)
    c = -(mu_hat[:, None] * V).reshape(-1)  # variable w * m + a is pi(a | w)
    A_ub = []
    for vtx in verts:
        for a in range(m):
            for b in range(m):
                if a != b:
                    row = np.zeros((n, m))
                    row[:, a] = -vtx * (U[:, a] - U[:, b])
                    A_ub.append(row.reshape(-1))
    A_eq = np.kron(np.eye(n), np.ones(m))
    res = linprog(c, A_ub=np.array(A_ub), b_ub=np.zeros(len(A_ub)), A_eq=A_eq,
                  b_eq=np.ones(n), bounds=(0, None), method="highs")
    assert res.status == 0
    return -res.fun, len(verts)


# ------------------------------------------------------------- the dual block, 3 ways
@st.composite
def inner_problems(draw):
    n = draw(st.integers(1, 6))
    c = draw(st.lists(st.floats(-10, 10, allow_nan=False), min_size=n, max_size=n))
    w = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    w[draw(st.integers(0, n - 1))] += 1
    eps = draw(st.one_of(st.floats(0, 2.5), st.sampled_from([0.0, 2.0])))
    return np.array(c), np.array(w, dtype=float) / sum(w), eps


@settings(max_examples=150, deadline=None)
@given(inner_problems())
def test_inner_min_primal_dual_and_greedy_agree(problem):
    c, mu_hat, eps = problem
    n = c.size
    # (1) primal: min c@mu over mu, s >= 0 with s >= |mu - mu_hat|, sum s <= eps, sum mu = 1
    I = np.eye(n)
    A_ub = np.vstack([np.hstack([I, -I]), np.hstack([-I, -I]),
                      np.hstack([np.zeros(n), np.ones(n)])[None, :]])
    b_ub = np.concatenate([mu_hat, -mu_hat, [eps]])
    primal = linprog(np.concatenate([c, np.zeros(n)]), A_ub=A_ub, b_ub=b_ub,
                     A_eq=np.concatenate([np.ones(n), np.zeros(n)])[None, :], b_eq=[1.0],
                     bounds=(0, None), method="highs")
    assert primal.status == 0
    # (2) the dual block: max y + mu_hat@(beta - alpha) - eps*lam
    #     s.t. y - alpha_w + beta_w <= c_w, alpha_w + beta_w <= lam   (variables y, alpha, beta, lam)
    obj = -np.concatenate([[1.0], -mu_hat, mu_hat, [-eps]])
    A1 = np.hstack([np.ones((n, 1)), -I, I, np.zeros((n, 1))])
    A2 = np.hstack([np.zeros((n, 1)), I, I, -np.ones((n, 1))])
    dual = linprog(obj, A_ub=np.vstack([A1, A2]), b_ub=np.concatenate([c, np.zeros(n)]),
                   bounds=[(None, None)] + [(0, None)] * (2 * n + 1), method="highs")
    assert dual.status == 0
    # (3) the greedy
    greedy = worst_case_prior_value(c, mu_hat, eps)
    tol = 1e-7 * (1 + np.abs(c).max())
    assert primal.fun == pytest.approx(greedy, abs=tol)
    assert -dual.fun == pytest.approx(greedy, abs=tol)
    # the greedy's minimiser lies in B and attains the value
    mu = worst_case_prior(c, mu_hat, eps)
    assert (mu >= -1e-15).all() and mu.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.abs(mu - mu_hat).sum() <= min(eps, 2.0) + 1e-12
    assert mu @ c == pytest.approx(greedy, abs=tol)


def test_greedy_textbook_cases():
    # move eps/2 = 0.2 from the high state to the low one
    assert worst_case_prior_value([1.0, -1.0], [0.5, 0.5], 0.4) == pytest.approx(-0.4)
    # eps >= 2 (and inf): the whole simplex, min(c)
    for eps in (2.0, 3.0, float("inf")):
        assert worst_case_prior_value([3.0, 1.0, 2.0], [0.2, 0.0, 0.8], eps) == pytest.approx(1.0)
    # the budget is taken from the largest c first
    assert worst_case_prior_value([5.0, 1.0, 0.0], [0.3, 0.3, 0.4], 0.8) == pytest.approx(
        0.0 * 0.8 + 1.0 * 0.2 + 5.0 * 0.0)
    assert worst_case_prior_value([2.0], [1.0], 1.0) == 2.0


# ---------------------------------------------------------------- LP shape and speed
def test_lp_size_and_build_time_n10_m10():
    rng = np.random.default_rng(0)
    g = Game(np.full(10, 0.1), rng.normal(size=(10, 10)), rng.normal(size=(10, 10)))
    mu_hat = rng.dirichlet(np.ones(10))
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        lp = build_robust_signaling_lp(g, mu_hat, 0.3)
        times.append(time.perf_counter() - t0)
    size = robust_lp_size(10, 10)
    assert lp.n_cols == size["n_variables"] == 10 * 10 + 90 * 23
    assert lp.n_rows == size["n_constraints"] == 10 + 90 * 21
    assert lp.nnz <= 10 * 10 + 90 * (10 * 10 + 3)
    assert lp.indices.max() < lp.n_cols and len(lp.data) == lp.nnz
    assert min(times) < 0.05, times  # milliseconds in practice


def test_full_revelation_is_feasible_in_the_robust_lp():
    """The claim behind the fallback, checked on the LP rows themselves."""
    for seed in range(10):
        g = random_game(seed)
        rng = np.random.default_rng(seed)
        mu_hat = random_mu_hat(rng, g.n_states)
        for eps in (0.0, 0.3, 2.0):
            lp = build_robust_signaling_lp(g, mu_hat, eps)
            fr, profiles = full_revelation_scheme(g)
            x = np.zeros(lp.n_cols)
            x[: fr.size] = fr.T.reshape(-1)  # column s * n + w; dual blocks all zero
            A = sp.csr_matrix((lp.data, lp.indices, lp.indptr), shape=(lp.n_rows, lp.n_cols))
            ax = A @ x
            assert (ax >= lp.row_lower - 1e-12).all() and (ax <= lp.row_upper + 1e-12).all()
            r = solve_robust(g, mu_hat, eps)
            assert not r.used_fallback, r.message
            assert r.value_at_estimate >= r.full_revelation_value - 1e-9
            assert r.full_revelation_value == pytest.approx(lp.c @ x, abs=1e-12)


# ------------------------------------------------------------------ robust obedience
@pytest.mark.parametrize("seed", range(8))
def test_scheme_is_obedient_for_every_prior_in_B(seed):
    g = random_game(seed, integer=seed % 2 == 0)
    rng = np.random.default_rng(100 + seed)
    mu_hat = random_mu_hat(rng, g.n_states)
    for eps in (0.1, 0.4, 1.0):
        r = solve_robust(g, mu_hat, eps)
        assert r.scheme.shape == (g.n_states, g.n_actions)
        np.testing.assert_allclose(r.scheme.sum(1), 1.0, atol=1e-12)
        # (i) the greedy worst case of every (a, a') pair
        assert block_worst_cases(g, r, mu_hat, eps).min() >= -1e-9
        assert r.max_robust_violation <= 1e-9
        # (ii) sampled priors in B: the recommendation is obedient and earns >= robust_value
        profiles = [tuple(p) for p in r.profiles]
        for mu in sample_priors(rng, mu_hat, eps):
            assert obedience_violation(g, mu[:, None] * r.scheme, profiles) <= 1e-9
            ev = evaluate_scheme(g, r.scheme, prior=mu)
            assert ev.sender_value >= r.robust_value - 1e-9
        assert r.robust_value <= r.value_at_estimate + 1e-12


def test_prosecutor_closed_form():
    """pi(convict | innocent) = q must satisfy q <= mu_g / mu_i for the worst prior in B,
    mu_g = 0.3 - eps/2: value 0.3 + 0.7 (0.3 - eps/2) / (0.7 + eps/2) for eps <= 0.6."""
    mu_hat = [0.7, 0.3]
    for eps in (0.0, 0.1, 0.2, 0.4, 0.6, 0.9, 2.0):
        r = solve_robust(PROSECUTOR, mu_hat, eps)
        q = max(0.0, (0.3 - eps / 2) / (0.7 + eps / 2))
        assert r.value_at_estimate == pytest.approx(0.3 + 0.7 * q, abs=1e-9)
        assert r.scheme[0, 1] == pytest.approx(q, abs=1e-9)
        assert r.scheme[1, 1] == pytest.approx(1.0, abs=1e-9)
        # worst case moves eps/2 from guilty to innocent (capped at 0.3)
        moved = min(eps / 2, 0.3)
        assert r.robust_value == pytest.approx((0.7 + moved) * q + (0.3 - moved), abs=1e-9)
    assert solve_robust(PROSECUTOR, mu_hat, 0.2).value_at_estimate == pytest.approx(0.475)


def test_robust_lp_equals_lp_over_exact_vertices_of_B():
    """No duality: obedience imposed at every vertex of B (exact double description)."""
    informative = 0
    for seed, integer in itertools.product(range(8), (True, False)):
        g = random_game(seed, integer=integer)
        rng = np.random.default_rng(200 + seed)
        mh = random_mu_hat(rng, g.n_states, exact=True)
        values = []
        for eps in (Fraction(0), Fraction(1, 5), Fraction(3, 4), Fraction(2)):
            expected, _ = vertex_lp_value(g, mh, eps)
            r = solve_robust(g, [float(x) for x in mh], float(eps))
            assert r.value_at_estimate == pytest.approx(expected, abs=1e-8), (seed, eps)
            values.append(expected)
        informative += values[0] - values[2] > 1e-6
    assert informative >= 8  # the games exercise the robust constraints, not only eps = 0


# ------------------------------------------------------------------ limits in eps
def test_eps_zero_is_the_signaling_lp_at_mu_hat():
    for seed in range(12):
        g = random_game(seed, integer=seed % 3 != 0)
        rng = np.random.default_rng(300 + seed)
        mu_hat = random_mu_hat(rng, g.n_states, exact=True)
        expected = solve(g.with_data(prior=mu_hat), "signaling").value
        r = solve_robust(g, [float(x) for x in mu_hat], 0.0)
        assert r.value_at_estimate == pytest.approx(expected, abs=1e-9)
        assert r.robust_value == pytest.approx(r.value_at_estimate, abs=1e-9)
    assert solve_robust(PROSECUTOR, [0.7, 0.3], 0).value_at_estimate == pytest.approx(0.6)


@pytest.mark.parametrize("seed", range(8))
def test_value_monotone_in_eps_and_above_full_revelation(seed):
    g = random_game(seed, integer=seed % 2 == 1)
    mu_hat = random_mu_hat(np.random.default_rng(400 + seed), g.n_states)
    values = [solve_robust(g, mu_hat, eps) for eps in EPS_GRID]
    v = np.array([r.value_at_estimate for r in values])
    assert (np.diff(v) <= 1e-9).all(), v
    assert (v >= values[0].full_revelation_value - 1e-9).all()
    assert not any(r.used_fallback for r in values)


@pytest.mark.parametrize("seed", range(6))
def test_eps_two_is_the_whole_simplex(seed):
    """At eps >= 2 robust obedience at the point masses forces every recommended action
    to be a best response in each state that recommends it; the best such scheme is
    full revelation with sender-preferred ties."""
    g = random_game(seed)
    mu_hat = random_mu_hat(np.random.default_rng(500 + seed), g.n_states)
    U, V = g.receiver_utility, g.sender_utility
    br = U >= U.max(1, keepdims=True) - 1e-12
    best_value = float(mu_hat @ np.where(br, V, -np.inf).max(1))
    for eps in (2.0, 5.0, float("inf")):
        r = solve_robust(g, mu_hat, eps)
        assert r.eps == 2.0
        used = r.scheme > 1e-9
        assert br[used].all(), "a recommendation is not a best response in its state"
        assert r.value_at_estimate == pytest.approx(best_value, abs=1e-9)
        assert r.value_at_estimate == pytest.approx(r.full_revelation_value, abs=1e-9)
        # obedient at every point mass (the vertices of the simplex)
        for w in range(g.n_states):
            e = np.eye(g.n_states)[w]
            assert obedience_violation(g, e[:, None] * r.scheme, [tuple(p) for p in r.profiles]) <= 1e-12


# ------------------------------------------------------------------ receiver types
@pytest.mark.parametrize("seed", range(4))
def test_receiver_types(seed):
    g = types_game(seed)
    rng = np.random.default_rng(600 + seed)
    mu_hat = random_mu_hat(rng, g.n_states, exact=True)
    muf = np.array([float(x) for x in mu_hat])
    expected = solve(g.with_data(prior=mu_hat), "signaling").value
    r0 = solve_robust(g, muf, 0.0)
    assert r0.value_at_estimate == pytest.approx(expected, abs=1e-9)
    assert r0.scheme.shape == (3, 4) and r0.profiles.shape == (4, 2)
    prev = r0.value_at_estimate
    for eps in (0.3, 1.0, 2.0):
        r = solve_robust(g, muf, eps)
        assert r.value_at_estimate <= prev + 1e-9
        prev = r.value_at_estimate
        assert r.value_at_estimate >= r.full_revelation_value - 1e-9
        assert block_worst_cases(g, r, muf, eps).min() >= -1e-9
        profiles = [tuple(p) for p in r.profiles]
        for mu in sample_priors(rng, muf, eps, k=100):
            assert obedience_violation(g, mu[:, None] * r.scheme, profiles) <= 1e-9
    assert r.value_at_estimate == pytest.approx(r.full_revelation_value, abs=1e-9)
    with pytest.raises(ProblemTooLargeError):
        build_robust_signaling_lp(g, muf, 0.1, max_variables=10)


# ------------------------------------------------------------------ fallback
def test_fallback_when_the_lp_fails(monkeypatch):
    def broken(lp, **kw):
        raise SolverError("HiGHS stopped with status 'Time limit reached'")

    monkeypatch.setattr("persuasion.robust.solve_lp", broken)
    r = solve_robust(PROSECUTOR, [0.7, 0.3], 0.1)
    assert r.used_fallback and "failed" in r.message
    np.testing.assert_array_equal(r.scheme, [[1, 0], [0, 1]])
    assert r.value_at_estimate == pytest.approx(0.3) == r.full_revelation_value
    with pytest.raises(SolverError):
        solve_robust(PROSECUTOR, [0.7, 0.3], 0.1, fallback=False)


def test_fallback_when_the_lp_solution_is_bad(monkeypatch):
    class Fake:
        def __init__(self, n):
            self.x = np.zeros(n)
            self.x[:4] = 0.5  # uniform recommendations, no dual certificate

    monkeypatch.setattr("persuasion.robust.solve_lp", lambda lp, **kw: Fake(lp.n_cols))
    r = solve_robust(PROSECUTOR, [0.7, 0.3], 0.1)
    assert r.used_fallback and r.max_robust_violation == 0.0
    r = solve_robust(PROSECUTOR, [0.7, 0.3], 0.1, fallback=False)
    assert not r.used_fallback and r.max_robust_violation > 0.1


# ------------------------------------------------------------------ confidence radius
def test_radius_formula_and_edge_cases():
    t, n, delta = 50, 4, 0.05
    expected = np.sqrt(2 * (np.log(2 ** n - 2) + np.log(1 / delta)) / t)
    assert l1_confidence_radius(t, n, delta) == pytest.approx(expected, rel=1e-12)
    assert l1_confidence_radius(10, 1, 0.01) == 0.0
    assert l1_confidence_radius(0, 1, 0.01) == 0.0
    assert l1_confidence_radius(0, 3, 0.1) == 2.0
    assert l1_confidence_radius(0, 3, 0.1, cap=False) == float("inf")
    assert l1_confidence_radius(1, 3, 0.1, cap=False) > 2.0 == l1_confidence_radius(1, 3, 0.1)
    assert np.isfinite(l1_confidence_radius(10 ** 6, 2000, 1e-12))  # no overflow of 2^n
    assert l1_confidence_radius(np.int64(7), np.int32(3), np.float64(0.1)) > 0


def test_radius_monotone_in_t_delta_and_n():
    ts = [l1_confidence_radius(t, 5, 0.05) for t in range(1, 400)]
    assert (np.diff(ts) <= 0).all() and ts[-1] < ts[0]
    ds = [l1_confidence_radius(100, 5, d) for d in np.linspace(0.001, 1, 50)]
    assert (np.diff(ds) < 0).all()
    ns = [l1_confidence_radius(100, n, 0.05) for n in range(2, 12)]
    assert (np.diff(ns) > 0).all()


@pytest.mark.parametrize("delta", [0.05, 0.3])
def test_radius_empirical_coverage(delta):
    rng = np.random.default_rng(12345)
    mu = np.array([0.5, 0.3, 0.15, 0.05])
    for t in (5, 20, 100, 500):
        eps = l1_confidence_radius(t, mu.size, delta)
        mu_hat = rng.multinomial(t, mu, size=20_000) / t
        miss = (np.abs(mu_hat - mu).sum(1) >= eps).mean()
        assert miss <= delta, (t, miss)


# ------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize("call, field", [
    (lambda: solve_robust(PROSECUTOR, [0.6, 0.3], 0.1), "mu_hat"),
    (lambda: solve_robust(PROSECUTOR, [1.2, -0.2], 0.1), "mu_hat"),
    (lambda: solve_robust(PROSECUTOR, [0.2, 0.3, 0.5], 0.1), "mu_hat"),
    (lambda: solve_robust(PROSECUTOR, [[0.7, 0.3]], 0.1), "mu_hat"),
    (lambda: solve_robust(PROSECUTOR, [np.nan, 1.0], 0.1), "mu_hat"),
    (lambda: solve_robust(PROSECUTOR, "0.7,0.3", 0.1), "mu_hat"),
    (lambda: solve_robust(PROSECUTOR, [0.7, 0.3], -0.1), "eps"),
    (lambda: solve_robust(PROSECUTOR, [0.7, 0.3], float("nan")), "eps"),
    (lambda: solve_robust(PROSECUTOR, [0.7, 0.3], "0.1"), "eps"),
    (lambda: build_robust_signaling_lp(PROSECUTOR, [0.5, 0.6], 0.1), "mu_hat"),
    (lambda: build_robust_signaling_lp(PROSECUTOR, [0.7, 0.3], -1), "eps"),
    (lambda: build_robust_signaling_lp("game", [0.7, 0.3], 0.1), "game"),
    (lambda: worst_case_prior_value([1.0, 2.0], [1.0], 0.1), "mu_hat"),
    (lambda: worst_case_prior_value([1.0, 2.0], [0.5, 0.5], -0.1), "eps"),
    (lambda: worst_case_prior_value([1.0, np.inf], [0.5, 0.5], 0.1), "c"),
    (lambda: l1_confidence_radius(-1, 3, 0.1), "t"),
    (lambda: l1_confidence_radius(2.5, 3, 0.1), "t"),
    (lambda: l1_confidence_radius(10, 0, 0.1), "n_states"),
    (lambda: l1_confidence_radius(10, 3, 0.0), "delta"),
    (lambda: l1_confidence_radius(10, 3, 1.5), "delta"),
])
def test_bad_arguments_name_the_argument(call, field):
    with pytest.raises(GameValidationError) as info:
        call()
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_inputs_not_mutated():
    mu_hat = np.array([0.7, 0.3])
    c = np.array([1.0, -2.0])
    solve_robust(PROSECUTOR, mu_hat, 0.2)
    worst_case_prior(c, mu_hat, 0.5)
    np.testing.assert_array_equal(mu_hat, [0.7, 0.3])
    np.testing.assert_array_equal(c, [1.0, -2.0])
