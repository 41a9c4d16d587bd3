"""Online persuasion against receivers of unknown type (Castiglioni et al., NeurIPS 2020).

Independent checks: candidate utilities against ``evaluate_scheme`` on the types game
with a one-hot type distribution; every grid optimum is a candidate; the best fixed
scheme in hindsight (types LP for the empirical distribution) against the candidates
and against random schemes; the engine's totals recomputed from its per-round record;
Hedge's textbook bound at every checkpoint (a theorem, so on every seed); EXP3's
sublinear growth; follow-the-leader's linear regret on doubling blocks; seeding.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from persuasion import Game, GameValidationError, ReceiverTypesGame, evaluate_scheme, solve
from persuasion.online.types import (
    Exp3TypesLearner, FollowTheLeaderTypes, HedgeTypesLearner, TypesRegretRun,
    block_types_sequence, candidate_schemes, hindsight_optimum, make_types_learner,
    scheme_type_table, simulate_types, stochastic_types_sequence, type_grid)

F = Fraction


# ----------------------------------------------------------------------------- games
def unknown_judge() -> ReceiverTypesGame:
    """The prosecutor and a lenient (convicts iff P(guilty) >= 1/5) or strict (>= 1/2)
    judge, 1/2 each: OPT = 2/3; alone, 1 (lenient) and 3/5 (strict)."""
    return ReceiverTypesGame(["7/10", "3/10"], [[0, 1], [0, 1]],
                             [[[1, 0], [0, 4]], [[1, 0], [0, 1]]], ["1/2", "1/2"],
                             states=["innocent", "guilty"], actions=["acquit", "convict"],
                             types=["lenient", "strict"], name="unknown judge")


def prosecutor() -> Game:
    return Game(["7/10", "3/10"], [[0, 1], [0, 1]], [[1, 0], [0, 1]],
                states=["innocent", "guilty"], actions=["acquit", "convict"])


def random_types_game(seed: int, n_types: int = 2, zero_prior: bool = False):
    """Integer utilities in [-3, 3]: ties (degenerate cases) are common."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    w = rng.integers(1, 5, n)
    if zero_prior:
        w[0] = 0
    prior = [F(int(x), int(w.sum())) for x in w]
    tw = rng.integers(1, 4, n_types)
    rho = [F(int(x), int(tw.sum())) for x in tw]
    return ReceiverTypesGame(prior, rng.integers(-3, 4, (n, m)).tolist(),
                             rng.integers(-3, 4, (n_types, n, m)).tolist(), rho)


def one_hot(T, t):
    return [F(int(i == t)) for i in range(T)]


# ------------------------------------------------------------------------- the grid
@pytest.mark.parametrize("T,g", [(1, 3), (2, 1), (2, 8), (3, 4), (4, 2)])
def test_type_grid(T, g):
    pts = type_grid(T, g)
    assert len(pts) == math.comb(g + T - 1, T - 1) == len(set(pts))
    for q in pts:
        assert sum(q) == 1 and all(x >= 0 and (x * g).denominator == 1 for x in q)
    for t in range(T):
        assert tuple(one_hot(T, t)) in pts


def test_type_grid_refuses_huge():
    from persuasion.errors import ProblemTooLargeError

    with pytest.raises(ProblemTooLargeError):
        type_grid(8, 60)
    with pytest.raises(GameValidationError):
        type_grid(2, 0)


# ------------------------------------------------------------------- candidates
def test_candidates_known_game():
    cands, util = candidate_schemes(unknown_judge(), grid=8)
    names = [nm for _, nm in cands]
    assert names[:2] == ["no information", "full revelation"]
    by_name = dict(zip(names, util.tolist()))
    assert by_name["no information"] == pytest.approx([1, 0], abs=1e-12)
    assert by_name["full revelation"] == pytest.approx([0.3, 0.3], abs=1e-12)
    # the strict judge's own optimum (the textbook split) earns 3/5 against him
    assert max(u[1] for u in util) == pytest.approx(0.6, abs=1e-12)
    # the optimum against the mixture (2/3) is a candidate
    assert (util @ [0.5, 0.5]).max() == pytest.approx(2 / 3, abs=1e-12)
    for scheme, _ in cands:
        assert scheme.min() >= 0 and np.allclose(scheme.sum(1), 1, atol=1e-14)


