"""The robust learner's regret bound (theory/bounds.py, docs/theory.md).

Independent checks: the bound against simulated pseudo-regret of the robust learner
(persuasion.online.simulate) on fixed games and seeds; Lemma 2 (the converted strict
scheme is obedient for every prior in the confidence set) by the greedy worst case of
persuasion.robust and by sampled priors; Lemma 3 (OPT - OPT_eta <= L eta) on a grid;
OPT_eta in closed form for the prosecutor (which shows it is NOT concave in eta); the
epoch table against the learner's own record; the rate (log-log slope) and the closed
form against the exact bound; the irregular and no-margin instances.
"""

import itertools
import math

import numpy as np
import pytest

from persuasion import Game, GameValidationError, ReceiverTypesGame
from persuasion.games import load_builtin
from persuasion.online import make_learner, simulate
from persuasion.robust import solve_robust, worst_case_prior_value
from theory import (instance_constants, lower_bound_shape, max_strict_margin, rate_constant,
                    robust_regret_bound, strict_scheme, strict_value)

PROSECUTOR = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]],
                  states=["innocent", "guilty"], actions=["acquit", "convict"])


def random_game(seed: int) -> Game:
    """A 4x4 game with Gaussian utilities (2 decimals) and a Dirichlet(4) prior."""
    rng = np.random.default_rng(seed)
    p = np.round(rng.dirichlet(np.full(4, 4.0)), 3)
    p[-1] = 1 - p[:-1].sum()
    return Game(p.tolist(), np.round(rng.normal(size=(4, 4)), 2).tolist(),
                np.round(rng.normal(size=(4, 4)), 2).tolist())


# Irregular: the sender's action "middle" is a best response only at P(w1) = 1/2 exactly.
IRREGULAR = Game([0.7, 0.3], [[0, 1, 0], [0, 1, 0]], [[1, 0.5, 0], [0, 0.5, 1]],
                 actions=["left", "middle", "right"])
# Twins: for the receiver a0 == a1 and a2 == a3 (conftest's "degenerate" game).
TWINS = Game([0.7, 0.3], [[0, 1, 2, 2], [0, 1, 2, 2]], [[1, 1, 0, 0], [0, 0, 1, 1]])

GAMES = {"prosecutor": PROSECUTOR, "three_state": load_builtin("three_state"),
         "random4x4": random_game(2)}


def f_value(mu, scheme, V):
    """Sender's value of a recommendation scheme under ``mu`` with an obedient receiver."""
    return float(mu @ (scheme * V).sum(1))


def sample_ball(rng, center, eps, k=200):
    """Priors within L1 distance eps of center (random directions and pair moves)."""
    n = center.size
    out = []
    for _ in range(k):
        q = rng.dirichlet(np.full(n, 0.5))
        dist = np.abs(q - center).sum()
        s = (1.0 if dist <= eps else eps / dist) * (1.0 if rng.random() < 0.5 else rng.random())
        out.append(center + s * (q - center))
    for i, j in itertools.permutations(range(n), 2):
        mu = center.copy()
        amount = min(eps / 2, mu[i])
        mu[i] -= amount
        mu[j] += amount
        out.append(mu)
    out = np.clip(np.array(out), 0, None)
    return out / out.sum(1, keepdims=True)


# ------------------------------------------------------------------- OPT_eta itself
def test_prosecutor_opt_eta_closed_form_is_convex_not_concave():
    # Convict needs P(guilty) >= (1 + eta)/2, acquit P(guilty) <= (1 - eta)/2: the best
    # split is {0, (1+eta)/2} with weight 0.6/(1+eta) on convict.
    for eta in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0):
        assert strict_value(PROSECUTOR, eta) == pytest.approx(0.6 / (1 + eta), abs=1e-9)
    assert strict_value(PROSECUTOR, 1.01) == -math.inf
    assert max_strict_margin(PROSECUTOR) == pytest.approx(1.0, abs=1e-6)
    # midpoint value below the chord: OPT_eta is convex here, so a chord from 0 is NOT an
    # upper bound on OPT - OPT_eta (the sketch's concavity argument fails)
    assert strict_value(PROSECUTOR, 0.5) < 0.5 * (strict_value(PROSECUTOR, 0) +
                                                  strict_value(PROSECUTOR, 1)) - 0.04


