r"""Instance-dependent regret upper bound of the robust learner.

The derivation (lemmas, proofs, constants) is in ``docs/theory.md``; this module
computes every quantity in it. Setting: one receiver, a prior ``mu`` unknown to the
sender, states drawn i.i.d. from ``mu``; the learner is
:class:`persuasion.online.RobustLearner` (Zu, Iyer & Xu, "Learning to Persuade on the
Fly", EC 2021, arXiv 2102.10156) with its epoch schedule
(:func:`persuasion.online.learners.epoch_schedule`): full revelation for the first
``tau_1 = warmup`` rounds, then in epoch ``k`` (rounds ``tau_k + 1 .. tau_{k+1}``) the
robust scheme for the ball of L1 radius

    eps_k = l1_confidence_radius(tau_k, n, delta_k),   delta_k = delta / (k (k + 1))

around the empirical prior of the first ``tau_k`` states.

The bound (Theorem 1 of ``docs/theory.md``)
-------------------------------------------
With probability at least ``1 - sum_k delta_k >= 1 - delta``, simultaneously for every
``t <= T``, the pseudo-regret (:func:`persuasion.online.simulate`) satisfies

    R_t <= min(t, W) * L_W + sum_k len_k(t) * ell_k,

where ``W = warmup``, ``L_W = OPT - U(full revelation; mu)`` (exact, sender-preferred
ties), ``len_k(t)`` is the number of rounds of epoch ``k`` among the first ``t``, and::

    ell_k = max(0, min( OPT - OPT_{eta_k} + eps_k V_osc,      # strict branch (Lemma 2)
                        OPT - R_k         + eps_k V_osc,      # robust branch (Lemma 2')
                        OPT - V_F         + eps_k V_osc,      # full-revelation branch
                        OPT - V_min ))                        # trivial branch
    eta_k = min(eps_k, 1) * Gamma / mu_min.

Here ``OPT_eta`` is the optimum of the signaling LP with strict obedience margin
``eta`` (:func:`strict_value`), ``R_k`` the value under ``mu`` of the robust LP centred
at the TRUE prior with radius ``min(2 eps_k, 2)`` (:func:`persuasion.robust.solve_robust`;
``R_k >= OPT_{eta_k}``, optional), ``V_F`` full revelation's value with an obedient
receiver, ``V_min = sum_w mu(w) min_a v(w, a)``, ``V_osc = max_w (max_a v(w,a) -
min_a v(w,a))`` (at most ``V_rng = max v - min v``), ``mu_min`` the smallest positive
prior probability and ``Gamma = max`` over the non-exempt action pairs ``(a, a')`` of
``max_w (u(w,a)-u(w,a'))^+ + max_w (u(w,a')-u(w,a))^+`` (at most ``2 Delta``). A pair is
*exempt* when ``a`` weakly dominates ``a'`` for the receiver in every state
(``u(., a) >= u(., a')``): its obedience constraint holds for every prior, so no margin
is needed (``exempt_dominated=False`` puts the margin on every pair, as
``build_signaling_lp(..., margin=eta)`` alone does).

The expected pseudo-regret is at most ``min(T, W) L_W + sum_k len_k(T) (ell_k +
delta_k (OPT - V_min - ell_k))`` (Corollary 1).

Cost: two small LPs per epoch (``O(log T)`` LPs, cached), plus a bisection for
``eta_max`` (:func:`max_strict_margin`, about 30-40 LPs of ``n m`` variables).
:func:`rate_constant` gives the closed form ``R_T <= W L_W + C S(T)`` with
``S(T) = O(sqrt(T (n + log(1/delta) + log log T)))`` (Theorem 2).

Modules: this one computes Theorem 1 and Corollary 1 (:func:`robust_regret_bound`);
the strict LP and the instance constants are in :mod:`theory.margins`, the closed-form
rate of Theorem 2 in :mod:`theory.rate`. Every public name of the three is importable
from here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from persuasion.checks import check_int
from persuasion.errors import GameValidationError
from persuasion.online.learners import epoch_schedule
from persuasion.online.simulate import log_checkpoints
from persuasion.robust import l1_confidence_radius, solve_robust

from .margins import (InstanceConstants, check_game, check_schedule, instance_constants,
                      max_strict_margin, strict_scheme, strict_value)
from .rate import RateConstant, lower_bound_shape, rate_constant

__all__ = ["InstanceConstants", "EpochBound", "RegretBound", "RateConstant",
           "instance_constants", "strict_value", "strict_scheme", "max_strict_margin",
           "robust_regret_bound", "rate_constant", "lower_bound_shape"]


# --------------------------------------------------------------------- regret bound
@dataclass
class EpochBound:
    """One epoch of the robust learner and its per-round loss bound ``ell_k``.

    ``start``/``end``: the epoch plays rounds ``start + 1 .. end`` (``start = tau_k``).
    ``opt_eta``: ``OPT_{eta_k}`` (``-inf`` if ``eta_k > eta_max``); ``robust_value``:
    ``R_k``, the robust LP's value at the true prior with radius ``min(2 eps_k, 2)``
    (``-inf`` when not computed). ``branch``: which term of the min attains ``ell_k``
    (``"strict"``, ``"robust"``, ``"full revelation"`` or ``"trivial"``).
    """

    k: int
    start: int
    end: int
    eps: float
    delta_k: float
    eta: float
    opt_eta: float
    robust_value: float
    loss: float
    expected_loss: float
    branch: str


@dataclass
class RegretBound:
    """The high-probability and expected pseudo-regret bounds at ``checkpoints``.

    Attributes
    ----------
    checkpoints : ndarray of int
    high_probability : ndarray
        Bound on the cumulative pseudo-regret after ``t`` rounds, for every checkpoint
        ``t`` simultaneously, with probability ``>= confidence``.
    expected : ndarray
        Bound on the expected cumulative pseudo-regret (Corollary 1).
    confidence : float
        ``1 - sum_k delta_k`` over the epochs that play rounds (``>= 1 - delta``).
    epochs : list of EpochBound
    warmup : int
        Rounds of full revelation before the first re-solve (within the horizon).
    constants : InstanceConstants
    n_lps : int
        LPs solved for the epochs (cached by margin; ``eta_max`` not counted).
    """

    checkpoints: np.ndarray
    high_probability: np.ndarray
    expected: np.ndarray
    confidence: float
    epochs: list
    warmup: int
    constants: InstanceConstants
    horizon: int
    delta: float
    growth: float
    n_lps: int = 0
    seconds: float = 0.0
    details: dict = field(default_factory=dict)

    def __iter__(self):  # t, bound = robust_regret_bound(...)
        return iter((self.checkpoints, self.high_probability))


def _cumulative(checkpoints: np.ndarray, segments) -> np.ndarray:
    """``sum over segments (start, end, rate)`` of ``rate * |(start, end] ∩ (0, t]|``."""
    out = np.zeros(checkpoints.size)
    t = checkpoints.astype(float)
    for start, end, rate in segments:
        if end > start and rate != 0:
            out += rate * np.clip(np.minimum(t, end) - start, 0.0, None)
    return out


def robust_regret_bound(game, horizon, *, delta: float = 0.05, growth: float = 2.0,
                        warmup: int = 1, checkpoints=None, constants=None,
                        exempt_dominated: bool = True,
                        robust_at_truth: bool = True) -> RegretBound:
    """Explicit pseudo-regret bound of the robust learner on ``game`` (Theorem 1).

    Exact per the learner's schedule: ``tau_k`` from
    :func:`persuasion.online.learners.epoch_schedule`, ``eps_k`` from
    :func:`persuasion.robust.l1_confidence_radius` at ``delta_k = delta / (k (k + 1))``,
    one strict LP per epoch (``O(log T)`` LPs).

    Parameters
    ----------
    game : Game
        One receiver; the prior is the TRUE prior ``mu``.
    horizon : int
    delta, growth, warmup :
        The learner's settings (``make_learner("robust", delta=..., growth=...,
        warmup=...)``; the bound is for the default ``resolve_every=None``).
    checkpoints : array of int, optional
        Default :func:`persuasion.online.simulate.log_checkpoints` (the simulator's).
    constants : InstanceConstants, optional
        Reuse :func:`instance_constants` across calls.
    exempt_dominated : bool
        See :func:`strict_value`.
    robust_at_truth : bool
        Also use Lemma 2' (``docs/theory.md``): the robust LP centred at the TRUE prior
        with radius ``min(2 eps_k, 2)`` (:func:`persuasion.robust.solve_robust`), whose
        value ``R_k`` is at least ``OPT_{eta_k}``; the strict branch then reads
        ``OPT - max(OPT_{eta_k}, R_k) + eps_k V_osc``. One more LP per epoch.

    Returns
    -------
    RegretBound
        Unpacks as ``t, bound = robust_regret_bound(...)``.
    """
    t0 = time.perf_counter()
    check_game(game)
    horizon = check_int(horizon, "horizon")
    delta, growth, warmup = check_schedule(delta, growth, warmup)
    c = constants if constants is not None else instance_constants(
        game, exempt_dominated=exempt_dominated)
    cps = log_checkpoints(horizon) if checkpoints is None else np.asarray(checkpoints,
                                                                          dtype=np.int64)
    if cps.ndim != 1 or cps.size == 0 or (cps < 1).any() or (cps > horizon).any():
        raise GameValidationError("checkpoints", f"expected round counts in [1, {horizon}]")
    taus = epoch_schedule(warmup, growth, horizon)
    ends = taus[1:] + [horizon]
    cache: dict[float, float] = {}
    robust_cache: dict[float, float] = {}
    mu = np.asarray(game.prior, dtype=float)
    n_lps = 0
    epochs = []
    conf = 1.0
    for k, (tau, end) in enumerate(zip(taus, ends), start=1):
        if end <= tau:  # re-solve at the horizon itself: plays no round
            continue
        d_k = delta / (k * (k + 1))
        conf -= d_k
        eps = l1_confidence_radius(tau, c.n_states, d_k)  # capped at 2, like the learner
        eta = c.eta_for(eps)
        if eta <= c.eta_max:
            if eta not in cache:
                cache[eta] = strict_value(game, eta, exempt_dominated=c.exempt_dominated)
                n_lps += 1
            opt_eta = cache[eta]
        else:
            opt_eta = -math.inf
        robust_val = -math.inf
        if robust_at_truth:
            radius = min(2.0 * eps, 2.0)
            if radius not in robust_cache:
                robust_cache[radius] = solve_robust(game, mu, radius).value_at_estimate
                n_lps += 1
            robust_val = robust_cache[radius]
        terms = {"strict": c.opt - opt_eta + eps * c.v_osc,
                 "robust": c.opt - robust_val + eps * c.v_osc,
                 "full revelation": c.full_revelation_gap + eps * c.v_osc,
                 "trivial": c.max_loss}
        branch = min(terms, key=terms.get)
        loss = max(0.0, terms[branch])
        expected = loss + d_k * (c.max_loss - loss)
        epochs.append(EpochBound(k=k, start=tau, end=end, eps=eps, delta_k=d_k, eta=eta,
                                 opt_eta=opt_eta, robust_value=robust_val, loss=loss,
                                 expected_loss=expected, branch=branch))
    w = min(warmup, horizon)
    warm_seg = [(0, w, c.warmup_loss)]
    high = _cumulative(cps, warm_seg + [(e.start, e.end, e.loss) for e in epochs])
    expct = _cumulative(cps, warm_seg + [(e.start, e.end, e.expected_loss) for e in epochs])
    return RegretBound(checkpoints=cps, high_probability=high, expected=expct,
                       confidence=conf, epochs=epochs, warmup=w, constants=c,
                       horizon=horizon, delta=delta, growth=growth, n_lps=n_lps,
                       seconds=time.perf_counter() - t0)
