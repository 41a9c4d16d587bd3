"""The strict (margin-``eta``) signaling LP and the instance's constants.

The quantities of ``docs/theory.md`` that depend on the game alone, shared by the
regret bound (:mod:`theory.bounds`, Theorem 1) and its closed-form rate
(:mod:`theory.rate`, Theorem 2): ``OPT_eta`` (:func:`strict_value`), the scheme
``pi_eta`` of Lemma 2 (:func:`strict_scheme`), ``eta_max`` (:func:`max_strict_margin`)
and the constants ``OPT, V_F, L_W, V_min, V_rng, V_osc, Delta, Gamma, mu_min``
(:func:`instance_constants`); and the checks of the settings both theorems take.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from persuasion.checks import check_int
from persuasion.errors import GameValidationError, SolverError
from persuasion.highs import SparseLP, solve_lp
from persuasion.robust import full_revelation_scheme as _robust_full_revelation
from persuasion.scheme import evaluate_scheme
from persuasion.signaling_lp import action_profiles, build_signaling_lp

__all__ = ["InstanceConstants", "instance_constants", "strict_value", "strict_scheme",
           "max_strict_margin", "MARGIN_CHECK_TOL", "strict_lp", "solve_strict",
           "obedience_pairs", "check_game", "check_eta", "check_schedule"]


# --------------------------------------------------------------------------- checks
def check_game(game):
    needed = ("n_states", "n_actions", "n_types", "prior", "sender_utility",
              "receiver_utilities")
    if not all(hasattr(game, a) for a in needed):
        raise GameValidationError("game", f"expected a Game, got {type(game).__name__}")
    if game.n_types != 1:
        raise GameValidationError(
            "game", "the regret bound covers one receiver only; receiver-types games "
                    f"({game.n_types} types) are not covered (see docs/theory.md, remarks)")


def check_eta(eta) -> float:
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real):
        raise GameValidationError("eta", f"expected a finite number >= 0, got {eta!r}")
    eta = float(eta)
    if not math.isfinite(eta) or eta < 0:
        raise GameValidationError("eta", f"expected a finite number >= 0, got {eta!r}")
    return eta


def check_schedule(delta, growth, warmup):
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not 0 < delta < 1:
        raise GameValidationError("delta", f"expected a number in (0, 1), got {delta!r}")
    if isinstance(growth, bool) or not isinstance(growth, numbers.Real) or not growth > 1:
        raise GameValidationError("growth", f"expected a number > 1, got {growth!r}")
    return float(delta), float(growth), check_int(warmup, "warmup")


# --------------------------------------------------------------------- receiver pairs
def obedience_pairs(game):
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
    for a, b, exempt in obedience_pairs(game):
        if exempt and exempt_dominated:
            continue
        d = U[:, a] - U[:, b]
        g = max(g, float(max(d.max(), 0.0) + max((-d).max(), 0.0)))
    return g


# ------------------------------------------------------------------------ strict LP
def strict_lp(game, eta: float, exempt_dominated: bool) -> SparseLP:
    """``build_signaling_lp(..., margin=eta)`` with the exempt pairs' rows dropped."""
    profiles = action_profiles(game.n_actions, 1)
    lp = build_signaling_lp(game.prior, game.sender_utility, game.receiver_utilities,
                            game.type_probabilities, profiles, margin=eta)
    if exempt_dominated:
        n = game.n_states
        lower = np.array(lp.row_lower, dtype=float)
        for i, (_, _, exempt) in enumerate(obedience_pairs(game)):
            if exempt:
                lower[n + i] = -np.inf  # implied by x >= 0: u(., a) >= u(., a')
        lp.row_lower = lower
    return lp


#: Largest violation of a margin row (times ``max(1, Delta)``) accepted from the solver.
#: HiGHS accepts rows violated by up to 1e-7, which would make tiny margins look
#: feasible where none exists (e.g. between receiver-identical actions); the solution
#: is re-checked against this much smaller tolerance.
MARGIN_CHECK_TOL = 1e-9


def solve_strict(game, eta: float, exempt_dominated: bool):
    """(value, joint x[w, a]) of the margin-``eta`` LP, or None if it is infeasible
    (HiGHS says so, or its solution violates a margin row by more than
    ``MARGIN_CHECK_TOL * max(1, Delta)``)."""
    lp = strict_lp(game, eta, exempt_dominated)
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
    check_game(game)
    eta = check_eta(eta)
    sol = solve_strict(game, eta, exempt_dominated)
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
    check_game(game)
    eta = check_eta(eta)
    sol = solve_strict(game, eta, exempt_dominated)
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
    check_game(game)
    U = np.asarray(game.receiver_utilities[0], dtype=float)
    delta_u = float((U.max(1) - U.min(1)).max())
    if solve_strict(game, 2.0 * delta_u + 1.0, exempt_dominated) is not None:
        return math.inf
    if solve_strict(game, 0.0, exempt_dominated) is None:  # cannot happen: OPT exists
        raise SolverError("the signaling LP is infeasible")
    lo, hi = 0.0, max(delta_u, 1e-300)
    if solve_strict(game, hi, exempt_dominated) is not None:
        return hi
    while hi - lo > rtol * max(delta_u, 1e-300):
        mid = 0.5 * (lo + hi)
        if solve_strict(game, mid, exempt_dominated) is None:
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
    check_game(game)
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