@pytest.mark.parametrize("seed", range(6))
def test_candidate_utilities_match_one_hot_types_game(seed):
    game = random_types_game(seed, n_types=2 + seed % 2, zero_prior=seed == 4)
    cands, util = candidate_schemes(game, grid=4)
    T = game.n_types
    assert util.shape == (len(cands), T)
    for j, (scheme, _) in enumerate(cands):
        for t in range(T):
            g1 = game.with_data(type_probabilities=one_hot(T, t))
            ev = evaluate_scheme(g1, scheme)
            assert util[j, t] == pytest.approx(ev.sender_value, abs=1e-12)
    # no duplicates among the candidates (as sets of (posterior, probability) signals)
    keys = set()
    for scheme, _ in cands:
        ev = evaluate_scheme(game, scheme)
        key = tuple(sorted((tuple(np.round(ev.posteriors[k], 9)), round(float(p), 9))
                           for k, p in enumerate(ev.signal_probabilities) if p > 1e-12))
        assert key not in keys
        keys.add(key)


@pytest.mark.parametrize("seed", range(4))
def test_every_grid_optimum_is_a_candidate(seed):
    """For every grid point q, max_j q . utilities[j] = OPT(q) (the LP optimum for q is a
    candidate, and no candidate beats the optimum)."""
    game = random_types_game(10 + seed, n_types=2 + seed % 2)
    g = 3
    cands, util = candidate_schemes(game, grid=g)
    for q in type_grid(game.n_types, g):
        opt = solve(game.with_data(type_probabilities=list(q)), certify=True)
        assert (util @ np.array(q, dtype=float)).max() == pytest.approx(
            float(opt.value_exact), abs=1e-9)


def test_scheme_type_table_actions():
    game = unknown_judge()
    values, actions = scheme_type_table(game, np.ones((2, 1)))
    assert values.tolist() == [1.0, 0.0] and actions.tolist() == [[1, 0]]


