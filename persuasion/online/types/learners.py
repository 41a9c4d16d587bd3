"""No-regret learners against a receiver of unknown type.

Every learner here chooses among finitely many schemes ``candidates_`` and has the
interface of :class:`persuasion.online.learners.Learner` (scikit-learn style: the
constructor stores settings, state ends in ``_``), with one round's observation in
place of a batch of states:

* ``reset(game, horizon=None, *, rng=None)`` -- start a run and commit to round 1's
  scheme (``rng`` is the default generator used when the learner was built without a
  ``seed``);
* ``choice_`` -- the index in ``candidates_`` of the scheme committed this round,
  ``scheme_`` that scheme (``[state][signal]``), ``probabilities_`` the distribution
  ``choice_`` was drawn from;
* ``partial_fit(*, type_index=None, state=None, signal=None, action=None)`` -- the
  observation of the round just played under ``choice_``; updates the learner, commits
  to the next round's scheme and returns ``self``. Full-feedback learners
  (``feedback = "full"``) need ``type_index``; partial-feedback (bandit) ones
  ``state`` and ``action`` (the realised utility is ``v(state, action)``).

Learners: :class:`HedgeTypesLearner` (full feedback, exponential weights),
:class:`Exp3TypesLearner` (partial feedback, EXP3 of Auer et al. 2002) and
:class:`FollowTheLeaderTypes` (full feedback, the LP optimum for the empirical type
distribution, re-solved on a doubling schedule; no guarantee against an adversary).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from fractions import Fraction

import numpy as np

from ...checks import check_int
from ...errors import GameValidationError
from .candidates import (DEFAULT_GRID, as_types_game, candidate_schemes, format_distribution,
                         optimal_signals, scheme_from_signals, scheme_type_table, signal_key,
                         single_type_games, with_types)

__all__ = ["TypesLearner", "HedgeTypesLearner", "Exp3TypesLearner", "FollowTheLeaderTypes",
           "TYPES_LEARNERS", "make_types_learner"]


def _utility_range(game) -> tuple[float, float]:
    """``(v_min, span)`` of the sender's utility; ``span`` is 1 when ``v`` is constant."""
    V = game.sender_utility
    lo, hi = float(V.min()), float(V.max())
    return lo, (hi - lo) if hi > lo else 1.0


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


class TypesLearner:
    """Base class of the learners against unknown receiver types (see the module
    docstring for the interface). ``feedback`` is what the learner needs: ``"full"``
    (the type after each round) or ``"partial"`` (the action only).

    Subclasses set ``candidates_`` and ``probabilities_`` in ``reset`` (before this
    class commits to round 1), implement ``_update`` (one round's observation) and may
    override ``_next_choice`` (default: a draw from ``probabilities_``).
    """

    name = "base"
    feedback = "full"

    def __init__(self, *, seed=None):
        self.seed = seed

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and
                not k.startswith("_")}

    def reset(self, game, horizon: int | None = None, *, rng=None):
        self._start(game, horizon, rng)
        self._commit()
        return self

    def _start(self, game, horizon, rng) -> None:
        """The state every learner starts a run with (no commitment yet)."""
        G = as_types_game(game)
        self.game_ = G
        self.horizon_ = None if horizon is None else check_int(horizon, "horizon")
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

    @property
    def scheme_(self) -> np.ndarray:
        """The scheme committed this round, ``[state][signal]``."""
        return self.candidates_[self.choice_][0]

    def partial_fit(self, *, type_index=None, state=None, signal=None, action=None):
        """Observe the round just played under ``choice_``; commit to the next round."""
        self._update(type_index=type_index, state=state, signal=signal, action=action)
        self._commit()
        return self

    def _update(self, *, type_index, state, signal, action) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        self.choice_ = self._next_choice()

    def _next_choice(self) -> int:
        return self._sample()

    def _uniform(self) -> float:
        """One uniform draw from the learner's generator (drawn in blocks of 4096, so a
        run is reproducible whatever the horizon)."""
        if self._pos >= len(self._buffer):
            self._buffer = self.rng_.random(4096).tolist()
            self._pos = 0
        u = self._buffer[self._pos]
        self._pos += 1
        return u

    def _sample(self) -> int:
        j = bisect_right(self._cdf, self._uniform() * self._cdf[-1])
        return min(j, len(self._cdf) - 1)

    def _set_probabilities(self, p: np.ndarray) -> None:
        self.probabilities_ = p
        self._cdf = np.cumsum(p).tolist()

    def _need_type(self, type_index) -> int:
        if type_index is None:
            raise GameValidationError("type_index", f"{type(self).__name__} needs full "
                                                    "feedback: the type of every round")
        return int(type_index)


