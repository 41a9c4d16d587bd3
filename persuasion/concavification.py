"""Concavification for two states, exactly and geometrically (for teaching).

With states ``(w0, w1)`` a belief is the number ``p = P(w1)`` in ``[0, 1]``. The
receiver's expected utility of action ``a`` is linear in ``p``, so his best response
changes only at *indifference points* where two actions' lines cross. Between two
consecutive breakpoints the best response set is constant and the sender's value
``V(p)`` is linear; at a breakpoint, sender-preferred tie-breaking makes ``V`` upper
semicontinuous, so each linear piece lies below the chord of the values at its ends.

Steps (independent of the LP code, all in exact rationals):

1. breakpoints = ``{0, 1}`` plus every crossing in ``(0, 1)`` of two actions'
   receiver-utility lines (for every type);
2. ``V`` at each breakpoint from the best responses there (sender-preferred);
3. ``cav V`` = the upper concave hull of the points ``(p, V(p))`` (Andrew's monotone
   chain);
4. at the prior ``p0``, the hull segment ``[p_L, p_R]`` containing ``p0`` gives the
   optimal split: posteriors ``p_L`` and ``p_R`` with weights
   ``(p_R - p0)/(p_R - p_L)`` and ``(p0 - p_L)/(p_R - p_L)``; if ``p0`` is a hull vertex,
   or ``V(p0) = cav V(p0)`` (the prior on a flat piece that V touches), revealing
   nothing is optimal and is returned (``unique = False`` in the second case).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import GameValidationError
from .result import STATUS_CERTIFIED
from .scheme import result_from_joint

__all__ = ["ValueFunction", "value_function", "solve_concavification"]


@dataclass
class ValueFunction:
    """The sender's value function on ``[0, 1]`` (two states) and its concave closure."""

    breakpoints: list  # exact p
    values: list  # exact V(p) at breakpoints
    profiles: list  # action profile chosen at each breakpoint
    pieces: list  # (p_left, p_right, profile) linear pieces on open intervals
    hull: list  # [(p, V)] vertices of cav V, increasing p
    game: object

    def V(self, p: float) -> float:
        """Sender-preferred value at belief ``p`` (float)."""
        mu = np.array([1 - p, p])
        g = self.game
        total = 0.0
        for t in range(g.n_types):
            rec = mu @ g.receiver_utilities[t]
            best = np.flatnonzero(rec >= rec.max() - 1e-12)
            sv = mu @ g.sender_utility
            total += g.type_probabilities[t] * sv[best].max()
        return float(total)

    def cav(self, p) -> np.ndarray:
        """Concave closure at ``p`` (array-like of floats)."""
        xs = [float(x) for x, _ in self.hull]
        ys = [float(y) for _, y in self.hull]
        return np.interp(p, xs, ys)


def _best_profile(game, p: Fraction):
    mu = (1 - p, p)
    V = game.sender_utility_exact
    U = game.receiver_utilities_exact
    prof, total = [], Fraction(0)
    for t in range(game.n_types):
        rec = [mu[0] * U[t][0, a] + mu[1] * U[t][1, a] for a in range(game.n_actions)]
        top = max(rec)
        best = [a for a in range(game.n_actions) if rec[a] == top]
        sv = [mu[0] * V[0, a] + mu[1] * V[1, a] for a in best]
        k = max(range(len(best)), key=lambda i: (sv[i], -best[i]))
        prof.append(best[k])
        total += game.type_probabilities_exact[t] * sv[k]
    return tuple(prof), total