@pytest.mark.parametrize("name", sorted(GAMES))
def test_opt_eta_nonincreasing_and_lemma3_lipschitz(name):
    game = GAMES[name]
    c = instance_constants(game)
    assert c.eta_max > 0
    etas = np.linspace(0, c.eta_max, 25)
    vals = np.array([strict_value(game, e) for e in etas])
    assert vals[0] == pytest.approx(c.opt, abs=1e-9)
    assert (np.diff(vals) <= 1e-9).all()
    rate = rate_constant(game, constants=c)
    assert math.isfinite(rate.L) and rate.eta_bar > 0
    for eta in np.linspace(0, rate.eta_bar, 41):
        assert c.opt - strict_value(game, eta) <= rate.L * eta + 1e-7


def test_instance_constants_prosecutor():
    c = instance_constants(PROSECUTOR)
    assert (c.opt, c.full_revelation_value, c.warmup_value, c.v_min) == pytest.approx(
        (0.6, 0.3, 0.3, 0.0))
    assert (c.v_range, c.v_osc, c.delta_u, c.gamma, c.mu_min) == pytest.approx(
        (1, 1, 1, 2, 0.3))
    assert c.max_loss == pytest.approx(0.6) and c.warmup_loss == pytest.approx(0.3)


# ------------------------------------------------------------------------- Lemma 2
LEMMA2_GAMES = dict(GAMES, zero_prior=load_builtin("three_state").with_data(
    prior=["3/5", "2/5", "0"]))


@pytest.mark.parametrize("name", sorted(LEMMA2_GAMES))
def test_lemma2_strict_scheme_is_robustly_obedient(name):
    game = LEMMA2_GAMES[name]
    c = instance_constants(game)
    mu = game.prior
    U = game.receiver_utilities[0]
    rng = np.random.default_rng(7)
    eps_max = min(1.0, c.eta_max * c.mu_min / c.gamma)
    for eps in (eps_max, 0.5 * eps_max, 0.1 * eps_max):
        value, pi = strict_scheme(game, c.eta_for(eps))
        assert f_value(mu, pi, game.sender_utility) == pytest.approx(value, abs=1e-9)
        # every prior within 2 eps of mu (this contains every B(mu_hat, eps) around mu)
        for a, b in itertools.permutations(range(game.n_actions), 2):
            cw = pi[:, a] * (U[:, a] - U[:, b])
            assert worst_case_prior_value(cw, mu, min(2 * eps, 2)) >= -1e-9
        for mu_hat in sample_ball(rng, mu, eps, k=20):
            for mu2 in sample_ball(rng, mu_hat, eps, k=30):
                post_gain = (mu2[:, None] * pi).T @ U  # [a, a'] = sum_w mu2 pi(a|w) u(w,a')
                assert (np.diag(post_gain)[:, None] - post_gain >= -1e-9).all()
            # pi_eta is feasible in the learner's robust LP at (mu_hat, eps), so the LP's
            # optimum is at least as good under mu_hat (the theorem's key step)
            res = solve_robust(game, mu_hat, eps)
            assert res.value_at_estimate >= f_value(mu_hat, pi, game.sender_utility) - 1e-7


def test_lemma2_is_not_vacuous_margin_zero_breaks():
    # The margin-0 optimum of the prosecutor sits on the indifference boundary: moving a
    # little mass toward "innocent" breaks obedience of "convict".
    _, pi = strict_scheme(PROSECUTOR, 0.0)
    cw = pi[:, 1] * (PROSECUTOR.receiver_utility[:, 1] - PROSECUTOR.receiver_utility[:, 0])
    assert worst_case_prior_value(cw, PROSECUTOR.prior, 0.01) < -1e-4