class _CandidateLearner(TypesLearner):
    """A learner over a fixed finite candidate set (:func:`candidate_schemes`)."""

    def __init__(self, *, grid: int = DEFAULT_GRID, candidates=None, seed=None):
        super().__init__(seed=seed)
        self.grid = check_int(grid, "grid")
        self.candidates = candidates

    def _start(self, game, horizon, rng) -> None:
        super()._start(game, horizon, rng)
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

    def _start(self, game, horizon, rng) -> None:
        super()._start(game, horizon, rng)
        self.log_k_ = math.log(self.n_candidates_)
        if self.learning_rate is not None:
            self.eta_ = float(self.learning_rate)
        elif self.horizon_ is not None:
            self.eta_ = math.sqrt(8 * self.log_k_ / self.horizon_)
        else:
            self.eta_ = math.sqrt(8 * self.log_k_)  # anytime rate at t = 1
        self._factors = None

    def regret_bound(self, t: int | None = None) -> float:
        """The Hedge bound ``span * (ln K / eta + eta t / 8)`` at round ``t`` (default
        the horizon), in utility units, for the fixed learning rate."""
        t = self.horizon_ if t is None else t
        if t is None:
            raise GameValidationError("t", "give the round t (the learner has no horizon)")
        if self.eta_ == 0:
            return 0.0
        return self.v_span_ * (self.log_k_ / self.eta_ + self.eta_ * t / 8)

    def _update(self, *, type_index, state, signal, action) -> None:
        th = self._need_type(type_index)
        self.cumulative_reward_ += self._rewards_by_type[th]
        self.t_ += 1
        if self.learning_rate is None and self.horizon_ is None:  # anytime rate
            self.eta_ = math.sqrt(8 * self.log_k_ / (self.t_ + 1))
            self._set_probabilities(_softmax(self.eta_ * self.cumulative_reward_))
            return
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

    def _start(self, game, horizon, rng) -> None:
        super()._start(game, horizon, rng)
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

    def regret_bound(self) -> float:
        """Auer et al.'s Corollary 3.2 bound ``2 sqrt(e-1) sqrt(T K ln K)``, utility units."""
        K = self.n_candidates_
        return self.v_span_ * 2 * math.sqrt(math.e - 1) * math.sqrt(
            self.horizon_ * K * math.log(K))

    def _update(self, *, type_index, state, signal, action) -> None:
        if state is None or action is None:
            raise GameValidationError("action", "Exp3TypesLearner needs the state and the "
                                                "action of every round")
        j = self.choice_
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


class FollowTheLeaderTypes(TypesLearner):
    """Follow the leader: the types-LP optimum for the empirical type distribution.

    Steps: before any observation, the optimum for the uniform type distribution;
    then, whenever the number of observed types reaches ``tau_k`` (``tau_1 = 1``,
    ``tau_{k+1} = ceil(growth tau_k)``, i.e. a doubling schedule, ``O(log T)`` LPs), the
    optimum for ``rho_hat = counts / t`` (exact Fractions). Full feedback; no
    randomisation. Stochastic types: converges to ``OPT(rho)``. Adversarial types: no
    guarantee (blocks of doubling length keep it on the wrong scheme).

    ``candidates_`` lists the distinct schemes computed so far, ``utilities_`` their
    exact utility per type; ``choice_`` is the index of the current one.
    """

    name = "ftl"
    feedback = "full"

    def __init__(self, *, growth: float = 2.0, certify: bool = True, seed=None):
        super().__init__(seed=seed)
        if not (isinstance(growth, (int, float)) and not isinstance(growth, bool) and growth > 1):
            raise GameValidationError("growth", f"expected a number > 1, got {growth!r}")
        self.growth = float(growth)
        self.certify = bool(certify)

    def _start(self, game, horizon, rng) -> None:
        super()._start(game, horizon, rng)
        G = self.game_
        self._games = single_type_games(G)
        self.counts_ = np.zeros(G.n_types, dtype=np.int64)
        self.candidates_ = []
        self.utilities_ = np.zeros((0, G.n_types))
        self._keys = {}
        self.solves_ = []  # (t, index of the scheme)
        self.next_solve_ = 1
        self._solve([Fraction(1, G.n_types)] * G.n_types)

    def _solve(self, q):
        G = self.game_
        signals = optimal_signals(with_types(G, q), self.certify)
        key = signal_key(signals)
        if key not in self._keys:
            scheme = scheme_from_signals(G, signals)
            self._keys[key] = len(self.candidates_)
            self.candidates_.append((scheme, f"optimal for q={format_distribution(q)}"))
            row = scheme_type_table(G, scheme, type_games=self._games)[0]
            self.utilities_ = np.vstack([self.utilities_, row])
        self.current_ = self._keys[key]
        p = np.zeros(len(self.candidates_))
        p[self.current_] = 1.0
        self.probabilities_ = p
        self.n_solves_ += 1
        self.solves_.append((self.t_, self.current_))

    def _next_choice(self) -> int:
        return self.current_

    def _update(self, *, type_index, state, signal, action) -> None:
        th = self._need_type(type_index)
        self.counts_[th] += 1
        self.t_ += 1
        if self.t_ >= self.next_solve_:
            self._solve([Fraction(int(c), self.t_) for c in self.counts_])
            self.next_solve_ = max(self.t_ + 1, math.ceil(self.growth * self.t_))


TYPES_LEARNERS = {"hedge": HedgeTypesLearner, "exp3": Exp3TypesLearner,
                  "ftl": FollowTheLeaderTypes}


def make_types_learner(name: str, **params) -> TypesLearner:
    """Learner by name: hedge, exp3, ftl."""
    if name not in TYPES_LEARNERS:
        raise GameValidationError("learner", f"expected one of {', '.join(TYPES_LEARNERS)}, "
                                             f"got {name!r}")
    return TYPES_LEARNERS[name](**params)
