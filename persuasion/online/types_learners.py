"""Online persuasion of a receiver of unknown type: no-regret learners and their engine.

Setting (Castiglioni, Celli, Marchesi & Gatti, "Online Bayesian Persuasion", NeurIPS
2020): the sender KNOWS the prior ``mu`` and every receiver type's utility matrix, but
not which type she faces. In every round ``t``

1. a type ``theta_t`` is drawn i.i.d. from the game's type distribution (*stochastic*)
   or taken from a given sequence (*adversarial*, oblivious: fixed before the run);
2. the sender commits to a public scheme ``sigma_t`` without seeing ``theta_t``;
3. a state ``w_t ~ mu`` is drawn and a signal ``s_t ~ sigma_t(. | w_t)`` sent;
4. the receiver of type ``theta_t`` best-responds to the posterior of ``s_t``
   (sender-preferred ties) with ``a_t``; the sender earns ``v(w_t, a_t)``;
5. feedback: **full** (``theta_t`` is revealed after the round) or **partial** (only
   ``a_t`` is seen, besides the state and signal that the sender knows anyway).

Candidate schemes (the discretisation of Castiglioni et al.). For a type distribution
``q`` let ``OPT(q)`` be the optimum of the receiver-types signaling LP
(:mod:`persuasion.signaling_lp`). The candidates are the LP optima for every ``q`` on
the grid ``{q in Delta(types) : q_theta in {0, 1/g, ..., 1}}`` (which contains the
``T`` vertices, i.e. each type's own optimum), plus full revelation and no
information, with duplicates dropped (schemes inducing the same posteriors with the
same probabilities are the same). ``utilities[j, theta]`` is the exact expected
sender utility of candidate ``j`` against type ``theta`` alone.

Every learner here chooses among finitely many schemes ``candidates_`` and has one
interface (scikit-learn style: the constructor stores settings, state ends in ``_``):

* ``reset(game, horizon=None, *, rng=None)`` -- start a run (``rng`` is the default
  generator used when the learner was built without a ``seed``);
* ``choose(rng=None) -> j`` -- the index in ``candidates_`` of the scheme committed
  this round (``probabilities_`` is the distribution it was drawn from);
* ``update(j, *, type_index=None, state=None, signal=None, action=None)`` -- the
  round's feedback; full-feedback learners need ``type_index``, partial-feedback ones
  ``state`` and ``action`` (the realised utility is ``v(state, action)``).

Learners: :class:`HedgeTypesLearner` (full feedback, exponential weights),
:class:`Exp3TypesLearner` (partial feedback, EXP3 of Auer et al. 2002) and
:class:`FollowTheLeaderTypes` (full feedback, the LP optimum for the empirical type
distribution, re-solved on a doubling schedule; no guarantee against an adversary).

Regret (:func:`simulate_types`) is measured exactly against two benchmarks, see
:class:`TypesRegretRun`.
"""

from __future__ import annotations

import itertools
import math
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..errors import GameValidationError, ProblemTooLargeError
from ..game import Game, ReceiverTypesGame
from .learners import check_positive_int
from ..scheme import evaluate_scheme
from .simulate import log_checkpoints

__all__ = ["candidate_schemes", "type_grid", "scheme_type_table", "hindsight_optimum",
           "TypesLearner", "HedgeTypesLearner", "Exp3TypesLearner", "FollowTheLeaderTypes",
           "TYPES_LEARNERS", "make_types_learner", "TypesRegretRun", "simulate_types",
           "stochastic_types_sequence", "block_types_sequence", "DEFAULT_GRID"]

#: Default grid resolution ``g`` of the candidate type distributions.
DEFAULT_GRID = 8
#: Ceiling on the number of grid points (one LP each).
MAX_GRID_POINTS = 10_000


# ----------------------------------------------------------------------- helpers
def _as_types_game(game) -> ReceiverTypesGame:
    """A :class:`ReceiverTypesGame` (a one-receiver :class:`Game` becomes one type)."""
    if isinstance(game, ReceiverTypesGame):
        return game
    if isinstance(game, Game):
        return ReceiverTypesGame(list(game.prior_exact), game.sender_utility_exact,
                                 [game.receiver_utility_exact], [1], states=game.states,
                                 actions=game.actions, types=game.type_names, name=game.name,
                                 description=game.description, tol=game.tol)
    raise GameValidationError("game", f"expected a Game or ReceiverTypesGame, got "
                                      f"{type(game).__name__}")


def _type_games(game) -> list[Game]:
    """One single-receiver :class:`Game` per type (same prior and sender utility)."""
    return [Game(list(game.prior_exact), game.sender_utility_exact,
                 game.receiver_utilities_exact[t], states=game.states, actions=game.actions,
                 name=f"{game.name} [{game.type_names[t]}]", tol=game.tol)
            for t in range(game.n_types)]


def _with_types(game, q) -> ReceiverTypesGame:
    return game.with_data(type_probabilities=list(q))


def _utility_range(game) -> tuple[float, float]:
    """``(v_min, span)`` of the sender's utility; ``span`` is 1 when ``v`` is constant."""
    V = game.sender_utility
    lo, hi = float(V.min()), float(V.max())
    return lo, (hi - lo) if hi > lo else 1.0


def _fmt(q) -> str:
    return "(" + ", ".join(str(x) for x in q) + ")"