# --------------------------------------------------------------- bound vs simulation
@pytest.mark.parametrize("name", sorted(GAMES))
def test_pseudo_regret_below_high_probability_bound(name):
    game = GAMES[name]
    T = 20_000
    bound = robust_regret_bound(game, T, delta=0.05)
    assert bound.confidence >= 0.95
    assert bound.n_lps <= 2 * len(bound.epochs)
    for seed in range(5):
        run = simulate(game, make_learner("robust", delta=0.05), T, seed=seed,
                       checkpoints=bound.checkpoints)
        assert run.violations == 0
        slack = 1e-6 * bound.checkpoints
        assert (run.pseudo_regret <= bound.high_probability + slack).all(), (
            name, seed, np.max(run.pseudo_regret - bound.high_probability))
    assert (bound.expected >= bound.high_probability - 1e-12).all()
    c = bound.constants
    assert (bound.expected <= bound.high_probability
            + 0.05 * bound.checkpoints * c.max_loss + 1e-9).all()


def test_other_schedule_warmup_and_growth():
    game = GAMES["three_state"]
    T = 5_000
    bound = robust_regret_bound(game, T, delta=0.1, growth=1.5, warmup=10)
    assert bound.warmup == 10
    assert bound.high_probability[bound.checkpoints <= 10] == pytest.approx(
        bound.checkpoints[bound.checkpoints <= 10] * bound.constants.warmup_loss)
    for seed in range(3):
        run = simulate(game, make_learner("robust", delta=0.1, growth=1.5, warmup=10), T,
                       seed=seed, checkpoints=bound.checkpoints)
        assert (run.pseudo_regret <= bound.high_probability + 1e-6 * bound.checkpoints).all()


def test_epoch_table_matches_the_learner():
    game = GAMES["random4x4"]
    T = 3_000
    learner = make_learner("robust", delta=0.05)
    simulate(game, learner, T, seed=0)
    played = [(t, eps) for t, eps in learner.epochs_ if t < T]
    bound = robust_regret_bound(game, T, delta=0.05)
    assert [(e.start, e.eps) for e in bound.epochs] == [
        (t, pytest.approx(eps, rel=1e-12)) for t, eps in played]
    assert [e.k for e in bound.epochs] == list(range(1, len(played) + 1))
    assert bound.epochs[-1].end == T
    assert sum(e.end - e.start for e in bound.epochs) + bound.warmup == T


# ----------------------------------------------------------------------------- rate
@pytest.mark.parametrize("name", sorted(GAMES))
def test_rate_slope_and_closed_form_dominates(name):
    game = GAMES[name]
    c = instance_constants(game)
    T = np.array([10**4, 10**5, 10**6])
    bound = robust_regret_bound(game, 10**6, checkpoints=T, constants=c)
    slope = np.polyfit(np.log(T), np.log(bound.high_probability), 1)[0]
    assert 0.45 <= slope <= 0.65, slope
    rate = rate_constant(game, constants=c)
    assert math.isfinite(rate.C)
    cps = np.unique(np.round(np.logspace(0, 6, 40)).astype(np.int64))
    exact = robust_regret_bound(game, 10**6, checkpoints=cps, constants=c)
    assert (rate.curve(cps) >= exact.high_probability - 1e-9).all()
    # delta = 1/T: the O(sqrt(T log T)) curve
    big = np.array([1e12, 1e14])  # past the linear caps
    s = np.log(rate.curve(big, delta="1/T")[1] / rate.curve(big, delta="1/T")[0]) / np.log(100)
    assert 0.5 < s < 0.6


def test_lower_bound_shape():
    assert lower_bound_shape(100, 2.0) == pytest.approx(20.0)
    assert lower_bound_shape(np.array([1, 4, 9])) == pytest.approx([1, 2, 3])
    with pytest.raises(GameValidationError):
        lower_bound_shape(-1)


