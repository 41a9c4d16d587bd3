"""Exact rescaling of a game's utilities before anything becomes a float.

The optimal schemes of a persuasion game do not change when

* the receiver's utility of a type is shifted by a per-state constant,
  ``u_t(w, a) -> u_t(w, a) - c_t(w)`` (every obedience constraint compares two actions
  in the same state, so the constant cancels), or scaled by a positive factor
  ``u_t -> u_t / k_t``;
* the sender's utility is shifted by a per-state constant ``v(w, a) -> v(w, a) - d(w)``
  (the value moves by the constant ``sum_w mu0(w) d(w)``, because every scheme sends
  some signal in every state) or scaled by ``k > 0`` (the value scales by ``k``).

Solvers in floating point see only differences of utilities, and a game whose receiver
utilities are ``1e6 + 1e-12 x`` (or ``1e-400 x``, a valid rational that is 0 as a double)
loses everything in the conversion to floats. So the solvers first map the game, **in
exact rationals**, to utilities in ``[0, 2)`` per state and type:

1. ``c_t(w) = min_a u_t(w, a)`` and ``d(w) = min_a v(w, a)``;
2. ``k_t`` (``k``) is the power of two with ``k <= max_w range(w) < 2k`` (1 if every range
   is 0): a power of two keeps the denominators of the exact data small;
3. the float LP is built from the rescaled data (each entry correctly rounded from its
   exact value), and the sender's value is mapped back, exactly for certified values.

:func:`scale_game` returns the maps and both views (exact and float).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = ["GameScaling", "scale_game", "scale_utilities"]


def _power_of_two_below(x: Fraction) -> Fraction:
    """The power of two ``2^e`` with ``2^e <= x < 2^(e+1)`` (``x > 0``)."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    p = Fraction(2) ** e
    if p > x:
        p /= 2
    elif 2 * p <= x:
        p *= 2
    return p


def _to_float(exact: np.ndarray) -> np.ndarray:
    out = np.fromiter((float(v) for v in exact.flat), dtype=float, count=exact.size)
    return out.reshape(exact.shape)


def scale_utilities(exact: np.ndarray):
    """Rescale one utility matrix ``[state][action]`` of Fractions as in step 1-2.

    Returns ``(scaled_exact, shift, factor)`` with ``exact = factor * scaled + shift[:, None]``
    exactly, entries of ``scaled`` in ``[0, 2)``.

    >>> s, c, k = scale_utilities(np.array([[Fraction(10**6) + Fraction(1, 10**12), Fraction(10**6)]],
    ...                                    dtype=object))
    >>> c[0], k, [float(x) for x in s[0]]   # k = 2^-40 <= 1e-12 < 2^-39
    (Fraction(1000000, 1), Fraction(1, 1099511627776), [1.099511627776, 0.0])
    """
    n, m = exact.shape
    shift = np.array([min(exact[w]) for w in range(n)], dtype=object)
    spread = max((max(exact[w]) - shift[w] for w in range(n)), default=Fraction(0))
    factor = _power_of_two_below(spread) if spread > 0 else Fraction(1)
    scaled = np.empty((n, m), dtype=object)
    for w in range(n):
        cw = shift[w]
        scaled[w] = [(x - cw) / factor for x in exact[w]]
    return scaled, shift, factor


#: Largest ratio ``max |u| / range`` at which the rescaling is done in floats: a float
#: subtraction then loses at most 12 of 53 bits (relative error below 5e-13 of the range).
FLOAT_SAFE_RATIO = 2.0 ** 12


def _float_scale(f: np.ndarray):
    """Float version of :func:`scale_utilities` (exact except for the subtraction)."""
    shift = f.min(axis=1)
    spread = float((f.max(axis=1) - shift).max()) if f.size else 0.0
    if spread > 0:
        mant, e = np.frexp(spread)  # spread = mant * 2^e, mant in [0.5, 1)
        factor = float(np.ldexp(1.0, int(e) - 1))
    else:
        factor = 1.0
    return (f - shift[:, None]) / factor, shift, factor, spread


