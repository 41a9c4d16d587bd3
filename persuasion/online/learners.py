"""Online persuasion with an unknown prior: learners.

Setting (Zu, Iyer & Xu, "Learning to Persuade on the Fly: Robustness Against
Ignorance", EC 2021 / Operations Research 2025): in every round ``t`` a state
``w_t ~ mu`` is drawn i.i.d. from a prior that the sender does not know; the sender
commits to a scheme, observes ``w_t``, sends a signal; the receiver best-responds to
the posterior of that signal under the true prior. The learners know everything but
``mu``.

Every learner has one interface (scikit-learn style: the constructor stores settings,
learned state ends in ``_``):

* ``reset(game, horizon=None)``: start a run on a game whose *structure* (states,
  actions, utilities) the learner may read -- the engine hands it a copy of the game
  whose prior is uniform, so no learner can peek at the true prior;
* ``scheme_``: the committed scheme, ``[state][signal]``; ``recommendation_``: the
  action each signal recommends (``-1`` for a signal that recommends nothing);
* ``rounds_until_update()``: how many more rounds the current scheme stays committed
  whatever is observed (the engine simulates that many rounds in one vectorised batch);
* ``partial_fit(states)``: observe the states of the rounds just played; re-solve if
  the schedule says so; returns ``self``.

Re-solving schedule (all epoch-based learners): the scheme is recomputed only when the
number of observations reaches ``tau_k``, with ``tau_1 = warmup`` and
``tau_{k+1} = ceil(growth * tau_k)``. With growth 2 the confidence radius
``eps ~ 1/sqrt(t)`` shrinks by a factor ``sqrt(2)`` between re-solves, so the number of
LPs is ``O(log T)`` and the regret guarantee keeps its order (see ``docs/theory.md``).
``resolve_every=1`` gives the naive every-round re-solve (for benchmarks).
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import check_int
from ..errors import GameValidationError
from ..highs import solve_lp
from ..robust import full_revelation_scheme as _robust_full_revelation
from ..robust import l1_confidence_radius, solve_robust
from ..signaling_lp import action_profiles, build_signaling_lp

__all__ = ["Learner", "RobustLearner", "PlugInLearner", "ExploreThenCommitLearner",
           "FullRevelationLearner", "NoInformationLearner", "LEARNERS", "make_learner",
           "full_revelation_scheme", "epoch_schedule"]


def epoch_schedule(warmup: int, growth: float, horizon: int) -> list[int]:
    """Observation counts ``tau_1 < tau_2 < ...`` (``<= horizon``) at which schemes are re-solved."""
    taus = []
    t = warmup
    while t <= horizon:
        taus.append(t)
        t = max(t + 1, math.ceil(growth * t))
    return taus


def full_revelation_scheme(game) -> tuple[np.ndarray, np.ndarray]:
    """Full revelation as ``(scheme [state][signal], recommendation)``.

    The scheme of :func:`persuasion.robust.full_revelation_scheme` (each state recommends
    a best response of every type there, sender-preferred among ties), obedient under
    every prior. ``recommendation`` is the action each signal recommends to the one
    receiver, or -1 for receiver types (whose signals are action profiles).
    """
    scheme, profiles = _robust_full_revelation(game)
    if game.n_types == 1:
        return scheme, profiles[:, 0].copy()
    return scheme, -np.ones(profiles.shape[0], dtype=int)


class Learner:
    """Base class; see the module docstring for the interface."""

    name = "base"

    def __init__(self, *, seed=None):
        self.seed = seed

    def reset(self, game, horizon: int | None = None):
        self.game_ = game
        self.horizon_ = horizon
        self.t_ = 0
        self.counts_ = np.zeros(game.n_states, dtype=np.int64)
        self.n_solves_ = 0
        self.scheme_, self.recommendation_ = full_revelation_scheme(game)
        return self

    def rounds_until_update(self) -> float:
        return math.inf

    def partial_fit(self, states):
        states = np.asarray(states, dtype=np.int64).ravel()
        if states.size:
            if states.min() < 0 or states.max() >= self.game_.n_states:
                raise GameValidationError("states", "state index out of range")
            self.counts_ += np.bincount(states, minlength=self.game_.n_states)
            self.t_ += states.size
        self._after_observe()
        return self

    def _after_observe(self):
        pass

    @property
    def empirical_prior_(self) -> np.ndarray:
        if self.t_ == 0:
            return np.full(self.game_.n_states, 1.0 / self.game_.n_states)
        return self.counts_ / self.t_

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}


class _EpochLearner(Learner):
    """Re-solves at ``tau_1 = warmup``, ``tau_{k+1} = ceil(growth tau_k)`` observations."""

    def __init__(self, *, growth: float = 2.0, warmup: int = 1, resolve_every: int | None = None,
                 seed=None):
        super().__init__(seed=seed)
        if not (isinstance(growth, (int, float)) and growth > 1):
            raise GameValidationError("growth", f"expected a number > 1, got {growth!r}")
        self.growth = float(growth)
        self.warmup = check_int(warmup, "warmup")
        self.resolve_every = None if resolve_every is None else check_int(
            resolve_every, "resolve_every")

    def reset(self, game, horizon=None):
        super().reset(game, horizon)
        self.next_solve_ = self.warmup
        self.epoch_ = 0
        self.epochs_ = []  # (t at which the scheme was computed, radius or None)
        return self

    def rounds_until_update(self):
        return max(1, self.next_solve_ - self.t_)

    def _after_observe(self):
        if self.t_ < self.next_solve_:
            return
        self.epoch_ += 1
        self._solve()
        self.n_solves_ += 1
        if self.resolve_every is not None:
            self.next_solve_ = self.t_ + self.resolve_every
        else:
            self.next_solve_ = max(self.t_ + 1, math.ceil(self.growth * self.t_))

    def _solve(self):
        raise NotImplementedError


def plug_in_scheme(game, mu_hat) -> tuple[np.ndarray, np.ndarray]:
    """Optimal recommendation scheme for the prior ``mu_hat`` (not robust)."""
    profiles = action_profiles(game.n_actions, game.n_types)
    lp = build_signaling_lp(mu_hat, game.sender_utility, game.receiver_utilities,
                            game.type_probabilities, profiles)
    sol = solve_lp(lp)
    S, n = profiles.shape[0], game.n_states
    x = np.clip(sol.x, 0, None).reshape(S, n).T
    scheme = np.zeros_like(x)
    pos = mu_hat > 0
    scheme[pos] = x[pos] / np.maximum(x[pos].sum(1, keepdims=True), 1e-300)
    if (~pos).any():  # unseen states: recommend a best response there (obedient)
        scheme[~pos] = _robust_full_revelation(game)[0][~pos]
    rec = profiles[:, 0] if game.n_types == 1 else -np.ones(S, dtype=int)
    return scheme, rec


class PlugInLearner(_EpochLearner):
    """Optimal scheme for the empirical prior (not robust: may be non-obedient under the
    true prior, and is then charged what the receiver's true best response earns)."""

    name = "plugin"

    def _solve(self):
        self.scheme_, self.recommendation_ = plug_in_scheme(self.game_, self.empirical_prior_)
        self.epochs_.append((self.t_, None))


class RobustLearner(_EpochLearner):
    """Robust persuasion with an unknown prior (Zu, Iyer & Xu 2021).

    Steps at each re-solve (``t`` observations, epoch ``k``):

    1. empirical prior ``mu_hat_t``;
    2. radius ``eps_k`` of the L1 confidence set, from the Weissman et al. (2003) bound
       at confidence ``delta_k = delta / (k (k + 1))`` (so ``sum_k delta_k <= delta``:
       with probability ``>= 1 - delta`` the true prior lies in every epoch's set);
    3. the scheme maximising the sender's utility under ``mu_hat_t`` subject to
       obedience for *every* prior in the set (:func:`persuasion.robust.solve_robust`);
    4. full revelation (obedient under any prior) before the first re-solve and as the
       fallback.

    On that event every round's scheme is obedient under the true prior.
    """

    name = "robust"

    def __init__(self, *, delta: float = 0.05, growth: float = 2.0, warmup: int = 1,
                 resolve_every: int | None = None, seed=None):
        super().__init__(growth=growth, warmup=warmup, resolve_every=resolve_every, seed=seed)
        if not (isinstance(delta, (int, float)) and 0 < delta < 1):
            raise GameValidationError("delta", f"expected a number in (0, 1), got {delta!r}")
        self.delta = float(delta)

    def epoch_delta(self, k: int) -> float:
        return self.delta / (k * (k + 1))

    def _solve(self):
        eps = l1_confidence_radius(self.t_, self.game_.n_states, self.epoch_delta(self.epoch_))
        res = solve_robust(self.game_, self.empirical_prior_, eps)
        self.scheme_ = res.scheme
        self.recommendation_ = np.arange(self.game_.n_actions)
        self.epochs_.append((self.t_, float(eps)))
        self.last_robust_ = res


class ExploreThenCommitLearner(Learner):
    """Full revelation for ``explore_rounds`` rounds, then the plug-in optimum for the
    empirical prior at that point, forever. Default ``explore_rounds = ceil(T^(2/3))``."""

    name = "explore-commit"

    def __init__(self, *, explore_rounds: int | None = None, seed=None):
        super().__init__(seed=seed)
        self.explore_rounds = None if explore_rounds is None else check_int(
            explore_rounds, "explore_rounds")

    def reset(self, game, horizon=None):
        super().reset(game, horizon)
        if self.explore_rounds is not None:
            self.n_explore_ = self.explore_rounds
        elif horizon is not None:
            self.n_explore_ = max(1, math.ceil(horizon ** (2 / 3)))
        else:
            raise GameValidationError("explore_rounds", "give explore_rounds or a horizon")
        self.committed_ = False
        return self

    def rounds_until_update(self):
        return math.inf if self.committed_ else max(1, self.n_explore_ - self.t_)

    def _after_observe(self):
        if not self.committed_ and self.t_ >= self.n_explore_:
            self.scheme_, self.recommendation_ = plug_in_scheme(self.game_, self.empirical_prior_)
            self.committed_ = True
            self.n_solves_ += 1


class FullRevelationLearner(Learner):
    """Always reveal the state (recommend a best response in it)."""

    name = "full"


class NoInformationLearner(Learner):
    """Never reveal anything: one signal; the receiver acts on the true prior."""

    name = "none"

    def reset(self, game, horizon=None):
        super().reset(game, horizon)
        self.scheme_ = np.ones((game.n_states, 1))
        self.recommendation_ = np.array([-1])
        return self


LEARNERS = {
    "robust": RobustLearner,
    "plugin": PlugInLearner,
    "explore-commit": ExploreThenCommitLearner,
    "full": FullRevelationLearner,
    "none": NoInformationLearner,
}


def make_learner(name: str, **params) -> Learner:
    """Learner by its CLI name: robust, plugin, explore-commit, full, none."""
    if name not in LEARNERS:
        raise GameValidationError("learner", f"expected one of {', '.join(LEARNERS)}, got {name!r}")
    return LEARNERS[name](**params)
