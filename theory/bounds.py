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
ties), ``len_k(t)`` is the number of rounds of epoch ``k`` among the first ``t``, and

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
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from persuasion.errors import GameValidationError, SolverError
from persuasion.highs import SparseLP, solve_lp
from persuasion.online.learners import epoch_schedule
from persuasion.online.simulate import log_checkpoints
from persuasion.robust import full_revelation_scheme as _robust_full_revelation
from persuasion.robust import l1_confidence_radius, solve_robust
from persuasion.scheme import evaluate_scheme
from persuasion.signaling_lp import action_profiles, build_signaling_lp

__all__ = ["InstanceConstants", "EpochBound", "RegretBound", "RateConstant",
           "instance_constants", "strict_value", "strict_scheme", "max_strict_margin",
           "robust_regret_bound", "rate_constant", "lower_bound_shape"]


# --------------------------------------------------------------------------- checks
def _check_game(game):
    needed = ("n_states", "n_actions", "n_types", "prior", "sender_utility",
              "receiver_utilities")
    if not all(hasattr(game, a) for a in needed):
        raise GameValidationError("game", f"expected a Game, got {type(game).__name__}")
    if game.n_types != 1:
        raise GameValidationError(
            "game", "the regret bound covers one receiver only; receiver-types games "
                    f"({game.n_types} types) are not covered (see docs/theory.md, remarks)")


def _check_eta(eta) -> float:
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real):
        raise GameValidationError("eta", f"expected a finite number >= 0, got {eta!r}")
    eta = float(eta)
    if not math.isfinite(eta) or eta < 0:
        raise GameValidationError("eta", f"expected a finite number >= 0, got {eta!r}")
    return eta


def _check_horizon(horizon) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise GameValidationError("horizon", f"expected a positive integer, got {horizon!r}")
    return int(horizon)


