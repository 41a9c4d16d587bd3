"""The closed-form rate of the robust learner's regret bound (Theorem 2 of
``docs/theory.md``): ``R_T <= W L_W + C S(T)`` with ``S(T) = O(sqrt(T (n + log(1/delta)
+ log log T)))``, and the shape of the ``Omega(sqrt(T))`` lower bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from persuasion.errors import GameValidationError, SolverError
from persuasion.highs import SparseLP, solve_lp

from .margins import (InstanceConstants, check_eta, check_game, check_schedule,
                      instance_constants, obedience_pairs, solve_strict, strict_lp)

__all__ = ["RateConstant", "rate_constant", "lower_bound_shape"]


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
    base = strict_lp(game, 0.0, c.exempt_dominated)
    n = game.n_states
    N = base.n_cols
    relevant = sorted({a for a, _, ex in obedience_pairs(game)
                       if not (ex and c.exempt_dominated)})
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
    check_game(game)
    delta, growth, warmup = check_schedule(delta, growth, warmup)
    c = constants if constants is not None else instance_constants(
        game, exempt_dominated=exempt_dominated)
    tau = 1e-9 * max(1.0, abs(c.opt))
    top_needed = c.gamma / c.mu_min  # no epoch's eta exceeds it
    if c.gamma == 0:
        return RateConstant(C=c.v_osc, L=0.0, kappa=0.0, eta_bar=0.0, constants=c,
                            delta=delta, growth=growth, warmup=warmup)
    if eta_bar is not None:
        grid = [check_eta(eta_bar)]
    else:
        top = min(c.eta_max, top_needed)
        grid = [top * f for f in (1 / 64, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4, 1.0)]
    best = None
    tried = []
    for eb in grid:
        if not eb > 0:
            continue
        sol = solve_strict(game, eb, c.exempt_dominated)
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