def _float_safe(f: np.ndarray, spread: float, exact: np.ndarray | None) -> bool:
    """Whether the float rescaling of ``f`` is as good as the exact one (see module).
    ``exact`` is None when the data were given as floats (their exact values are the
    floats' decimals, so the float rescaling is as exact as the data)."""
    if exact is None:
        return True
    peak = float(np.abs(f).max()) if f.size else 0.0
    if spread == 0.0:
        return peak == 0.0 and not any(x != 0 for x in exact.flat)
    if peak > FLOAT_SAFE_RATIO * spread or spread < 1e-290 or peak > 1e300:
        return False
    tiny = (np.abs(f) < 1e-290)  # zeros and subnormals: exact zeros only
    return not any(x != 0 for x in exact[tiny])


@dataclass(frozen=True)
class GameScaling:
    """The maps of :func:`scale_game` and the rescaled float data.

    Attributes
    ----------
    sender : ndarray (n, m)
        Rescaled sender utility ``(v - d[:, None]) / k``, as floats.
    receivers : ndarray (T, n, m)
        Rescaled receiver utilities, per type, as floats.
    sender_shift : ndarray (n,)
        ``d(w)`` (float).
    sender_factor : float
        ``k`` (a power of two).
    value_shift : float
        ``sum_w mu0(w) d(w)``: the original value is ``k * value + value_shift``.
    exact : bool
        Whether the rescaling was done in exact rationals (the data were exact and
        their float conversion would have lost precision) or in floats (float data, or
        well-scaled exact data: :data:`FLOAT_SAFE_RATIO`).
    finest_difference : float
        The smallest non-zero difference between two actions' rescaled receiver
        utilities in one state, over all types (``inf`` if there is none): a preference
        this fine relative to the range is below what a float solver with tolerances can
        resolve (:mod:`persuasion.verified_lp` then verifies exactly or refuses).
    """

    sender: np.ndarray
    receivers: np.ndarray
    sender_shift: np.ndarray
    sender_factor: float
    receiver_factors: tuple
    value_shift: float
    exact: bool
    finest_difference: float

    def value(self, scaled_value: float) -> float:
        """The original game's value from a value of the rescaled game."""
        return self.sender_factor * float(scaled_value) + self.value_shift


def _scale_one(nums):
    """Rescale one validated matrix (a ``persuasion.game_fields.Numbers``): floats where safe, else exactly.
    Returns ``(scaled, shift, factor, exact_shift or None)``."""
    f = np.asarray(nums.float, dtype=float)
    scaled, shift, factor, spread = _float_scale(f)
    if _float_safe(f, spread, None if nums.floats_suffice else nums.exact):
        return scaled, shift, factor, None
    se, ce, ke = scale_utilities(nums.exact)
    return _to_float(se), _to_float(ce), float(ke), ce


def scale_game(game) -> GameScaling:
    """Rescale ``game``'s utilities (see the module docstring): in floats where that
    loses nothing, else exactly."""
    v, d, k, d_exact = _scale_one(game._v)
    T, n, m = game.n_types, game.n_states, game.n_actions
    U = np.empty((T, n, m))
    factors, used_exact = [], d_exact is not None
    for t in range(T):
        ut, _, kt, ce = _scale_one(game._u[t])
        U[t] = ut
        factors.append(kt)
        used_exact |= ce is not None
    if d_exact is not None:
        value_shift = float(sum((p * dw for p, dw in zip(game.prior_exact, d_exact)),
                                Fraction(0)))
    else:
        value_shift = float(np.dot(game.prior, d))
    v.flags.writeable = False
    U.flags.writeable = False
    return GameScaling(sender=v, receivers=U, sender_shift=np.asarray(d, dtype=float),
                       sender_factor=float(k), receiver_factors=tuple(factors),
                       value_shift=value_shift, exact=used_exact,
                       finest_difference=_finest_difference(U))


def _finest_difference(U: np.ndarray) -> float:
    """Smallest positive gap between sorted utilities within a state (all types)."""
    if U.shape[-1] < 2:
        return float("inf")
    gaps = np.diff(np.sort(U, axis=-1), axis=-1)
    pos = gaps[gaps > 0]
    return float(pos.min()) if pos.size else float("inf")
