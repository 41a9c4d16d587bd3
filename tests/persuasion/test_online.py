"""Online learners with an unknown prior and the regret engine."""

import math
from fractions import Fraction

import numpy as np
import pytest

from persuasion import Game, solve
from persuasion.errors import GameValidationError
from persuasion.online import LEARNERS, make_learner, simulate
from persuasion.online.analysis import aggregate, fit_loglog_slope
from persuasion.online.learners import epoch_schedule, full_revelation_scheme
from persuasion.scheme import evaluate_scheme

PROSECUTOR = Game(["7/10", "3/10"], [[0, 1], [0, 1]], [[1, 0], [0, 1]],
                  states=["innocent", "guilty"], actions=["acquit", "convict"], name="prosecutor")


def game_4x4(seed=3):
    rng = np.random.default_rng(seed)
    w = rng.integers(1, 10, 4)
    prior = [Fraction(int(x), int(w.sum())) for x in w]
    return Game(prior, rng.integers(-5, 6, (4, 4)), rng.integers(-5, 6, (4, 4)), name="g4")



def naive_loop(game, learner, states, opt):
    from persuasion.online.simulate import _blind_copy

    learner.reset(_blind_copy(game), len(states))
    cum, out = 0.0, []
    for w in states:
        ev = evaluate_scheme(game, learner.scheme_)
        cum += opt - ev.sender_value
        out.append(cum)
        learner.partial_fit([w])
    return np.array(out)


@pytest.mark.parametrize("name", ["robust", "plugin", "explore-commit", "full", "none"])
def test_batched_engine_equals_per_round_loop(name):
    g = game_4x4()
    T = 3000
    rng = np.random.default_rng(11)
    states = rng.choice(4, size=T, p=g.prior)
    opt = solve(g).value
    cps = np.array([1, 2, 5, 17, 100, 999, 1000, 2047, 2048, 3000])
    run = simulate(g, make_learner(name, **({"explore_rounds": 300} if name == "explore-commit" else {})),
                   T, seed=5, opt=opt, checkpoints=cps, states=states)
    ref = naive_loop(g, make_learner(name, **({"explore_rounds": 300} if name == "explore-commit" else {})),
                     states, opt)
    np.testing.assert_allclose(run.pseudo_regret, ref[cps - 1], rtol=1e-9, atol=1e-9)


def test_fixed_learners_have_closed_form_regret():
    T = 1000
    opt = 0.6
    full = simulate(PROSECUTOR, make_learner("full"), T, seed=0)
    none = simulate(PROSECUTOR, make_learner("none"), T, seed=0)
    # full revelation convicts exactly the guilty: 0.3 per round; no information: acquit, 0
    assert full.pseudo_regret[-1] == pytest.approx(T * (opt - 0.3))
    assert none.pseudo_regret[-1] == pytest.approx(T * opt)
    assert full.violations == 0 and none.violations == 0 and full.n_solves == 0


def test_robust_learner_zero_violations_and_sublinear_regret():
    """Seeded regression on two fixed games: no round with a non-obedient scheme, and
    regret growing like sqrt(T) (slope well below 1), far below full revelation's."""
    for g in (PROSECUTOR, game_4x4()):
        recs = [simulate(g, make_learner("robust", delta=0.05), 200_000, seed=s).to_dict()
                for s in range(4)]
        agg = aggregate(recs)["robust"]
        assert agg["violations"] == 0
        assert 0.3 < agg["slope"] < 0.7, agg["slope"]
        full = simulate(g, make_learner("full"), 200_000, seed=0).final_pseudo_regret
        assert agg["final_regret_mean"] < 0.2 * full


def test_plugin_violates_on_prosecutor():
    """The plug-in optimum puts the 'convict' posterior exactly on the judge's
    indifference point, so whenever the empirical prior over-estimates guilt the true
    posterior falls below 1/2: violations are frequent (the reason for robustness)."""
    recs = [simulate(PROSECUTOR, make_learner("plugin"), 50_000, seed=s) for s in range(6)]
    assert sum(r.violations > 0 for r in recs) >= 3