# ------------------------------------------------------------ irregular instances
def test_irregular_instance_bound_is_linear_and_so_is_the_regret():
    c = instance_constants(IRREGULAR)
    assert c.opt == pytest.approx(0.6) and c.full_revelation_value == pytest.approx(0.0)
    assert c.eta_max > 0  # strict schemes exist, but none uses "middle":
    assert strict_value(IRREGULAR, 1e-6) == pytest.approx(0.0, abs=1e-9)  # OPT_eta jumps
    assert not math.isfinite(rate_constant(IRREGULAR, constants=c).C)
    T = 4_000
    bound = robust_regret_bound(IRREGULAR, T, constants=c)
    assert all(e.loss >= c.opt - c.full_revelation_value - 1e-9 for e in bound.epochs)
    run = simulate(IRREGULAR, make_learner("robust"), T, seed=0,
                   checkpoints=bound.checkpoints)
    assert (run.pseudo_regret <= bound.high_probability + 1e-9).all()
    assert run.pseudo_regret[-1] == pytest.approx(0.6 * T, rel=1e-9)  # linear


def test_no_strict_margin_falls_back_to_full_revelation_term():
    # Margin on every pair (as build_signaling_lp(margin=eta) alone): twins can never be
    # separated, eta_max = 0, and the bound is the full-revelation term.
    c = instance_constants(TWINS, exempt_dominated=False)
    assert c.eta_max == 0.0
    assert strict_value(TWINS, 1e-3, exempt_dominated=False) == -math.inf
    T = 4_000
    fallback = robust_regret_bound(TWINS, T, constants=c, robust_at_truth=False)
    for e in fallback.epochs:
        assert e.opt_eta == -math.inf
        assert e.loss == pytest.approx(min(c.opt - c.full_revelation_value + e.eps * c.v_osc,
                                           c.max_loss))
    # exempting the pairs that hold for every prior restores a margin and a sqrt rate
    ce = instance_constants(TWINS)
    assert ce.eta_max > 0
    tight = robust_regret_bound(TWINS, T, constants=ce, robust_at_truth=False)
    assert (tight.high_probability <= fallback.high_probability + 1e-9).all()
    far = [robust_regret_bound(TWINS, 10**6, constants=cc, robust_at_truth=False)
           for cc in (c, ce)]
    assert far[1].high_probability[-1] < 0.2 * far[0].high_probability[-1]
    assert far[0].high_probability[-1] > 0.3 * 10**6 - 1  # linear: OPT - V_F = 0.3
    run = simulate(TWINS, make_learner("robust"), T, seed=1, checkpoints=tight.checkpoints)
    assert (run.pseudo_regret <= tight.high_probability + 1e-6 * tight.checkpoints).all()


# ------------------------------------------------------------------------ arguments
def test_bad_arguments():
    types = ReceiverTypesGame([0.5, 0.5], [[0, 1], [0, 1]],
                              [[[1, 0], [0, 1]], [[1, 0], [0, 1]]], [0.5, 0.5])
    with pytest.raises(GameValidationError, match="game"):
        instance_constants(types)
    with pytest.raises(GameValidationError, match="eta"):
        strict_value(PROSECUTOR, -0.1)
    with pytest.raises(GameValidationError, match="horizon"):
        robust_regret_bound(PROSECUTOR, 0)
    with pytest.raises(GameValidationError, match="delta"):
        robust_regret_bound(PROSECUTOR, 10, delta=1.5)
    with pytest.raises(GameValidationError, match="growth"):
        robust_regret_bound(PROSECUTOR, 10, growth=1.0)
    with pytest.raises(GameValidationError, match="checkpoints"):
        robust_regret_bound(PROSECUTOR, 10, checkpoints=[11])


def test_unpacks_and_is_cheap():
    t, b = robust_regret_bound(PROSECUTOR, 10**6)
    assert t[-1] == 10**6 and b.shape == t.shape and (np.diff(b) >= 0).all()
    res = robust_regret_bound(PROSECUTOR, 10**6)
    assert res.n_lps <= 2 * 21 and res.seconds < 5