def type_grid(n_types: int, grid: int) -> list[tuple[Fraction, ...]]:
    """All type distributions whose coordinates are multiples of ``1/grid`` (exact).

    ``C(grid + T - 1, T - 1)`` points, in lexicographic order of the bar positions; the
    ``T`` vertices (one type for sure) are always among them.
    """
    T = check_positive_int(n_types, "n_types")
    g = check_positive_int(grid, "grid")
    count = math.comb(g + T - 1, T - 1)
    if count > MAX_GRID_POINTS:
        raise ProblemTooLargeError(
            f"the type grid with g={g} and T={T} types has {count} points (one LP each), "
            f"above {MAX_GRID_POINTS}; use a smaller grid")
    out = []
    for bars in itertools.combinations(range(g + T - 1), T - 1):
        edges = (-1,) + bars + (g + T - 1,)
        out.append(tuple(Fraction(edges[i + 1] - edges[i] - 1, g) for i in range(T)))
    return out


# ------------------------------------------------------------- schemes as signals
def _signal_key(signals) -> tuple:
    """Canonical, hashable form of a list of ``(probability, posterior)`` (rounded)."""
    return tuple(sorted((tuple(round(float(x), 12) for x in post), round(float(p), 12))
                        for p, post in signals))


def _merge_signals(signals) -> list:
    """Drop null signals and merge signals with the same posterior (same behaviour)."""
    merged: dict = {}
    for p, post in signals:
        if p <= 0:
            continue
        key = tuple(round(float(x), 12) for x in post)
        if key in merged:
            merged[key] = (merged[key][0] + p, merged[key][1])
        else:
            merged[key] = (p, tuple(post))
    return [merged[k] for k in sorted(merged)]


def _scheme_from_signals(game, signals) -> np.ndarray:
    """``scheme[w][k] = p_k posterior_k(w) / mu(w)`` (exactly when the data are Fractions);
    zero-prior states send signal 0."""
    prior = game.prior_exact
    n, k = game.n_states, len(signals)
    exact = all(isinstance(p, Fraction) for p, _ in signals)
    out = np.zeros((n, k))
    for w in range(n):
        if prior[w] == 0:
            out[w, 0] = 1.0
            continue
        if exact:
            out[w] = [float(p * post[w] / prior[w]) for p, post in signals]
        else:
            row = np.array([float(p) * float(post[w]) for p, post in signals]) / float(prior[w])
            out[w] = row / row.sum()
    return out


def _optimal_signals(game_q, certify: bool) -> list:
    """Signals ``(probability, posterior)`` of the types-LP optimum, exact when certified."""
    from ..solve import solve

    res = solve(game_q, "signaling", certify=certify, check_unique=False)
    if res.certified and res.signals_exact is not None:
        return _merge_signals(res.signals_exact)
    return _merge_signals(zip(res.signal_probabilities, res.posteriors))


def _full_revelation_signals(game) -> list:
    n = game.n_states
    return [(p, tuple(Fraction(int(i == w)) for i in range(n)))
            for w, p in enumerate(game.prior_exact)]