def test_realised_regret_tracks_pseudo_regret():
    run = simulate(PROSECUTOR, make_learner("full"), 200_000, seed=1)
    # realised - pseudo is a martingale with increments bounded by 1: |diff| <= 5 sqrt(T)
    assert abs(run.realised_regret[-1] - run.pseudo_regret[-1]) < 5 * math.sqrt(200_000)


def test_epoch_schedule_and_solve_count():
    assert epoch_schedule(1, 2.0, 20) == [1, 2, 4, 8, 16]
    run = simulate(PROSECUTOR, make_learner("robust"), 1000, seed=0)
    assert run.n_solves == len(epoch_schedule(1, 2.0, 999))
    naive = simulate(PROSECUTOR, make_learner("robust", resolve_every=1), 200, seed=0)
    assert naive.n_solves == 200


def test_learners_never_see_the_true_prior():
    seen = []

    class Spy(type(make_learner("full"))):
        def reset(self, game, horizon=None):
            seen.append(tuple(game.prior))
            return super().reset(game, horizon)

    simulate(PROSECUTOR, Spy(), 10, seed=0)
    assert seen == [(0.5, 0.5)]


def test_seed_reproducibility_and_generator():
    a = simulate(game_4x4(), make_learner("robust"), 5000, seed=42)
    b = simulate(game_4x4(), make_learner("robust"), 5000, seed=42)
    c = simulate(game_4x4(), make_learner("robust"), 5000, seed=np.random.default_rng(42))
    np.testing.assert_array_equal(a.pseudo_regret, b.pseudo_regret)
    np.testing.assert_array_equal(a.realised_regret, c.realised_regret)


def test_full_revelation_scheme_is_obedient_for_every_prior():
    g = game_4x4()
    scheme, rec = full_revelation_scheme(g)
    rng = np.random.default_rng(0)
    for _ in range(50):
        mu = rng.dirichlet(np.ones(4))
        ev = evaluate_scheme(g, scheme, prior=mu)
        for k, p in enumerate(ev.signal_probabilities):
            if p > 0:
                pay = ev.posteriors[k] @ g.receiver_utility
                assert pay[rec[k]] >= pay.max() - 1e-12


def test_bad_arguments():
    with pytest.raises(GameValidationError, match="learner"):
        make_learner("greedy")
    with pytest.raises(GameValidationError, match="delta"):
        make_learner("robust", delta=1.5)
    with pytest.raises(GameValidationError, match="growth"):
        make_learner("robust", growth=1.0)
    with pytest.raises(GameValidationError, match="horizon"):
        simulate(PROSECUTOR, make_learner("full"), 0)
    with pytest.raises(GameValidationError, match="states"):
        simulate(PROSECUTOR, make_learner("full"), 3, states=[0, 1, 2])


def test_slope_fit():
    t = np.logspace(1, 6, 40)
    assert fit_loglog_slope(t, 3 * np.sqrt(t)) == pytest.approx(0.5)
    assert fit_loglog_slope(t, 0.2 * t) == pytest.approx(1.0)
    assert fit_loglog_slope(t, np.zeros_like(t)) is None


def test_all_learners_registered():
    assert set(LEARNERS) == {"robust", "plugin", "explore-commit", "full", "none"}


def test_full_revelation_for_receiver_types_with_more_states_than_actions():
    """Each type's recommended action is a best response in every state that sends it
    (the learners' old copy indexed past the last action column when n > m)."""
    from persuasion import ReceiverTypesGame

    rng = np.random.default_rng(4)
    g = ReceiverTypesGame([0.2, 0.3, 0.1, 0.4], rng.integers(0, 5, (4, 2)),
                          rng.integers(0, 5, (2, 4, 2)), [0.5, 0.5])
    scheme, rec = full_revelation_scheme(g)
    assert scheme.shape[0] == 4 and np.allclose(scheme.sum(1), 1) and (rec == -1).all()
    from persuasion.signaling_lp import action_profiles
    profiles = action_profiles(2, 2)
    for w in range(4):
        prof = profiles[int(np.argmax(scheme[w]))]
        for t in range(2):
            row = g.receiver_utilities[t][w]
            assert row[prof[t]] == row.max()
    run = simulate(g, make_learner("full"), 100, seed=0)
    assert run.pseudo_regret[-1] >= 0