def _upper_hull(points):
    """Upper concave hull of points sorted by x (monotone chain), exact."""
    hull = []
    for p in points:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # drop the middle point if it lies on or below the chord from hull[-2] to p
            if (y2 - y1) * (p[0] - x1) <= (p[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(p)
    return hull


def _hull_value(hull, p: Fraction) -> Fraction:
    """Exact cav V(p) by linear interpolation between hull vertices."""
    for (x0, y0), (x1, y1) in zip(hull[:-1], hull[1:]):
        if x0 <= p <= x1:
            return y0 + (y1 - y0) * (p - x0) / (x1 - x0)
    return hull[-1][1] if p == hull[-1][0] else hull[0][1]


def value_function(game) -> ValueFunction:
    """Exact value function and concave closure of a two-state game."""
    if game.n_states != 2:
        raise GameValidationError(
            "method", f"concavification is for games with 2 states; this game has "
                      f"{game.n_states}: use method 'posterior' or 'signaling'")
    U = game.receiver_utilities_exact
    pts = {Fraction(0), Fraction(1)}
    for t in range(game.n_types):
        for a in range(game.n_actions):
            for b in range(a + 1, game.n_actions):
                # (1-p) d0 + p d1 = 0, d = u[:,a] - u[:,b]
                d0 = U[t][0, a] - U[t][0, b]
                d1 = U[t][1, a] - U[t][1, b]
                if d0 != d1:
                    p = d0 / (d0 - d1)
                    if 0 < p < 1:
                        pts.add(p)
    bps = sorted(pts)
    profiles, values = [], []
    for p in bps:
        prof, val = _best_profile(game, p)
        profiles.append(prof)
        values.append(val)
    pieces = []
    for lo, hi in zip(bps[:-1], bps[1:]):
        prof, _ = _best_profile(game, (lo + hi) / 2)
        pieces.append((lo, hi, prof))
    hull = _upper_hull(list(zip(bps, values)))
    return ValueFunction(bps, values, profiles, pieces, hull, game)


def solve_concavification(game):
    """Solve a two-state game by exact concavification (see the module docstring).

    The result is exact by construction (``certified=True``): the optimum is the
    concave closure evaluated in rational arithmetic. ``details["_value_function"]``
    holds the :class:`ValueFunction` (keys starting with ``_`` are left out of JSON) used by :func:`persuasion.plots.plot_concavification`.
    """
    t0 = time.perf_counter()
    vf = value_function(game)
    p0 = game.prior_exact[1]
    idx = {p: i for i, p in enumerate(vf.breakpoints)}
    hull_x = [x for x, _ in vf.hull]
    _, v_at_prior = _best_profile(game, p0)
    unique = None
    if p0 in hull_x:
        split = [(p0, Fraction(1))]
    elif v_at_prior == _hull_value(vf.hull, p0):
        # the prior lies on a flat piece of cav V where V itself touches the hull:
        # revealing nothing is optimal, and so is splitting to the piece's ends
        split = [(p0, Fraction(1))]
        unique = False
    else:
        j = next(i for i in range(1, len(hull_x)) if hull_x[i] > p0)
        pl, pr = hull_x[j - 1], hull_x[j]
        split = [(pl, (pr - p0) / (pr - pl)), (pr, (p0 - pl) / (pr - pl))]
    value_exact = Fraction(0)
    joint_exact = np.empty((2, len(split)), dtype=object)
    profiles = []
    for k, (p, weight) in enumerate(split):
        if p in idx:
            prof, val = vf.profiles[idx[p]], vf.values[idx[p]]
        else:  # the prior itself, not a breakpoint
            prof, val = _best_profile(game, p)
        profiles.append(prof)
        value_exact += weight * val
        joint_exact[0, k] = weight * (1 - p)
        joint_exact[1, k] = weight * p
    details = {"breakpoints": vf.breakpoints, "hull": [list(h) for h in vf.hull],
               "seconds_total": time.perf_counter() - t0}
    res = result_from_joint(game, "concavification", joint_exact.astype(float), profiles,
                            value=float(value_exact), details=details, joint_exact=joint_exact,
                            status=STATUS_CERTIFIED, message="optimal, exact by construction")
    res.value_exact = value_exact
    res.certified = True
    res.unique = unique
    res.details["_value_function"] = vf
    return res