# ------------------------------------------------------- best fixed in hindsight
def test_hindsight_equals_best_candidate_on_grid():
    game = unknown_judge()
    cands, util = candidate_schemes(game, grid=8)
    for counts in ([3, 5], [8, 0], [1, 1], [6, 2], [0, 8]):  # rho_hat on the 1/8 grid
        res = hindsight_optimum(game, counts)
        t = sum(counts)
        assert res.certified
        assert t * float(res.value_exact) == pytest.approx((util @ counts).max(), abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_hindsight_dominates_candidates_and_random_schemes(seed):
    rng = np.random.default_rng(seed)
    game = random_types_game(20 + seed, n_types=2 + seed % 2)
    T = game.n_types
    cands, util = candidate_schemes(game, grid=2)
    for _ in range(5):
        counts = rng.integers(0, 9, T)
        counts[0] += 1
        t = int(counts.sum())
        opt = hindsight_optimum(game, counts)
        best = float(opt.value_exact) * t
        assert best >= (util @ counts).max() - 1e-9
        # and no scheme at all beats it (random schemes, evaluated on rho_hat)
        g_hat = game.with_data(type_probabilities=[F(int(c), t) for c in counts])
        for k in (1, 2, 3):
            scheme = rng.dirichlet(np.ones(k), size=game.n_states)
            assert evaluate_scheme(g_hat, scheme).sender_value * t <= best + 1e-9


def test_engine_benchmarks_on_a_sequence():
    """opt_total >= best_candidate_total at every checkpoint, with equality where the
    empirical distribution lies on the grid; totals recomputed from the record."""
    game = unknown_judge()
    cands, util = candidate_schemes(game, grid=4)
    seq = block_types_sequence(2, 400, first_block=4, growth=1.5, seed=3)
    cps = np.arange(1, 401)
    run = simulate_types(game, HedgeTypesLearner(candidates=(cands, util)), 400, seed=0,
                         types_sequence=seq, checkpoints=cps)
    assert not run.stochastic and run.n_candidates == len(cands)
    assert np.all(run.opt_total >= run.best_candidate_total - 1e-9)
    counts = np.stack([np.cumsum(seq == 0), np.cumsum(seq == 1)], axis=1)
    on_grid = ((counts[:, 0] * 4) % cps) == 0
    assert on_grid.sum() > 10
    np.testing.assert_allclose(run.opt_total[on_grid], run.best_candidate_total[on_grid],
                               atol=1e-9)
    np.testing.assert_allclose(run.best_candidate_total, (counts @ util.T).max(1), atol=1e-9)
    # the learner's utilities: recomputed from its per-round record
    np.testing.assert_array_equal(run.types, seq)
    np.testing.assert_allclose(run.utility_total, np.cumsum(util[run.choices, run.types]),
                               atol=1e-9)
    # realised utility is an unbiased, bounded sample of the same thing
    assert abs(run.realised_utility_total[-1] - run.utility_total[-1]) < 4 * math.sqrt(400)


def test_stochastic_benchmark_is_opt_rho():
    game = unknown_judge()
    run = simulate_types(game, FollowTheLeaderTypes(), 1000, seed=2)
    assert run.stochastic
    np.testing.assert_allclose(run.opt_total, run.checkpoints * 2 / 3, atol=1e-9)


# -------------------------------------------------------------------------- Hedge
@pytest.mark.parametrize("kind", ["stochastic", "doubling blocks", "constant blocks"])
@pytest.mark.parametrize("seed", range(4))
def test_hedge_within_textbook_bound(kind, seed):
    game = unknown_judge() if seed % 2 == 0 else random_types_game(30 + seed, n_types=3)
    cands, util = candidate_schemes(game, grid=4)
    H = 20_000
    seq = {"stochastic": None,
           "doubling blocks": block_types_sequence(game.n_types, H, seed=seed),
           "constant blocks": block_types_sequence(game.n_types, H, first_block=50,
                                                   growth=1, seed=seed)}[kind]
    learner = HedgeTypesLearner(candidates=(cands, util))
    run = simulate_types(game, learner, H, seed=seed, types_sequence=seq, certify=False)
    K = len(cands)
    span = float(game.sender_utility.max() - game.sender_utility.min()) or 1.0
    final_bound = span * math.sqrt(H * math.log(K) / 2)
    assert learner.regret_bound() == pytest.approx(final_bound)
    # expected regret (over the learner's draw) <= span (ln K / eta + eta t / 8), every t
    bounds = np.array([learner.regret_bound(int(t)) for t in run.checkpoints])
    assert np.all(run.expected_regret_candidates <= bounds + 1e-7)
    assert run.expected_regret_candidates[-1] <= final_bound + 1e-7
    # the sampled choice adds a martingale term (Azuma, failure probability 1e-9)
    azuma = span * math.sqrt(H * math.log(1e9) / 2)
    assert run.pseudo_regret_candidates[-1] <= final_bound + azuma


def test_hedge_single_type_converges_to_opt():
    """One type: the optimal scheme is a candidate, so after convergence Hedge loses
    nothing more against OPT."""
    for game in (prosecutor(), ReceiverTypesGame(["1/2", "1/3", "1/6"],
                                                 [[0, 1], [0, 2], [0, 0]],
                                                 [[[0, -1], [0, -1], [0, 2]]], [1])):
        H = 100_000
        run = simulate_types(game, HedgeTypesLearner(), H, seed=1, certify=True)
        opt = solve(game, certify=True).value_exact
        np.testing.assert_allclose(run.opt_total, run.checkpoints * float(opt), atol=1e-9)
        np.testing.assert_allclose(run.best_candidate_total, run.opt_total, atol=1e-9)
        half = np.searchsorted(run.checkpoints, H // 2)
        reg = run.expected_regret_opt
        assert reg[-1] - reg[half] < 1e-6
        assert run.pseudo_regret_opt[-1] - run.pseudo_regret_opt[half] < 1e-6  # float sums
        span = float(game.sender_utility.max() - game.sender_utility.min())
        assert reg[-1] < span * math.sqrt(H * math.log(run.n_candidates) / 2)


def test_hedge_anytime_rate():
    game = unknown_judge()
    learner = HedgeTypesLearner(grid=2)
    learner.reset(game)
    assert learner.horizon_ is None
    for t in range(200):
        learner.partial_fit(type_index=t % 2)
    assert learner.eta_ == pytest.approx(math.sqrt(8 * math.log(learner.n_candidates_) / 201))
    assert learner.probabilities_.sum() == pytest.approx(1)


# ------------------------------------------------------------------ the interface
def test_partial_fit_interface():
    """reset commits to round 1; partial_fit takes the round's observation (the type under
    full feedback, the state and action under partial feedback) and commits to the next
    round: ``choice_`` (drawn from ``probabilities_``) and ``scheme_``."""
    game = unknown_judge()
    for learner, obs in ((HedgeTypesLearner(grid=2, seed=3), {"type_index": 1}),
                         (Exp3TypesLearner(grid=2, seed=3), {"state": 1, "signal": 0,
                                                             "action": 1}),
                         (FollowTheLeaderTypes(), {"type_index": 1})):
        learner.reset(game, 20)
        for t in range(1, 6):
            j = learner.choice_
            assert 0 <= j < len(learner.candidates_) and learner.probabilities_[j] > 0
            assert learner.scheme_ is learner.candidates_[j][0]
            assert learner.partial_fit(**obs) is learner and learner.t_ == t
        assert not hasattr(learner, "choose") and not hasattr(learner, "update")
    with pytest.raises(GameValidationError, match="action"):
        Exp3TypesLearner(grid=2).reset(game, 10).partial_fit(type_index=0)
    # follow the leader keeps its choice between re-solves (rounds 1, 2, 4, 8, ...)
    ftl = FollowTheLeaderTypes().reset(game)
    for _ in range(3):
        ftl.partial_fit(type_index=1)
    assert [t for t, _ in ftl.solves_] == [0, 1, 2]
    ftl.partial_fit(type_index=1)
    assert [t for t, _ in ftl.solves_] == [0, 1, 2, 4] and ftl.choice_ == ftl.current_


# --------------------------------------------------------------------------- EXP3
def test_exp3_gamma_from_auer_et_al():
    game = unknown_judge()
    learner = Exp3TypesLearner(grid=8).reset(game, 10_000)
    K = learner.n_candidates_
    assert learner.gamma_ == pytest.approx(math.sqrt(K * math.log(K) / ((math.e - 1) * 1e4)))
    assert learner.eta_ == pytest.approx(learner.gamma_ / K)
    assert learner.probabilities_.min() >= learner.gamma_ / K - 1e-15


def test_exp3_regret_sublinear():
    game = unknown_judge()
    cands, util = candidate_schemes(game, grid=8)
    horizons = [1_000, 3_000, 10_000, 30_000, 100_000]
    mean = []
    for H in horizons:
        regs = [simulate_types(game, Exp3TypesLearner(candidates=(cands, util)), H, seed=s,
                               feedback="partial", checkpoints=[H], certify=False)
                .expected_regret_candidates[-1] for s in range(3)]
        mean.append(np.mean(regs))
    assert min(mean) > 0
    slope = np.polyfit(np.log(horizons), np.log(mean), 1)[0]
    assert slope < 0.85
    # and within Auer et al.'s bound at the largest horizon
    learner = Exp3TypesLearner(candidates=(cands, util)).reset(game, horizons[-1])
    assert mean[-1] <= learner.regret_bound()


def test_exp3_adversarial_partial_feedback():
    game = random_types_game(41, n_types=3)
    H = 20_000
    seq = block_types_sequence(3, H, first_block=20, growth=1.2, seed=1)
    run = simulate_types(game, Exp3TypesLearner(grid=3), H, seed=1, types_sequence=seq,
                         feedback="partial", certify=False)
    assert run.feedback == "partial"
    learner = Exp3TypesLearner(grid=3).reset(game, H)
    # one run, not an expectation: allow a margin over the expected-regret bound
    assert run.expected_regret_candidates[-1] <= 1.5 * learner.regret_bound()


# ---------------------------------------------------------------- follow the leader
def test_ftl_stochastic_and_adversarial():
    game = unknown_judge()
    H = 50_000
    sto = simulate_types(game, FollowTheLeaderTypes(), H, seed=0, certify=False)
    assert sto.n_solves <= 2 + math.ceil(math.log2(H))
    assert abs(sto.pseudo_regret_opt[-1]) < 0.01 * H
    seq = block_types_sequence(2, H, seed=0)
    adv = simulate_types(game, FollowTheLeaderTypes(), H, seed=0, types_sequence=seq,
                         certify=False)
    hedge = simulate_types(game, HedgeTypesLearner(), H, seed=0, types_sequence=seq,
                           certify=False)
    assert adv.pseudo_regret_opt[-1] > 0.1 * H  # linear
    assert hedge.pseudo_regret_opt[-1] < 0.02 * H


# ------------------------------------------------------------------ reproducibility
@pytest.mark.parametrize("name,feedback", [("hedge", "full"), ("exp3", "partial"),
                                           ("ftl", "full")])
def test_reproducible(name, feedback):
    game = unknown_judge()
    seq = block_types_sequence(2, 3000, seed=5)

    def run(seed, learner_seed=None, types_sequence=None):
        learner = make_types_learner(name, seed=learner_seed, **({} if name == "ftl"
                                                                   else {"grid": 4}))
        return simulate_types(game, learner, 3000, seed=seed, feedback=feedback,
                              types_sequence=types_sequence, certify=False)

    a, b = run(7), run(7)
    for k in ("opt_total", "best_candidate_total", "utility_total", "mixture_utility_total",
              "realised_utility_total", "choices", "types"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert a.to_dict() == {**b.to_dict(), "seconds": a.seconds}
    c = run(np.random.default_rng(7))
    d = run(np.random.default_rng(7))
    np.testing.assert_array_equal(c.choices, d.choices)
    if name != "ftl":
        assert not np.array_equal(run(7).choices, run(8).choices)
    # the learner's own seed: same engine seed, different learner seeds
    e, f = run(7, 1, seq), run(7, 2, seq)
    np.testing.assert_array_equal(e.types, f.types)
    if name == "hedge":  # full feedback: the weights depend on the types only
        np.testing.assert_allclose(e.mixture_utility_total, f.mixture_utility_total)
        assert not np.array_equal(e.choices, f.choices)
    g = run(8, 1, seq)
    if name == "hedge":
        np.testing.assert_array_equal(e.choices, g.choices)


# ------------------------------------------------------------------- sequences
def test_block_types_sequence():
    seq = block_types_sequence(3, 1000, first_block=2, growth=2, seed=4)
    assert seq.shape == (1000,) and set(seq.tolist()) == {0, 1, 2}
    starts = np.flatnonzero(np.diff(seq)) + 1
    lengths = np.diff(np.concatenate([[0], starts, [1000]]))
    assert lengths[:-1].tolist() == [2 * 2 ** k for k in range(len(lengths) - 1)]
    np.testing.assert_array_equal(seq, block_types_sequence(3, 1000, first_block=2,
                                                            growth=2, seed=4))
    const = block_types_sequence(2, 100, first_block=10, growth=1, seed=0)
    assert (np.diff(const) != 0).sum() == 9


def test_stochastic_types_sequence():
    seq = stochastic_types_sequence([0.2, 0.8], 20_000, seed=0)
    assert abs((seq == 0).mean() - 0.2) < 0.02
    with pytest.raises(GameValidationError):
        stochastic_types_sequence([0.5, 0.6], 10)


# ------------------------------------------------------------------------ errors
def test_errors():
    game = unknown_judge()
    with pytest.raises(GameValidationError, match="full feedback"):
        simulate_types(game, HedgeTypesLearner(), 10, feedback="partial")
    with pytest.raises(GameValidationError, match="feedback"):
        simulate_types(game, HedgeTypesLearner(), 10, feedback="some")
    with pytest.raises(GameValidationError, match="types_sequence"):
        simulate_types(game, HedgeTypesLearner(), 10, types_sequence=[0, 1, 2] * 4)
    with pytest.raises(GameValidationError, match="types_sequence"):
        simulate_types(game, HedgeTypesLearner(), 10, types_sequence=[0, 1])
    with pytest.raises(GameValidationError, match="horizon"):
        simulate_types(game, HedgeTypesLearner(), 0)
    with pytest.raises(GameValidationError, match="horizon"):
        Exp3TypesLearner().reset(game)
    with pytest.raises(GameValidationError, match="gamma"):
        Exp3TypesLearner(gamma=2)
    with pytest.raises(GameValidationError, match="learner"):
        make_types_learner("nope")
    with pytest.raises(GameValidationError, match="type_index"):
        HedgeTypesLearner(grid=2).reset(game, 10).partial_fit()
    with pytest.raises(GameValidationError, match="candidates"):
        HedgeTypesLearner(candidates=([(np.eye(2), "x")], np.zeros((1, 3)))).reset(game, 5)
    with pytest.raises(GameValidationError, match="type_counts"):
        hindsight_optimum(game, [0, 0])
    assert isinstance(simulate_types(game, Exp3TypesLearner(grid=2), 5, seed=0),
                      TypesRegretRun)