def _check_schedule(delta, growth, warmup):
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not 0 < delta < 1:
        raise GameValidationError("delta", f"expected a number in (0, 1), got {delta!r}")
    if isinstance(growth, bool) or not isinstance(growth, numbers.Real) or not growth > 1:
        raise GameValidationError("growth", f"expected a number > 1, got {growth!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, (int, np.integer)) or warmup < 1:
        raise GameValidationError("warmup", f"expected a positive integer, got {warmup!r}")
    return float(delta), float(growth), int(warmup)


# --------------------------------------------------------------------- receiver pairs
def _pairs(game):
    """Obedience rows of the signaling LP, in its order (signal a, deviation a' != a):
    ``(a, a', exempt)`` with ``exempt`` True iff ``u(w, a) >= u(w, a')`` in every state.

    Float comparison without subtraction: rounding is monotone, so an exact weak
    dominance between rationals survives the conversion to floats.
    """
    U = np.asarray(game.receiver_utilities[0], dtype=float)
    m = game.n_actions
    out = []
    for a in range(m):
        for b in range(m):
            if b != a:
                out.append((a, b, bool(np.all(U[:, a] >= U[:, b]))))
    return out


def _gamma(game, exempt_dominated: bool) -> float:
    """``Gamma = max over non-exempt pairs of max_w d_w^+ + max_w d_w^-`` (0 if none)."""
    U = np.asarray(game.receiver_utilities[0], dtype=float)
    g = 0.0
    for a, b, exempt in _pairs(game):
        if exempt and exempt_dominated:
            continue
        d = U[:, a] - U[:, b]
        g = max(g, float(max(d.max(), 0.0) + max((-d).max(), 0.0)))
    return g


# ------------------------------------------------------------------------ strict LP
def _strict_lp(game, eta: float, exempt_dominated: bool) -> SparseLP:
    """``build_signaling_lp(..., margin=eta)`` with the exempt pairs' rows dropped."""
    profiles = action_profiles(game.n_actions, 1)
    lp = build_signaling_lp(game.prior, game.sender_utility, game.receiver_utilities,
                            game.type_probabilities, profiles, margin=eta)
    if exempt_dominated:
        n = game.n_states
        lower = np.array(lp.row_lower, dtype=float)
        for i, (_, _, exempt) in enumerate(_pairs(game)):
            if exempt:
                lower[n + i] = -np.inf  # implied by x >= 0: u(., a) >= u(., a')
        lp.row_lower = lower
    return lp


#: Largest violation of a margin row (times ``max(1, Delta)``) accepted from the solver.
#: HiGHS accepts rows violated by up to 1e-7, which would make tiny margins look
#: feasible where none exists (e.g. between receiver-identical actions); the solution
#: is re-checked against this much smaller tolerance.
MARGIN_CHECK_TOL = 1e-9


def _solve_strict(game, eta: float, exempt_dominated: bool):
    """(value, joint x[w, a]) of the margin-``eta`` LP, or None if it is infeasible
    (HiGHS says so, or its solution violates a margin row by more than
    ``MARGIN_CHECK_TOL * max(1, Delta)``)."""
    lp = _strict_lp(game, eta, exempt_dominated)
    try:
        sol = solve_lp(lp)
    except SolverError:
        return None
    n, m = game.n_states, game.n_actions
    xs = np.clip(sol.x, 0.0, None)
    U = np.asarray(game.receiver_utilities[0], dtype=float)
    scale = max(1.0, float((U.max(1) - U.min(1)).max()))
    lower = np.asarray(lp.row_lower, dtype=float)
    for i in range(n, lp.n_rows):
        if np.isfinite(lower[i]):
            idx, val = lp.row(i)
            activity = float(np.asarray(val, dtype=float) @ xs[idx])
            if activity < lower[i] - MARGIN_CHECK_TOL * scale:
                return None
    x = xs.reshape(m, n).T
    return float(sol.objective), x


def strict_value(game, eta, *, exempt_dominated: bool = True) -> float:
    """``OPT_eta(mu)``: the signaling LP's optimum with strict obedience margin ``eta``.

    Maximise ``sum x[w,a] v(w,a)`` over ``x >= 0`` with ``sum_a x[w,a] = mu(w)`` and
    ``sum_w x[w,a] (u(w,a) - u(w,a') - eta) >= 0`` for every action ``a`` and deviation
    ``a'`` (:func:`persuasion.signaling_lp.build_signaling_lp` with ``margin=eta``,
    solved by :func:`persuasion.highs.solve_lp`).

    Parameters
    ----------
    game : Game
        One receiver; its prior is the true prior ``mu``.
    eta : float
        Margin ``>= 0``; ``eta = 0`` gives ``OPT``.
    exempt_dominated : bool
        Drop the rows of pairs ``(a, a')`` with ``u(., a) >= u(., a')`` in every state
        (they hold for every prior, so a margin on them is never needed).

    Returns
    -------
    float
        ``-inf`` if no scheme has margin ``eta`` (the LP is infeasible).

    Examples
    --------
    The prosecutor: ``OPT_eta = 0.6 / (1 + eta)`` for ``0 <= eta <= 1`` (convex, not
    concave).

    >>> from persuasion import Game
    >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
    >>> round(strict_value(g, 0.5), 12), strict_value(g, 1.5)
    (0.4, -inf)
    """
    _check_game(game)
    eta = _check_eta(eta)
    sol = _solve_strict(game, eta, exempt_dominated)
    return -math.inf if sol is None else sol[0]


def strict_scheme(game, eta, *, exempt_dominated: bool = True):
    """The scheme ``pi_eta`` of Lemma 2: an optimum of the margin-``eta`` LP as a
    conditional scheme, with full revelation on the states of prior probability 0.

    Returns
    -------
    (float, ndarray (n_states, n_actions)) or None
        ``(OPT_eta, pi_eta)`` with ``pi_eta[w, a] = x[w, a] / mu(w)`` on the support of
        ``mu`` and the recommendation of :func:`persuasion.robust.full_revelation_scheme`
        elsewhere; None if the LP is infeasible.
    """
    _check_game(game)
    eta = _check_eta(eta)
    sol = _solve_strict(game, eta, exempt_dominated)
    if sol is None:
        return None
    value, x = sol
    mu = np.asarray(game.prior, dtype=float)
    pos = mu > 0
    pi, _ = _robust_full_revelation(game)
    pi = np.array(pi, dtype=float)
    rows = x[pos] / mu[pos, None]
    pi[pos] = rows / rows.sum(1, keepdims=True)
    return value, pi


def max_strict_margin(game, *, exempt_dominated: bool = True, rtol: float = 1e-9) -> float:
    """``eta_max``: the largest margin ``eta`` for which the strict LP is feasible.

    Feasibility is monotone in ``eta`` (a scheme with margin ``eta`` has every smaller
    margin), so a bisection on ``[0, Delta]`` finds it, ``Delta = max |u(w,a) -
    u(w,a')|``: no non-exempt pair has a margin above ``max_w d_w <= Delta``. If the LP is
    feasible at ``2 Delta + 1`` (every used action has only exempt pairs: it weakly
    dominates every other action), ``eta_max = inf``. The returned value is the largest
    margin found feasible (its solution re-checked to ``MARGIN_CHECK_TOL``), within
    ``rtol * Delta`` of the true ``eta_max``; a margin below ``100 * MARGIN_CHECK_TOL *
    max(1, Delta)`` is reported as 0 (no strict margin).
    """
    _check_game(game)
    U = np.asarray(game.receiver_utilities[0], dtype=float)
    delta_u = float((U.max(1) - U.min(1)).max())
    if _solve_strict(game, 2.0 * delta_u + 1.0, exempt_dominated) is not None:
        return math.inf
    if _solve_strict(game, 0.0, exempt_dominated) is None:  # cannot happen: OPT exists
        raise SolverError("the signaling LP is infeasible")
    lo, hi = 0.0, max(delta_u, 1e-300)
    if _solve_strict(game, hi, exempt_dominated) is not None:
        return hi
    while hi - lo > rtol * max(delta_u, 1e-300):
        mid = 0.5 * (lo + hi)
        if _solve_strict(game, mid, exempt_dominated) is None:
            hi = mid
        else:
            lo = mid
    if lo <= 100 * MARGIN_CHECK_TOL * max(1.0, delta_u):
        return 0.0  # no margin distinguishable from the solver's tolerance
    return lo


# ------------------------------------------------------------------------ constants
@dataclass
class InstanceConstants:
    """The instance's constants in the bound (notation of ``docs/theory.md``).

    Attributes
    ----------
    opt : float
        ``OPT = OPT_0(mu)``.
    full_revelation_value : float
        ``V_F = sum_w mu(w) v(w, a_F(w))``, ``a_F(w)`` the sender-preferred best response
        in state ``w`` (full revelation, obedient receiver).
    warmup_value : float
        What the warm-up scheme (the learner's full revelation) earns under ``mu`` with
        sender-preferred ties (``>= V_F``); ``L_W = opt - warmup_value``.
    v_min : float
        ``V_min = sum_w mu(w) min_a v(w, a)``: no scheme earns less.
    v_range : float
        ``V_rng = max v - min v``.
    v_osc : float
        ``V_osc = max_w (max_a v(w,a) - min_a v(w,a)) <= V_rng``.
    delta_u : float
        ``Delta = max_{w,a,a'} |u(w,a) - u(w,a')|``.
    gamma : float
        ``Gamma <= 2 Delta`` (module docstring).
    mu_min : float
        Smallest positive prior probability.
    eta_max : float
        Largest feasible strict margin (:func:`max_strict_margin`); ``inf`` possible.
    exempt_dominated : bool
    """

    opt: float
    full_revelation_value: float
    warmup_value: float
    v_min: float
    v_range: float
    v_osc: float
    delta_u: float
    gamma: float
    mu_min: float
    eta_max: float
    n_states: int
    n_actions: int
    exempt_dominated: bool = True

    @property
    def max_loss(self) -> float:
        """``OPT - V_min``: the largest per-round pseudo-regret of any scheme."""
        return max(0.0, self.opt - self.v_min)

    @property
    def warmup_loss(self) -> float:
        """``L_W = OPT - U(full revelation; mu)``, per warm-up round."""
        return max(0.0, self.opt - self.warmup_value)

    @property
    def full_revelation_gap(self) -> float:
        """``OPT - V_F``."""
        return max(0.0, self.opt - self.full_revelation_value)

    def eta_for(self, eps: float) -> float:
        """``eta(eps) = min(eps, 1) Gamma / mu_min``: the margin Lemma 2 needs."""
        return min(eps, 1.0) * self.gamma / self.mu_min


def instance_constants(game, *, exempt_dominated: bool = True) -> InstanceConstants:
    """Compute the constants of the bound for ``game`` (whose prior is the true one).

    ``OPT`` and ``eta_max`` come from the strict LP (:func:`strict_value`,
    :func:`max_strict_margin`); the rest are closed forms of the utilities and prior.
    """
    _check_game(game)
    mu = np.asarray(game.prior, dtype=float)
    V = np.asarray(game.sender_utility, dtype=float)
    U = np.asarray(game.receiver_utilities[0], dtype=float)
    opt = strict_value(game, 0.0, exempt_dominated=exempt_dominated)
    fr, _ = _robust_full_revelation(game)
    v_f = float(mu @ (np.asarray(fr) * V).sum(1))
    warm = evaluate_scheme(game, fr, tie_breaking="sender").sender_value
    return InstanceConstants(
        opt=float(opt), full_revelation_value=v_f, warmup_value=float(warm),
        v_min=float(mu @ V.min(1)), v_range=float(V.max() - V.min()),
        v_osc=float((V.max(1) - V.min(1)).max()),
        delta_u=float((U.max(1) - U.min(1)).max()),
        gamma=_gamma(game, exempt_dominated), mu_min=float(mu[mu > 0].min()),
        eta_max=max_strict_margin(game, exempt_dominated=exempt_dominated),
        n_states=game.n_states, n_actions=game.n_actions, exempt_dominated=exempt_dominated)


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
    _check_game(game)
    horizon = _check_horizon(horizon)
    delta, growth, warmup = _check_schedule(delta, growth, warmup)
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


# ------------------------------------------------------------------------ the rate
@dataclass
class RateConstant:
    """The closed-form rate (Theorem 2): ``ell_k <= C eps_k`` for every epoch, hence

        R_T <= W L_W + min( C S(T),  (T - W) (OPT - V_F) + V_osc S(T),  (T - W) L_max ),
        S(T) = 2 sqrt(g (T - 1)) sqrt(2 (ln(2^n - 2) + ln(K (K + 1) / delta))),
        K = 1 + log_g(T / W)   (an upper bound on the number of epochs before T).

    ``C = max(L Gamma / mu_min + V_osc, [L_max Gamma / (eta_bar mu_min)])`` (the bracket
    only when ``eta_bar < Gamma / mu_min``), with ``L`` from Lemma 3: ``OPT - OPT_eta <=
    L eta`` on ``[0, eta_bar]``, ``L = max(kappa, 1) (OPT - OPT_eta_bar) / eta_bar``.
    ``C = inf`` when no ``eta_bar > 0`` gives a finite ``L`` (irregular instances: no
    strict margin, or ``OPT_eta`` jumps at 0); the curve is then linear.
    """

    C: float
    L: float
    kappa: float
    eta_bar: float
    constants: InstanceConstants
    delta: float
    growth: float
    warmup: int
    candidates: list = field(default_factory=list)  # (eta_bar, L, kappa, C) tried

    def sum_eps(self, horizon, delta=None) -> np.ndarray:
        """``S(T) >= sum_k len_k(T) eps_k`` (closed form; ``delta="1/T"`` for ``1/T``)."""
        t = np.atleast_1d(np.asarray(horizon, dtype=float))
        n, g, w = self.constants.n_states, self.growth, self.warmup
        if delta is None:
            d = np.full(t.shape, self.delta)
        elif isinstance(delta, str) and delta == "1/T":
            d = 1.0 / np.maximum(t, 2.0)
        else:
            d = np.full(t.shape, float(delta))
        if n == 1:
            return np.zeros(t.shape)
        log_count = n * math.log(2.0) + math.log1p(-(2.0 ** (1 - n)))
        K = 1.0 + np.log(np.maximum(t / w, 1.0)) / math.log(g)
        rad = np.sqrt(2.0 * (log_count + np.log(K * (K + 1.0) / d)))
        return np.where(t > w, 2.0 * np.sqrt(g * np.maximum(t - 1.0, 0.0)) * rad, 0.0)

    def curve(self, horizon, delta=None) -> np.ndarray:
        """The closed-form high-probability bound at ``horizon`` (scalar or array).

        With ``delta="1/T"`` the confidence level is ``1/T`` at each ``T`` (the
        ``O(sqrt(T log T))`` regime, whose expected-regret cost is ``<= L_max``).
        """
        c = self.constants
        t = np.atleast_1d(np.asarray(horizon, dtype=float))
        S = self.sum_eps(t, delta)
        after = np.maximum(t - self.warmup, 0.0)
        with np.errstate(invalid="ignore"):
            rate = np.where(S > 0, self.C * S, 0.0) if math.isfinite(self.C) else np.full(
                t.shape, np.inf)
        fr = after * c.full_revelation_gap + c.v_osc * S
        out = np.minimum(t, self.warmup) * c.warmup_loss + np.minimum(
            np.minimum(rate, fr), after * c.max_loss)
        return out if np.ndim(horizon) else float(out[0])


def _kappa(game, c: InstanceConstants, m_bar: np.ndarray, tau: float) -> float:
    """``min max_a m*_a / m_bar_a`` over optimal (to ``tau``) margin-0 schemes ``x*``.

    One LP: variables ``x`` (signal-major, as in the signaling LP) and ``t``; maximise
    ``-t`` subject to the signaling LP's rows (exempt rows dropped), ``c @ x >= OPT -
    tau`` and ``sum_w x[w, a] <= t m_bar_a`` for every action with a non-exempt pair.
    ``inf`` if infeasible (an optimal scheme needs an action that no margin-``eta_bar``
    optimum uses).
    """
    base = _strict_lp(game, 0.0, c.exempt_dominated)
    n = game.n_states
    N = base.n_cols
    relevant = sorted({a for a, _, ex in _pairs(game) if not (ex and c.exempt_dominated)})
    cols_obj = np.flatnonzero(np.asarray(base.c) != 0)
    rows_idx = [cols_obj]
    rows_val = [np.asarray(base.c, dtype=float)[cols_obj]]
    lower = [c.opt - tau]
    upper = [np.inf]
    for a in relevant:
        idx = a * n + np.arange(n)
        if m_bar[a] > 0:
            rows_idx.append(np.append(idx, N))
            rows_val.append(np.append(np.ones(n), -m_bar[a]))
        else:
            rows_idx.append(idx)
            rows_val.append(np.ones(n))
        lower.append(-np.inf)
        upper.append(0.0)
    counts = np.array([r.size for r in rows_idx], dtype=np.int64)
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(counts)])
    lp = SparseLP(c=np.append(np.zeros(N), -1.0), indptr=indptr,
                  indices=np.concatenate([base.indices] + rows_idx),
                  data=np.concatenate([np.asarray(base.data, dtype=float)] + rows_val),
                  row_lower=np.concatenate([np.asarray(base.row_lower, float), lower]),
                  row_upper=np.concatenate([np.asarray(base.row_upper, float), upper]))
    try:
        sol = solve_lp(lp)
    except SolverError:
        return math.inf
    return max(0.0, float(sol.x[N]))


