"""Exact vertices of the receiver's best-response cells (double description method).

For one receiver with utility ``u`` the best-response cell of action ``a`` is

    P_a = { mu in simplex : (u[:, a] - u[:, a']) @ mu >= 0  for every a' != a }.

It is the section ``sum(mu) = 1`` of the pointed polyhedral cone

    C_a = { mu >= 0 : (u[:, a] - u[:, a']) @ mu >= 0  for every a' },

so the vertices of ``P_a`` are the extreme rays of ``C_a`` scaled to sum 1. For
receiver types, the cell of an action profile ``s = (s_1, ..., s_T)`` is the
intersection of the types' cells and is handled the same way.

Algorithm: the double description method of Motzkin et al. (1953) in the form of
Fukuda & Prodon, "Double description method revisited" (1996):

1. start from the cone ``mu >= 0`` whose extreme rays are the unit vectors
   ``e_1 .. e_n`` (each tight on the other ``n - 1`` non-negativity constraints);
2. add the constraints ``h @ mu >= 0`` one at a time: keep the rays with
   ``h @ r >= 0``; for every pair ``(p, q)`` with ``h@p > 0 > h@q`` that is
   *adjacent* -- no other ray is tight on every constraint that both are tight on
   (the combinatorial test) and they share at least ``n - 2`` tight constraints --
   add the new ray ``(h@p) q - (h@q) p``, which is tight on ``h``;
3. the rays left are the extreme rays of the cone.

All arithmetic is on Python integers (each constraint is scaled to integers; each ray
is divided by the gcd of its entries), so the vertices are exact rationals. Zero sets
are bit masks. The number of vertices can grow exponentially with the number of
states: ``max_vertices`` stops the enumeration with
:class:`~persuasion.errors.ProblemTooLargeError`; the signaling LP has no such limit.
"""

from __future__ import annotations

import math
from fractions import Fraction
from math import comb

from .errors import ProblemTooLargeError
from .exact import lcm_scale_to_int

__all__ = ["cone_extreme_rays", "polytope_vertices", "upper_bound_vertices"]


def upper_bound_vertices(dim: int, facets: int) -> int:
    """McMullen's upper bound on the vertices of a ``dim``-polytope with ``facets`` facets."""
    if dim <= 0:
        return 1
    if facets <= dim:
        return 0
    if dim == 1:
        return 2
    half_floor, half_ceil = dim // 2, (dim + 1) // 2
    return comb(facets - half_ceil, half_floor) + comb(facets - half_floor - 1, half_ceil - 1)


def _dot(h, r):
    return sum(a * b for a, b in zip(h, r) if a and b)


def _normalise(r):
    g = 0
    for v in r:
        if v:
            g = math.gcd(g, v)
            if g == 1:
                return tuple(r)
    if g > 1:
        return tuple(v // g for v in r)
    return tuple(r)


def cone_extreme_rays(n: int, constraints, *, max_rays: int | None = None) -> list[tuple[int, ...]]:
    """Extreme rays of ``{x in R^n : x >= 0, h @ x >= 0 for h in constraints}``.

    Parameters
    ----------
    n : int
        Dimension.
    constraints : iterable of sequences of int (or Fractions)
        Rows ``h``; each is scaled to integers.
    max_rays : int, optional
        Raise :class:`ProblemTooLargeError` when an intermediate ray set exceeds this.

    Returns
    -------
    list of tuple of int
        One primitive integer vector per extreme ray (the cone is pointed). Empty if the
        cone is ``{0}``.
    """
    rows = []
    for h in constraints:
        h = lcm_scale_to_int(h) if any(isinstance(v, Fraction) for v in h) else [int(v) for v in h]
        if len(h) != n:
            raise ValueError(f"constraint of length {len(h)} in dimension {n}")
        if any(h):
            rows.append(tuple(h))
    rows = list(dict.fromkeys(rows))  # duplicates change nothing
    full = (1 << n) - 1
    rays = [tuple(1 if j == i else 0 for j in range(n)) for i in range(n)]
    zsets = [full & ~(1 << i) for i in range(n)]
    need = n - 2  # adjacent rays share at least n - 2 tight constraints
    if max_rays is not None and len(rays) > max_rays:
        raise ProblemTooLargeError(
            f"vertex enumeration passed max_vertices={max_rays} "
            f"(dimension {n}, {len(rows)} constraints)")
    for k, h in enumerate(rows):
        bit = 1 << (n + k)
        vals = [_dot(h, r) for r in rays]
        pos = [i for i, v in enumerate(vals) if v > 0]
        neg = [i for i, v in enumerate(vals) if v < 0]
        new_rays = [rays[i] for i, v in enumerate(vals) if v >= 0]
        new_z = [zsets[i] | (bit if vals[i] == 0 else 0) for i, v in enumerate(vals) if v >= 0]
        if neg and pos:
            for p in pos:
                zp = zsets[p]
                for q in neg:
                    common = zp & zsets[q]
                    if common.bit_count() < need:
                        continue
                    adjacent = True
                    for r, zr in enumerate(zsets):
                        if r != p and r != q and (zr & common) == common:
                            adjacent = False
                            break
                    if not adjacent:
                        continue
                    hp, hq = vals[p], vals[q]
                    ray = tuple(hp * b - hq * a for a, b in zip(rays[p], rays[q]))
                    new_rays.append(_normalise(ray))
                    new_z.append(common | bit)
                    if max_rays is not None and len(new_rays) > max_rays:
                        raise ProblemTooLargeError(
                            f"vertex enumeration passed max_vertices={max_rays} "
                            f"(dimension {n}, {len(rows)} constraints)")
        rays, zsets = new_rays, new_z
        if not rays:
            return []
        if max_rays is not None and len(rays) > max_rays:
            raise ProblemTooLargeError(
                f"vertex enumeration passed max_vertices={max_rays} "
                f"(dimension {n}, {len(rows)} constraints)")
    return list(dict.fromkeys(rays))


def polytope_vertices(n: int, constraints, *, max_vertices: int | None = None) -> list[tuple[Fraction, ...]]:
    """Exact vertices of ``{mu in simplex : h @ mu >= 0 for h in constraints}``."""
    out = []
    for ray in cone_extreme_rays(n, constraints, max_rays=max_vertices):
        total = sum(ray)
        out.append(tuple(Fraction(v, total) for v in ray))
    return out