def scheme_type_table(game, scheme, *, tol: float | None = None,
                      type_games: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What ``scheme`` earns against each type alone, and what each type does.

    Returns ``(values, actions)``: ``values[theta]`` is the sender's exact expected
    utility when the receiver is of type ``theta`` for sure
    (:func:`persuasion.scheme.evaluate_scheme` on the single-type game, sender-preferred
    ties); ``actions[k, theta]`` the action type ``theta`` takes at signal ``k`` (``-1``
    for a signal of probability 0).
    """
    G = _as_types_game(game)
    games = _type_games(G) if type_games is None else type_games
    values = np.empty(G.n_types)
    actions = None
    for t, g in enumerate(games):
        ev = evaluate_scheme(g, scheme, tie_breaking="sender", tol=tol)
        values[t] = ev.sender_value
        col = np.array([a[0] for a in ev.actions], dtype=np.int64)
        if actions is None:
            actions = np.empty((col.size, G.n_types), dtype=np.int64)
        actions[:, t] = col
    return values, actions


def candidate_schemes(game, grid: int = DEFAULT_GRID, *, certify: bool = True,
                      include_full: bool = True, include_none: bool = True):
    """The finite candidate set of schemes, and their utility against each type.

    Steps (the discretisation of Castiglioni et al. 2020):

    1. no information and full revelation (when asked), in that order;
    2. for every ``q`` of :func:`type_grid` (``T`` types, resolution ``grid``), the
       optimal public scheme of the types LP with type distribution ``q``
       (``persuasion.solve(game.with_data(type_probabilities=q), "signaling")``,
       certified so that the scheme is rebuilt from exact posteriors and ties land
       exactly on the indifference boundaries);
    3. drop duplicates: schemes are compared by their signals (posterior and
       probability, null signals dropped and equal posteriors merged); the first name
       is kept;
    4. ``utilities[j, theta]`` by :func:`scheme_type_table`.

    Parameters
    ----------
    game : ReceiverTypesGame or Game
        Its type distribution is not used.
    grid : int
        Resolution ``g``: coordinates of ``q`` are multiples of ``1/g``.
    certify : bool
        Certify each LP (exact schemes); a failed certification falls back to the float
        optimum.

    Returns
    -------
    candidates : list of (ndarray, str)
        ``(scheme [state][signal], name)``.
    utilities : ndarray, shape (K, T)
    """
    G = _as_types_game(game)
    points = type_grid(G.n_types, grid)
    named = []
    if include_none:
        named.append(([(Fraction(1), tuple(G.prior_exact))], "no information"))
    if include_full:
        named.append((_merge_signals(_full_revelation_signals(G)), "full revelation"))
    for q in points:
        named.append((_optimal_signals(_with_types(G, q), certify), f"optimal for q={_fmt(q)}"))
    seen = set()
    candidates = []
    games = _type_games(G)
    rows = []
    for signals, name in named:
        key = _signal_key(signals)
        if key in seen:
            continue
        seen.add(key)
        scheme = _scheme_from_signals(G, signals)
        candidates.append((scheme, name))
        rows.append(scheme_type_table(G, scheme, type_games=games)[0])
    return candidates, np.array(rows)


def hindsight_optimum(game, type_counts, *, certify: bool = True):
    """The best fixed scheme in hindsight for a sequence with these type counts.

    ``sum_t U(sigma; theta_t) = t * sum_theta rho_hat(theta) U(sigma; theta)`` with
    ``rho_hat = counts / t`` (exact Fractions), so the best fixed scheme over ALL
    schemes is the types-LP optimum for ``rho_hat`` and its total is ``t * OPT(rho_hat)``.

    Returns the :class:`~persuasion.result.PersuasionResult` (``value`` per round;
    ``value_exact`` when certified).
    """
    from ..solve import solve

    G = _as_types_game(game)
    counts = [int(c) for c in np.asarray(type_counts).ravel()]
    if len(counts) != G.n_types or min(counts) < 0 or sum(counts) == 0:
        raise GameValidationError("type_counts", f"expected {G.n_types} non-negative counts "
                                                 f"with a positive sum, got {counts}")
    total = sum(counts)
    rho_hat = [Fraction(c, total) for c in counts]
    return solve(_with_types(G, rho_hat), "signaling", certify=certify, check_unique=False)


# ---------------------------------------------------------------------- learners
class TypesLearner:
    """Base class of the learners against unknown receiver types (see the module
    docstring for the interface). ``feedback`` is what the learner needs: ``"full"``
    (the type after each round) or ``"partial"`` (the action only)."""

    name = "base"
    feedback = "full"

    def __init__(self, *, seed=None):
        self.seed = seed

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and
                not k.startswith("_")}

    def reset(self, game, horizon: int | None = None, *, rng=None):
        G = _as_types_game(game)
        self.game_ = G
        self.horizon_ = None if horizon is None else check_positive_int(horizon, "horizon")
        if self.seed is not None:
            self.rng_ = (self.seed if isinstance(self.seed, np.random.Generator)
                         else np.random.default_rng(self.seed))
        elif rng is not None:
            self.rng_ = rng
        else:
            self.rng_ = np.random.default_rng()
        self._buffer = []
        self._pos = 0
        self.t_ = 0
        self.n_solves_ = 0
        self.v_min_, self.v_span_ = _utility_range(G)
        return self

    def _uniform(self, rng) -> float:
        """One uniform draw: from ``rng`` if given, else from the learner's generator
        (drawn in blocks of 4096, so a run is reproducible whatever the horizon)."""
        if rng is not None:
            return float(rng.random())
        if self._pos >= len(self._buffer):
            self._buffer = self.rng_.random(4096).tolist()
            self._pos = 0
        u = self._buffer[self._pos]
        self._pos += 1
        return u

    def _sample(self, rng) -> int:
        j = bisect_right(self._cdf, self._uniform(rng) * self._cdf[-1])
        return min(j, len(self._cdf) - 1)

    def _set_probabilities(self, p: np.ndarray) -> None:
        self.probabilities_ = p
        self._cdf = np.cumsum(p).tolist()

    def choose(self, rng=None) -> int:
        raise NotImplementedError

    def update(self, j, *, type_index=None, state=None, signal=None, action=None):
        raise NotImplementedError

    def _need_type(self, type_index) -> int:
        if type_index is None:
            raise GameValidationError("type_index", f"{type(self).__name__} needs full "
                                                    "feedback: the type of every round")
        return int(type_index)


class _CandidateLearner(TypesLearner):
    """A learner over a fixed finite candidate set (:func:`candidate_schemes`)."""

    def __init__(self, *, grid: int = DEFAULT_GRID, candidates=None, seed=None):
        super().__init__(seed=seed)
        self.grid = check_positive_int(grid, "grid")
        self.candidates = candidates

    def reset(self, game, horizon=None, *, rng=None):
        super().reset(game, horizon, rng=rng)
        G = self.game_
        if self.candidates is None:
            cands, util = candidate_schemes(G, self.grid)
        else:
            try:
                cands, util = self.candidates
            except (TypeError, ValueError):
                raise GameValidationError("candidates", "expected the pair (candidates, "
                                                        "utilities) of candidate_schemes") from None
            util = np.asarray(util, dtype=float)
            if util.shape != (len(cands), G.n_types):
                raise GameValidationError("candidates", f"utilities have shape {util.shape}, "
                                                        f"expected ({len(cands)}, {G.n_types})")
            for j, (s, _) in enumerate(cands):
                if np.shape(s)[0] != G.n_states:
                    raise GameValidationError(f"candidates[{j}]", "scheme has "
                                              f"{np.shape(s)[0]} rows, expected {G.n_states}")
        self.candidates_ = list(cands)
        self.utilities_ = util
        self.candidate_set_ = (self.candidates_, self.utilities_)
        K = len(self.candidates_)
        self.n_candidates_ = K
        # rewards rescaled to [0, 1]: (u - v_min) / span
        self._rewards_by_type = np.ascontiguousarray(((util - self.v_min_) / self.v_span_).T)
        self.cumulative_reward_ = np.zeros(K)
        self._set_probabilities(np.full(K, 1.0 / K))
        return self


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


class HedgeTypesLearner(_CandidateLearner):
    """Exponential weights (Hedge) over the candidate schemes, full feedback.

    Steps (Freund & Schapire 1997; Cesa-Bianchi & Lugosi, "Prediction, Learning, and
    Games", 2006, Thm 2.2):

    1. rewards rescaled to ``[0, 1]``: ``r_j(theta) = (utilities[j, theta] - v_min) /
       (v_max - v_min)`` with the range of the sender's utility matrix (every scheme's
       utility lies in it);
    2. round ``t``: draw ``j ~ p_t`` with ``p_t(j) ∝ exp(eta * S_j(t-1))``, ``S_j`` the
       cumulative rescaled reward of candidate ``j`` (all candidates are scored: the
       revealed type tells what every scheme would have earned, exactly);
    3. ``eta = sqrt(8 ln K / T)`` for a known horizon ``T``, which gives for every type
       sequence ``max_j sum_t u_j(theta_t) - sum_t p_t . u(theta_t) <= (v_max - v_min)
       * (ln K / eta + eta T / 8) = (v_max - v_min) sqrt(T ln K / 2)``; with no horizon
       the anytime rate ``eta_t = sqrt(8 ln K / t)`` (Thm 2.3: ``<= span * (2 sqrt(T ln K
       / 2) + sqrt(ln K / 8))``). ``learning_rate`` overrides both.

    The bound is on the *expected* regret (``p_t``, over the learner's draws), and it
    holds deterministically: with full feedback ``p_t`` depends on the types only.
    """

    name = "hedge"
    feedback = "full"

    def __init__(self, *, grid: int = DEFAULT_GRID, candidates=None, learning_rate=None,
                 seed=None):
        super().__init__(grid=grid, candidates=candidates, seed=seed)
        if learning_rate is not None and not (isinstance(learning_rate, (int, float))
                                              and learning_rate > 0):
            raise GameValidationError("learning_rate", f"expected a positive number, got "
                                                       f"{learning_rate!r}")
        self.learning_rate = learning_rate

    def reset(self, game, horizon=None, *, rng=None):
        super().reset(game, horizon, rng=rng)
        self.log_k_ = math.log(self.n_candidates_)
        if self.learning_rate is not None:
            self.eta_ = float(self.learning_rate)
        elif self.horizon_ is not None:
            self.eta_ = math.sqrt(8 * self.log_k_ / self.horizon_)
        else:
            self.eta_ = math.sqrt(8 * self.log_k_)  # anytime rate at t = 1
        self._factors = None
        return self

    def regret_bound(self, t: int | None = None) -> float:
        """The Hedge bound ``span * (ln K / eta + eta t / 8)`` at round ``t`` (default
        the horizon), in utility units, for the fixed learning rate."""
        t = self.horizon_ if t is None else t
        if t is None:
            raise GameValidationError("t", "give the round t (the learner has no horizon)")
        if self.eta_ == 0:
            return 0.0
        return self.v_span_ * (self.log_k_ / self.eta_ + self.eta_ * t / 8)

    def choose(self, rng=None) -> int:
        return self._sample(rng)

    def update(self, j, *, type_index=None, state=None, signal=None, action=None):
        th = self._need_type(type_index)
        self.cumulative_reward_ += self._rewards_by_type[th]
        self.t_ += 1
        if self.learning_rate is None and self.horizon_ is None:  # anytime rate
            self.eta_ = math.sqrt(8 * self.log_k_ / (self.t_ + 1))
            self._set_probabilities(_softmax(self.eta_ * self.cumulative_reward_))
            return self
        # fixed rate: multiplicative update, w_j <- w_j exp(eta r_j(theta)), renormalised
        if self._factors is None:
            self._factors = np.exp(self.eta_ * self._rewards_by_type)
            self._w = np.ones(self.n_candidates_)
        w = self._w
        w *= self._factors[th]
        total = w.sum()
        if total > 1e100:
            w /= total
            total = 1.0
        self.probabilities_ = w / total
        self._cdf = np.cumsum(w).tolist()
        return self


class Exp3TypesLearner(_CandidateLearner):
    """EXP3 over the candidate schemes, partial feedback (Auer, Cesa-Bianchi, Freund &
    Schapire, "The nonstochastic multiarmed bandit problem", SIAM J. Comput. 2002).

    Steps (their algorithm Exp3):

    1. round ``t``: ``p_t(j) = (1 - gamma) w_j / sum_i w_i + gamma / K`` with
       ``w_j = exp((gamma / K) Shat_j)``; draw ``j_t ~ p_t``;
    2. observe the action ``a_t``; the realised utility ``v(w_t, a_t)``, rescaled to
       ``x_t = (v - v_min) / (v_max - v_min) in [0, 1]``, is the reward of ``j_t`` only;
    3. importance-weighted estimate ``xhat = x_t / p_t(j_t)`` added to ``Shat_{j_t}``
       (unbiased for every candidate's reward), i.e. ``eta = gamma / K`` in the
       exponential-weights step.

    ``gamma`` (default) from their Corollary 3.2 with ``g = T`` (rewards in ``[0, 1]``):
    ``gamma = min(1, sqrt(K ln K / ((e - 1) T)))``, which gives the expected regret
    bound ``2 sqrt(e - 1) sqrt(T K ln K) ~ 2.63 sqrt(T K ln K)`` (times the utility range)
    against the best candidate. The rewards include the randomness of states and
    signals, drawn independently of the learner (an oblivious adversary), so the bound
    applies. Needs the horizon unless ``gamma`` is given.
    """

    name = "exp3"
    feedback = "partial"

    def __init__(self, *, grid: int = DEFAULT_GRID, candidates=None, gamma=None, seed=None):
        super().__init__(grid=grid, candidates=candidates, seed=seed)
        if gamma is not None and not (isinstance(gamma, (int, float)) and 0 < gamma <= 1):
            raise GameValidationError("gamma", f"expected a number in (0, 1], got {gamma!r}")
        self.gamma = gamma

    def reset(self, game, horizon=None, *, rng=None):
        super().reset(game, horizon, rng=rng)
        K = self.n_candidates_
        if self.gamma is not None:
            self.gamma_ = float(self.gamma)
        elif self.horizon_ is None:
            raise GameValidationError("horizon", "Exp3TypesLearner needs the horizon to "
                                                 "set gamma (or give gamma)")
        elif K == 1:
            self.gamma_ = 0.0
        else:
            self.gamma_ = min(1.0, math.sqrt(K * math.log(K) / ((math.e - 1) * self.horizon_)))
        self.eta_ = self.gamma_ / K
        self._v = self.game_.sender_utility
        self._w = np.ones(K)
        return self

    def regret_bound(self) -> float:
        """Auer et al.'s Corollary 3.2 bound ``2 sqrt(e-1) sqrt(T K ln K)``, utility units."""
        K = self.n_candidates_
        return self.v_span_ * 2 * math.sqrt(math.e - 1) * math.sqrt(
            self.horizon_ * K * math.log(K))

    def choose(self, rng=None) -> int:
        return self._sample(rng)

    def update(self, j, *, type_index=None, state=None, signal=None, action=None):
        if state is None or action is None:
            raise GameValidationError("action", "Exp3TypesLearner needs the state and the "
                                                "action of every round")
        j = int(j)
        x = (float(self._v[state, action]) - self.v_min_) / self.v_span_
        xhat = x / self.probabilities_[j]
        self.cumulative_reward_[j] += xhat
        self.t_ += 1
        # multiplicative update of the one weight that changed, renormalised when large
        w = self._w
        w[j] *= math.exp(self.eta_ * xhat)
        total = w.sum()
        if total > 1e100:
            w /= total
            total = 1.0
        p = (1 - self.gamma_) * (w / total) + self.gamma_ / self.n_candidates_
        self._set_probabilities(p)
        return self


class FollowTheLeaderTypes(TypesLearner):
    """Follow the leader: the types-LP optimum for the empirical type distribution.

    Steps: before any observation, the optimum for the uniform type distribution;
    then, whenever the number of observed types reaches ``tau_k`` (``tau_1 = 1``,
    ``tau_{k+1} = ceil(growth tau_k)``, i.e. a doubling schedule, ``O(log T)`` LPs), the
    optimum for ``rho_hat = counts / t`` (exact Fractions). Full feedback; no
    randomisation. Stochastic types: converges to ``OPT(rho)``. Adversarial types: no
    guarantee (blocks of doubling length keep it on the wrong scheme).

    ``candidates_`` lists the distinct schemes computed so far, ``utilities_`` their
    exact utility per type; ``choose`` returns the index of the current one.
    """

    name = "ftl"
    feedback = "full"

    def __init__(self, *, growth: float = 2.0, certify: bool = True, seed=None):
        super().__init__(seed=seed)
        if not (isinstance(growth, (int, float)) and not isinstance(growth, bool) and growth > 1):
            raise GameValidationError("growth", f"expected a number > 1, got {growth!r}")
        self.growth = float(growth)
        self.certify = bool(certify)

    def reset(self, game, horizon=None, *, rng=None):
        super().reset(game, horizon, rng=rng)
        G = self.game_
        self._games = _type_games(G)
        self.counts_ = np.zeros(G.n_types, dtype=np.int64)
        self.candidates_ = []
        self.utilities_ = np.zeros((0, G.n_types))
        self._keys = {}
        self.solves_ = []  # (t, index of the scheme)
        self.next_solve_ = 1
        self._solve([Fraction(1, G.n_types)] * G.n_types)
        return self

    def _solve(self, q):
        G = self.game_
        signals = _optimal_signals(_with_types(G, q), self.certify)
        key = _signal_key(signals)
        if key not in self._keys:
            scheme = _scheme_from_signals(G, signals)
            self._keys[key] = len(self.candidates_)
            self.candidates_.append((scheme, f"optimal for q={_fmt(q)}"))
            row = scheme_type_table(G, scheme, type_games=self._games)[0]
            self.utilities_ = np.vstack([self.utilities_, row])
        self.current_ = self._keys[key]
        p = np.zeros(len(self.candidates_))
        p[self.current_] = 1.0
        self.probabilities_ = p
        self.n_solves_ += 1
        self.solves_.append((self.t_, self.current_))

    def choose(self, rng=None) -> int:
        return self.current_

    def update(self, j, *, type_index=None, state=None, signal=None, action=None):
        th = self._need_type(type_index)
        self.counts_[th] += 1
        self.t_ += 1
        if self.t_ >= self.next_solve_:
            self._solve([Fraction(int(c), self.t_) for c in self.counts_])
            self.next_solve_ = max(self.t_ + 1, math.ceil(self.growth * self.t_))
        return self


TYPES_LEARNERS = {"hedge": HedgeTypesLearner, "exp3": Exp3TypesLearner,
                  "ftl": FollowTheLeaderTypes}


def make_types_learner(name: str, **params) -> TypesLearner:
    """Learner by name: hedge, exp3, ftl."""
    if name not in TYPES_LEARNERS:
        raise GameValidationError("learner", f"expected one of {', '.join(TYPES_LEARNERS)}, "
                                             f"got {name!r}")
    return TYPES_LEARNERS[name](**params)


# -------------------------------------------------------------- type sequences
def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _spawn(seed, k: int) -> list:
    """``k`` independent generators from a seed or a Generator (numpy >= 1.24)."""
    if isinstance(seed, np.random.Generator):
        if hasattr(seed, "spawn"):
            return seed.spawn(k)
        return [np.random.default_rng(int(s)) for s in seed.integers(0, 2**63 - 1, size=k)]
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(k)]


def stochastic_types_sequence(type_probabilities, horizon: int, *, seed=None) -> np.ndarray:
    """``horizon`` i.i.d. type indices drawn from ``type_probabilities``."""
    horizon = check_positive_int(horizon, "horizon")
    p = np.asarray(type_probabilities, dtype=float).ravel()
    if p.size == 0 or (p < 0).any() or abs(p.sum() - 1) > 1e-9:
        raise GameValidationError("type_probabilities", "expected a probability vector")
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    out = np.searchsorted(cdf, _rng(seed).random(horizon), side="right")
    return np.minimum(out, p.size - 1).astype(np.int64)


def block_types_sequence(n_types: int, horizon: int, *, first_block: int = 1,
                         growth: float = 2.0, seed=None) -> np.ndarray:
    """An adversarial (oblivious) sequence: blocks of one type each.

    Block ``k`` has length ``ceil(first_block * growth^k)`` (``growth = 1``: constant
    blocks); the types cycle, each cycle in a fresh random order (seeded), never the
    same type twice in a row. With ``growth = 2`` the empirical type distribution keeps
    oscillating, the classic sequence on which follow-the-leader has linear regret.
    """
    T = check_positive_int(n_types, "n_types")
    horizon = check_positive_int(horizon, "horizon")
    first_block = check_positive_int(first_block, "first_block")
    if not (isinstance(growth, (int, float)) and not isinstance(growth, bool) and growth >= 1):
        raise GameValidationError("growth", f"expected a number >= 1, got {growth!r}")
    rng = _rng(seed)
    out = np.empty(horizon, dtype=np.int64)
    t, k, order, last = 0, 0, [], -1
    while t < horizon:
        if not order:
            order = list(rng.permutation(T))
            if T > 1 and order[0] == last:
                order.append(order.pop(0))
        th = order.pop(0)
        length = min(horizon - t, math.ceil(first_block * growth ** k))
        out[t:t + length] = th
        t += length
        k += 1
        last = th
    return out


# ------------------------------------------------------------------- the engine
@dataclass
class TypesRegretRun:
    """One simulated run against receiver types; cumulative totals at ``checkpoints``.

    Totals (``*_total[i]`` sums rounds ``1..checkpoints[i]``):

    * ``opt_total``: the best fixed scheme over ALL schemes. Stochastic types: ``t *
      OPT(rho)`` with the true type distribution; a given sequence: ``t *
      OPT(rho_hat_t)``, the best fixed scheme in hindsight (:func:`hindsight_optimum`);
    * ``best_candidate_total``: ``max_j sum_{s<=t} utilities[j, theta_s]`` over the
      candidate set (``n_candidates``) of the benchmark;
    * ``utility_total``: ``sum_s U(sigma_{j_s}; theta_s)``, the exact expected utility
      (over states and signals) of the chosen scheme against the round's type;
    * ``mixture_utility_total``: ``sum_s p_s . U(.; theta_s)``, also averaged over the
      learner's own draw (the quantity of the Hedge and EXP3 theorems);
    * ``realised_utility_total``: ``sum_s v(w_s, a_s)``, sampled.

    Regrets (properties): ``pseudo_regret_opt = opt_total - utility_total``,
    ``pseudo_regret_candidates = best_candidate_total - utility_total``, the same with
    ``expected_`` (mixture) and ``realised_`` in place of ``pseudo_``.

    ``types`` and ``choices`` record ``theta_t`` and ``j_t`` (an index into the
    learner's candidates, ``candidate_names``) of every round; ``to_dict`` leaves them
    out.
    """

    learner: str
    horizon: int
    seed: int | None
    feedback: str
    stochastic: bool
    n_candidates: int
    checkpoints: np.ndarray
    opt_total: np.ndarray
    best_candidate_total: np.ndarray
    utility_total: np.ndarray
    mixture_utility_total: np.ndarray
    realised_utility_total: np.ndarray
    type_counts: np.ndarray
    choice_counts: np.ndarray  # rounds each of the learner's candidates was played
    candidate_names: list = field(default_factory=list)  # the learner's candidates
    types: np.ndarray | None = field(default=None, repr=False)  # theta_t, every round
    choices: np.ndarray | None = field(default=None, repr=False)  # j_t, every round
    best_candidate: str = ""  # name of the benchmark's best candidate at the horizon
    n_solves: int = 0
    seconds: float = 0.0

    @property
    def pseudo_regret_opt(self) -> np.ndarray:
        return self.opt_total - self.utility_total

    @property
    def pseudo_regret_candidates(self) -> np.ndarray:
        return self.best_candidate_total - self.utility_total

    @property
    def expected_regret_opt(self) -> np.ndarray:
        return self.opt_total - self.mixture_utility_total

    @property
    def expected_regret_candidates(self) -> np.ndarray:
        return self.best_candidate_total - self.mixture_utility_total

    @property
    def realised_regret_opt(self) -> np.ndarray:
        return self.opt_total - self.realised_utility_total

    @property
    def realised_regret_candidates(self) -> np.ndarray:
        return self.best_candidate_total - self.realised_utility_total

    def final(self) -> dict:
        """Final values of every regret."""
        names = ("pseudo_regret_opt", "pseudo_regret_candidates", "expected_regret_opt",
                 "expected_regret_candidates", "realised_regret_opt",
                 "realised_regret_candidates")
        return {k: float(getattr(self, k)[-1]) for k in names}

    def to_dict(self) -> dict:
        d = {"learner": self.learner, "horizon": self.horizon, "seed": self.seed,
             "feedback": self.feedback, "stochastic": self.stochastic,
             "n_candidates": self.n_candidates, "best_candidate": self.best_candidate,
             "n_solves": self.n_solves, "seconds": self.seconds,
             "type_counts": self.type_counts.tolist(),
             "choice_counts": self.choice_counts.tolist(),
             "candidate_names": list(self.candidate_names)}
        for k in ("checkpoints", "opt_total", "best_candidate_total", "utility_total",
                  "mixture_utility_total", "realised_utility_total"):
            d[k] = getattr(self, k).tolist()
        d["final"] = self.final()
        return d  # the per-round ``types`` and ``choices`` are left out


class _Tables:
    """Per-scheme sampling tables for the engine: signal CDFs per state, each type's
    action per signal, each type's expected utility."""

    def __init__(self, game):
        self.game = game
        self.games = _type_games(game)
        self.cdf, self.act, self.util = [], [], []

    def extend(self, candidates):
        for scheme, _ in candidates[len(self.cdf):]:
            s = np.asarray(scheme, dtype=float)
            values, actions = scheme_type_table(self.game, s, type_games=self.games)
            cdf = np.cumsum(s, axis=1)
            cdf[:, -1] = 1.0
            self.cdf.append(cdf.tolist())
            self.act.append(actions.tolist())
            self.util.append(values.tolist())


def _opt_value(res) -> float:
    return float(res.value_exact) if res.value_exact is not None else float(res.value)


def simulate_types(game, learner, horizon: int, *, seed=None, types_sequence=None,
                   feedback: str = "full", candidates=None, checkpoints=None,
                   certify: bool = True) -> TypesRegretRun:
    """Run ``learner`` for ``horizon`` rounds against receivers of unknown type.

    Parameters
    ----------
    game : ReceiverTypesGame or Game
        Prior, utilities and (for stochastic types) the true type distribution ``rho``.
        The learner is reset on a copy whose type distribution is uniform: it knows the
        prior and the types' utilities, not ``rho``.
    learner : TypesLearner
    horizon : int
    seed : int or numpy.random.Generator
        All randomness of the run: types (stochastic), states, signals, and the
        learner's draws when the learner has no ``seed`` of its own. Types, states and
        signal uniforms are drawn before the run from separate streams, so every
        learner run with the same seed faces the same nature (common random numbers).
    types_sequence : array of int, optional
        An oblivious adversary's type indices (at least ``horizon`` of them; the first
        ``horizon`` are used). Default: i.i.d. draws from ``rho``.
    feedback : {"full", "partial"}
        Full: the learner is told ``theta_t`` (and the state, signal and action);
        partial: the state, signal and action only. A full-feedback learner is refused
        under partial feedback.
    candidates : (candidates, utilities), optional
        The candidate set of benchmark (b); default the learner's own candidate set, or
        ``candidate_schemes(game, learner.grid or DEFAULT_GRID)`` for a learner without
        one (follow-the-leader).
    checkpoints : array of int, optional
        Default :func:`persuasion.online.simulate.log_checkpoints`.
    certify : bool
        Certify every LP of benchmark (a) (exact values).

    Benchmark (a), the best fixed scheme over all schemes: for stochastic types
    ``OPT(rho)``, per round; for a given sequence, because ``sum_{s<=t} U(sigma;
    theta_s) = t sum_theta rho_hat_t(theta) U(sigma; theta)``, the best fixed scheme in
    hindsight is the types-LP optimum for the empirical distribution ``rho_hat_t =
    counts_t / t`` (exact Fractions), solved exactly at each checkpoint. Benchmark (b):
    ``max_j sum_{s<=t} utilities[j, theta_s]``. See :class:`TypesRegretRun`.

    The pseudo-regret charges the chosen scheme its exact expected utility against the
    round's type, ``utilities[j_t, theta_t]``; states and signals are sampled only for
    the realised utility and for partial feedback.
    """
    horizon = check_positive_int(horizon, "horizon")
    if feedback not in ("full", "partial"):
        raise GameValidationError("feedback", f"expected 'full' or 'partial', got {feedback!r}")
    if not isinstance(learner, TypesLearner):
        raise GameValidationError("learner", f"expected a TypesLearner, got "
                                             f"{type(learner).__name__}")
    if feedback == "partial" and learner.feedback == "full":
        raise GameValidationError("feedback", f"{type(learner).__name__} needs full feedback "
                                              "(the type of every round)")
    t0 = time.perf_counter()
    G = _as_types_game(game)
    T, n = G.n_types, G.n_states
    r_types, r_states, r_signals, r_learner = _spawn(seed, 4)
    stochastic = types_sequence is None
    if stochastic:
        types = stochastic_types_sequence(G.type_probabilities, horizon, seed=r_types)
    else:
        types = np.asarray(types_sequence)
        if types.ndim != 1 or types.size < horizon:
            raise GameValidationError("types_sequence", f"expected at least {horizon} type "
                                                        f"indices, got shape {types.shape}")
        types = types[:horizon]
        if types.dtype.kind not in "iu" or types.min() < 0 or types.max() >= T:
            raise GameValidationError("types_sequence", f"expected integers in [0, {T - 1}]")
        types = types.astype(np.int64)
    cdf_states = np.cumsum(G.prior)
    cdf_states[-1] = 1.0
    states = np.minimum(np.searchsorted(cdf_states, r_states.random(horizon), side="right"),
                        n - 1)
    u_signal = r_signals.random(horizon).tolist()
    cps = (log_checkpoints(horizon) if checkpoints is None
           else np.unique(np.asarray(checkpoints, dtype=np.int64)))
    if cps.size == 0 or cps[0] < 1 or cps[-1] > horizon:
        raise GameValidationError("checkpoints", f"expected round counts in [1, {horizon}]")

    blind = G.with_data(type_probabilities=[Fraction(1, T)] * T)
    learner.reset(blind, horizon, rng=r_learner)

    # benchmark (b): the candidate set
    if candidates is None:
        candidates = getattr(learner, "candidate_set_", None)
    if candidates is None:
        candidates = candidate_schemes(G, getattr(learner, "grid", DEFAULT_GRID))
    bench_cands, bench_util = candidates
    bench_util = np.asarray(bench_util, dtype=float)

    # per-round loop (plain Python scalars; O(K) numpy only for the mixture)
    tables = _Tables(G)
    tables.extend(learner.candidates_)
    util_by_type = np.ascontiguousarray(np.array(tables.util).T)  # (T, K)
    V = G.sender_utility.tolist()
    types_l, states_l = types.tolist(), states.tolist()
    full = feedback == "full"
    cdf_t, act_t, util_t = tables.cdf, tables.act, tables.util
    choices = np.zeros(horizon, dtype=np.int64)
    n_cp = cps.size
    cp_list = cps.tolist()
    util_at = np.zeros(n_cp)
    mix_at = np.zeros(n_cp)
    real_at = np.zeros(n_cp)
    cum_u = cum_mix = cum_real = 0.0
    ci, next_cp = 0, cp_list[0]
    choose, update = learner.choose, learner.update
    K_seen = len(cdf_t)
    for t in range(horizon):
        j = choose()
        if len(learner.candidates_) != K_seen:
            tables.extend(learner.candidates_)
            K_seen = len(cdf_t)
            util_by_type = np.ascontiguousarray(np.array(util_t).T)
        choices[t] = j
        th = types_l[t]
        w = states_l[t]
        cum_u += util_t[j][th]
        cum_mix += float(learner.probabilities_ @ util_by_type[th])
        c = cdf_t[j][w]
        s = bisect_right(c, u_signal[t])
        if s >= len(c):
            s = len(c) - 1
        a = act_t[j][s][th]
        cum_real += V[w][a]
        if full:
            update(j, type_index=th, state=w, signal=s, action=a)
        else:
            update(j, state=w, signal=s, action=a)
        if t + 1 == next_cp:
            util_at[ci], mix_at[ci], real_at[ci] = cum_u, cum_mix, cum_real
            ci += 1
            next_cp = cp_list[ci] if ci < n_cp else -1

    # benchmarks at the checkpoints
    onehot_cum = np.zeros((T, horizon), dtype=np.int64)
    for th in range(T):
        onehot_cum[th] = np.cumsum(types == th)
    counts_at = onehot_cum[:, cps - 1].T  # (n_cp, T)
    cand_totals = counts_at @ bench_util.T  # (n_cp, K_bench)
    best_cand_at = cand_totals.max(axis=1)
    if stochastic:
        from ..solve import solve

        opt = _opt_value(solve(G, "signaling", certify=certify, check_unique=False))
        opt_at = cps * opt
    else:
        cache: dict = {}
        opt_at = np.zeros(n_cp)
        for i, cnt in enumerate(counts_at):
            g = math.gcd(*[int(x) for x in cnt])
            key = tuple(int(x) // g for x in cnt)
            if key not in cache:
                cache[key] = _opt_value(hindsight_optimum(G, key, certify=certify))
            opt_at[i] = cps[i] * cache[key]
    return TypesRegretRun(
        learner=learner.name, horizon=horizon,
        seed=None if isinstance(seed, np.random.Generator) else seed, feedback=feedback,
        stochastic=stochastic, n_candidates=len(bench_cands), checkpoints=cps,
        opt_total=np.asarray(opt_at, dtype=float), best_candidate_total=best_cand_at,
        utility_total=util_at, mixture_utility_total=mix_at, realised_utility_total=real_at,
        type_counts=counts_at[-1].copy(),
        choice_counts=np.bincount(choices, minlength=len(learner.candidates_)),
        candidate_names=[nm for _, nm in learner.candidates_], types=types, choices=choices,
        best_candidate=bench_cands[int(np.argmax(cand_totals[-1]))][1],
        n_solves=learner.n_solves_, seconds=time.perf_counter() - t0)