def rate_constant(game, *, delta: float = 0.05, growth: float = 2.0, warmup: int = 1,
                  eta_bar=None, constants=None, exempt_dominated: bool = True) -> RateConstant:
    """The constant ``C`` of the closed-form ``O(sqrt(T log T))`` bound (Theorem 2).

    Lemma 3 (mixing an optimal scheme with a margin-``eta_bar`` one) gives
    ``OPT - OPT_eta <= L eta`` for ``0 <= eta <= eta_bar`` with
    ``L = max(kappa, 1) (OPT - OPT_eta_bar) / eta_bar``, where ``kappa = max_a m*_a /
    m_bar_a`` compares the signal masses of an optimal scheme (chosen by an LP to make
    ``kappa`` smallest) and of the margin-``eta_bar`` optimum. Without ``eta_bar`` the
    smallest ``C`` over ``eta_bar in eta_top * {1/64, 1/16, 1/8, 1/4, 1/2, 3/4, 1}``,
    ``eta_top = min(eta_max, Gamma / mu_min)``, is kept (two LPs per candidate).
    """
    _check_game(game)
    delta, growth, warmup = _check_schedule(delta, growth, warmup)
    c = constants if constants is not None else instance_constants(
        game, exempt_dominated=exempt_dominated)
    tau = 1e-9 * max(1.0, abs(c.opt))
    top_needed = c.gamma / c.mu_min  # no epoch's eta exceeds it
    if c.gamma == 0:
        return RateConstant(C=c.v_osc, L=0.0, kappa=0.0, eta_bar=0.0, constants=c,
                            delta=delta, growth=growth, warmup=warmup)
    if eta_bar is not None:
        grid = [_check_eta(eta_bar)]
    else:
        top = min(c.eta_max, top_needed)
        grid = [top * f for f in (1 / 64, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4, 1.0)]
    best = None
    tried = []
    for eb in grid:
        if not eb > 0:
            continue
        sol = _solve_strict(game, eb, c.exempt_dominated)
        if sol is None:
            continue
        val, x = sol
        gap = c.opt - val
        if gap <= tau:
            L, kappa = 0.0, 0.0
        else:
            kappa = _kappa(game, c, x.sum(0), tau)
            L = max(kappa, 1.0) * gap / eb if math.isfinite(kappa) else math.inf
        C = L * c.gamma / c.mu_min + c.v_osc
        if eb < top_needed:
            C = max(C, c.max_loss * c.gamma / (eb * c.mu_min))
        tried.append((eb, L, kappa, C))
        if best is None or C < best[3]:
            best = (eb, L, kappa, C)
    if best is None:
        best = (0.0, math.inf, math.inf, math.inf)
    return RateConstant(C=best[3], L=best[1], kappa=best[2], eta_bar=best[0], constants=c,
                        delta=delta, growth=growth, warmup=warmup, candidates=tried)


def lower_bound_shape(horizon, c: float = 1.0):
    """Reference curve ``c sqrt(T)`` of the ``Omega(sqrt(T))`` lower bound of Zu, Iyer &
    Xu (shape only: the constant ``c`` is instance-specific and not computed here).

    ``horizon``: a round count or an array of them.
    """
    t = np.asarray(horizon, dtype=float)
    if (t < 0).any():
        raise GameValidationError("horizon", "expected non-negative round counts")
    out = float(c) * np.sqrt(t)
    return out if np.ndim(horizon) else float(out)
