"""Simulating online persuasion and measuring regret exactly.

Regret is always measured against the exact optimum ``OPT(mu)`` of the game under its
TRUE prior (:func:`persuasion.solve`, signaling LP, optionally certified):

* **pseudo-regret** ``R_T = sum_t (OPT(mu) - U(sigma_t; mu))``, where ``U(sigma; mu)``
  is the sender's exact expected utility of the committed scheme when the receiver
  best-responds to the *true* posterior of each signal (sender-preferred ties; see
  :func:`persuasion.scheme.evaluate_scheme`), so a non-persuasive scheme is charged
  what it really earns;
* **realised regret** ``sum_t (OPT(mu) - v(w_t, a_t))`` with sampled states, signals and
  the receiver's true best responses;
* **violations**: rounds whose scheme was not obedient under the true prior (some
  signal of positive probability recommends an action that is not a best response to
  its true posterior).

Rounds between two re-solves of the learner share one scheme, so they are simulated
as one vectorised batch: ``U(sigma; mu)`` is computed once per batch, and the states and
signals of the batch are drawn with numpy in one go.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..checks import check_int
from ..errors import GameValidationError
from ..scheme import evaluate_scheme, obedience_violation
from ..solve import solve

__all__ = ["RegretRun", "simulate", "optimal_value", "log_checkpoints"]


def optimal_value(game, *, certify: bool = False) -> float:
    """``OPT(mu)`` from the exact signaling LP (certified in rationals if asked)."""
    res = solve(game, "signaling", certify=certify, check_unique=False)
    return res.value


def log_checkpoints(horizon: int, points: int = 60) -> np.ndarray:
    """About ``points`` log-spaced round counts in ``[1, horizon]``, always with ``horizon``."""
    pts = np.unique(np.round(np.logspace(0, math.log10(max(horizon, 1)), points)).astype(np.int64))
    pts = pts[(pts >= 1) & (pts <= horizon)]
    if pts.size == 0 or pts[-1] != horizon:
        pts = np.append(pts, horizon)
    return pts


@dataclass
class RegretRun:
    """One simulated run."""

    learner: str
    horizon: int
    seed: int | None
    optimal_value: float
    checkpoints: np.ndarray  # t values
    pseudo_regret: np.ndarray  # cumulative pseudo-regret at checkpoints
    realised_regret: np.ndarray  # cumulative realised regret at checkpoints
    violations: int  # rounds with a scheme not obedient under the true prior
    n_solves: int
    epochs: list = field(default_factory=list)  # (t_start, t_end, U(sigma; mu), obedient)
    seconds: float = 0.0

    @property
    def final_pseudo_regret(self) -> float:
        return float(self.pseudo_regret[-1])

    def to_dict(self) -> dict:
        return {
            "learner": self.learner, "horizon": self.horizon, "seed": self.seed,
            "optimal_value": self.optimal_value,
            "checkpoints": self.checkpoints.tolist(),
            "pseudo_regret": self.pseudo_regret.tolist(),
            "realised_regret": self.realised_regret.tolist(),
            "violations": self.violations, "n_solves": self.n_solves,
            "epochs": [list(e) for e in self.epochs], "seconds": self.seconds,
        }


def _blind_copy(game):
    """The game with a uniform prior: what a learner that does not know the prior sees."""
    n = game.n_states
    return game.with_data(prior=[Fraction(1, n)] * n)


def _obedient(game, ev, recommendation, tol) -> bool:
    """Every positive-probability signal's recommended action is a best response to its
    true posterior (within ``tol``); signals that recommend nothing (-1) are skipped."""
    keep = [k for k, p in enumerate(ev.signal_probabilities)
            if p > 0 and k < len(recommendation) and recommendation[k] >= 0]
    if not keep:
        return True
    # posteriors as the columns of a "joint": the gains come out per unit of probability
    return obedience_violation(game, ev.posteriors[keep].T,
                               [(int(recommendation[k]),) for k in keep]) <= tol


def simulate(game, learner, horizon: int, *, seed=None, opt: float | None = None,
             checkpoints: np.ndarray | None = None, tol: float | None = None,
             states=None) -> RegretRun:
    """Run ``learner`` for ``horizon`` rounds on ``game`` (whose prior is the true one).

    Parameters
    ----------
    game : Game
    learner : Learner
        Reset here; it sees the game with a uniform prior, never the true one.
    horizon : int
    seed : int or numpy.random.Generator
        Randomness of states and signals.
    opt : float, optional
        ``OPT(mu)``; computed with the exact solver when omitted.
    checkpoints : array of int, optional
        Rounds at which the cumulative regrets are recorded (default log-spaced).
    states : array of int, optional
        The states of rounds ``1..horizon``, pre-drawn (replays and tests); drawn from the
        true prior with ``seed`` when omitted. Signals are always drawn with ``seed``.
    """
    horizon = check_int(horizon, "horizon")
    t0 = time.perf_counter()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    tol = game.tol if tol is None else tol
    if opt is None:
        opt = optimal_value(game)
    cps = log_checkpoints(horizon) if checkpoints is None else np.asarray(checkpoints, dtype=np.int64)
    mu = game.prior
    V = game.sender_utility
    learner.reset(_blind_copy(game), horizon)
    pseudo_at = np.zeros(cps.size)
    real_at = np.zeros(cps.size)
    cum_pseudo = cum_real = 0.0
    violations = 0
    epochs = []
    cp_idx = 0
    t = 0
    cdf_states = np.cumsum(mu)
    cdf_states[-1] = 1.0
    if states is not None:
        states = np.asarray(states, dtype=np.int64)
        if states.shape != (horizon,) or states.min() < 0 or states.max() >= game.n_states:
            raise GameValidationError("states", f"expected {horizon} state indices in "
                                                f"[0, {game.n_states})")
    given_states = states
    while t < horizon:
        scheme = learner.scheme_
        length = int(min(learner.rounds_until_update(), horizon - t))
        ev = evaluate_scheme(game, scheme, tie_breaking="sender", tol=tol)
        gap = opt - ev.sender_value
        obedient = _obedient(game, ev, learner.recommendation_, tol)
        if not obedient:
            violations += length
        # sample the batch
        if given_states is not None:
            states = given_states[t:t + length]
        else:
            states = np.searchsorted(cdf_states, rng.random(length), side="right")
            states = np.minimum(states, game.n_states - 1)
        cdf = np.cumsum(scheme, axis=1)
        cdf[:, -1] = 1.0
        signals = np.empty(length, dtype=np.int64)
        u = rng.random(length)
        for w in range(game.n_states):
            idx = np.flatnonzero(states == w)
            if idx.size:
                signals[idx] = np.searchsorted(cdf[w], u[idx], side="right")
        signals = np.minimum(signals, scheme.shape[1] - 1)
        # the receiver's true best response to each signal (types: expected over types)
        if game.n_types == 1:
            act = np.array([a[0] for a in ev.actions])
            util = V[states, act[signals]]
        else:  # receiver types: the sender's utility averaged over the type draw
            util = np.zeros(length)
            for t_, rho_t in enumerate(game.type_probabilities):
                act = np.array([a[t_] for a in ev.actions])
                util += rho_t * V[states, act[signals]]
        real_cum = cum_real + np.cumsum(opt - util)
        # record checkpoints inside (t, t + length]
        while cp_idx < cps.size and cps[cp_idx] <= t + length:
            c = int(cps[cp_idx])
            pseudo_at[cp_idx] = cum_pseudo + (c - t) * gap
            real_at[cp_idx] = real_cum[c - t - 1]
            cp_idx += 1
        cum_pseudo += length * gap
        cum_real = float(real_cum[-1])
        epochs.append((t, t + length, float(ev.sender_value), bool(obedient)))
        learner.partial_fit(states)
        t += length
    return RegretRun(learner=learner.name, horizon=horizon,
                     seed=None if isinstance(seed, np.random.Generator) else seed,
                     optimal_value=float(opt), checkpoints=cps, pseudo_regret=pseudo_at,
                     realised_regret=real_at, violations=violations,
                     n_solves=learner.n_solves_, epochs=_merge_epochs(epochs),
                     seconds=time.perf_counter() - t0)


def _merge_epochs(epochs):
    out = []
    for e in epochs:
        if out and out[-1][2] == e[2] and out[-1][3] == e[3] and out[-1][1] == e[0]:
            out[-1] = (out[-1][0], e[1], e[2], e[3])
        else:
            out.append(e)
    return out
