"""Exact vertex enumeration (double description) against an independent brute force.

The brute force follows the definition of a vertex of
``P = {mu >= 0, sum(mu) = 1, h @ mu >= 0 for h in H}``: a feasible point where ``sum = 1``
and ``n - 1`` of the inequalities are tight and the ``n x n`` system is non-singular.
It enumerates every subset of ``n - 1`` rows among the non-negativity rows and ``H``,
solves the system with Fractions, keeps the feasible solutions and removes duplicates.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persuasion import ProblemTooLargeError
from persuasion.posterior_lp import candidate_posteriors
from persuasion.vertices import cone_extreme_rays, polytope_vertices, upper_bound_vertices


# ------------------------------------------------------------------ brute force
def solve_exact(A, b):
    """Solve the square system A x = b with Fractions; None if A is singular."""
    n = len(A)
    M = [[F(v) for v in row] + [F(bi)] for row, bi in zip(A, b)]
    for col in range(n):
        piv = next((r for r in range(col, n) if M[r][col] != 0), None)
        if piv is None:
            return None
        M[col], M[piv] = M[piv], M[col]
        for r in range(n):
            if r != col and M[r][col] != 0:
                f = M[r][col] / M[col][col]
                M[r] = [a - f * c for a, c in zip(M[r], M[col])]
    return tuple(M[i][n] / M[i][i] for i in range(n))


def brute_force_vertices(n, constraints):
    H = [tuple(F(v) for v in h) for h in constraints]
    rows = [tuple(F(int(i == j)) for j in range(n)) for i in range(n)] + H
    out = set()
    for subset in itertools.combinations(range(len(rows)), n - 1):
        A = [[F(1)] * n] + [rows[i] for i in subset]
        mu = solve_exact(A, [1] + [0] * (n - 1))
        if mu is None:
            continue
        if all(v >= 0 for v in mu) and all(sum(a * b for a, b in zip(h, mu)) >= 0 for h in H):
            out.add(mu)
    return out


def affine_dimension(points):
    """Dimension of the affine hull of exact points (rank of the differences)."""
    if not points:
        return -1
    p0 = points[0]
    rows = [[a - b for a, b in zip(p, p0)] for p in points[1:]]
    rank = 0
    ncols = len(p0)
    for col in range(ncols):
        piv = next((r for r in range(rank, len(rows)) if rows[r][col] != 0), None)
        if piv is None:
            continue
        rows[rank], rows[piv] = rows[piv], rows[rank]
        for r in range(len(rows)):
            if r != rank and rows[r][col] != 0:
                f = rows[r][col] / rows[rank][col]
                rows[r] = [a - f * c for a, c in zip(rows[r], rows[rank])]
        rank += 1
    return rank


def test_brute_force_itself():
    # the simplex, a cut simplex and an empty set, by hand
    assert brute_force_vertices(2, []) == {(1, 0), (0, 1)}
    assert brute_force_vertices(2, [(-1, 1)]) == {(F(1, 2), F(1, 2)), (0, 1)}
    assert brute_force_vertices(3, [(-1, -1, -1)]) == set()
    assert brute_force_vertices(1, []) == {(1,)}
    assert brute_force_vertices(1, [(-1,)]) == set()


# --------------------------------------------------------------------- strategies
@st.composite
def cells(draw, max_n=5, max_constraints=6, fractions=False):
    """(n, constraints): small integer rows, with zero rows and duplicates mixed in."""
    n = draw(st.integers(1, max_n))
    entry = st.integers(-3, 3)
    row = st.tuples(*[entry] * n)
    base = draw(st.lists(row, max_size=max_constraints))
    rows = list(base)
    if draw(st.booleans()):
        rows.append((0,) * n)  # a zero row: no constraint at all
    if rows and draw(st.booleans()):
        k = draw(st.integers(0, len(rows) - 1))
        scale = draw(st.sampled_from([1, 1, 2, 3]))
        rows.append(tuple(scale * v for v in rows[k]))  # a duplicate (maybe scaled)
    rows = draw(st.permutations(rows)) if rows else rows
    rows = rows[:max_constraints + 2]
    if fractions:
        dens = draw(st.lists(st.integers(1, 5), min_size=len(rows), max_size=len(rows)))
        rows = [tuple(F(v, d) for v in r) for r, d in zip(rows, dens)]
    return n, [list(r) for r in rows]


# ----------------------------------------------------------------- random cells
@given(cells())
def test_polytope_vertices_match_brute_force(cell):
    n, H = cell
    got = polytope_vertices(n, H)
    assert len(got) == len(set(got)), "duplicate vertices"
    assert set(got) == brute_force_vertices(n, H)
    for mu in got:
        assert all(isinstance(v, F) for v in mu)
        assert sum(mu) == 1


@given(cells(fractions=True))
def test_fraction_constraints(cell):
    n, H = cell
    assert set(polytope_vertices(n, H)) == brute_force_vertices(n, H)


@given(cells())
def test_cone_extreme_rays_are_primitive_and_match(cell):
    n, H = cell
    rays = cone_extreme_rays(n, H)
    assert len(rays) == len(set(rays))
    for r in rays:
        assert len(r) == n
        assert all(isinstance(v, int) and v >= 0 for v in r)
        assert any(r)
        assert math.gcd(*r) == 1  # primitive
        assert all(sum(h[i] * r[i] for i in range(n)) >= 0 for h in H)
    scaled = {tuple(F(v, sum(r)) for v in r) for r in rays}
    assert scaled == brute_force_vertices(n, H)


@given(cells(), st.data())
def test_positive_scaling_and_reordering_change_nothing(cell, data):
    n, H = cell
    scales = data.draw(st.lists(st.integers(1, 4), min_size=len(H), max_size=len(H)))
    H2 = [[s * v for v in h] for h, s in zip(H, scales)]
    H2 = data.draw(st.permutations(H2)) if H2 else H2
    assert set(polytope_vertices(n, H2)) == set(polytope_vertices(n, H))


@given(cells())
def test_vertex_count_within_mcmullen_bound(cell):
    n, H = cell
    verts = polytope_vertices(n, H)
    d = affine_dimension(verts)
    if d < 0:
        return
    # a d-polytope cut out by f inequalities has at most f facets, so at most
    # upper_bound_vertices(d, f) vertices (the bound grows with f)
    f = n + len(H)
    assert len(verts) <= upper_bound_vertices(d, f)


@given(cells(), st.data())
def test_max_vertices_refuses_larger_polytopes(cell, data):
    n, H = cell
    verts = polytope_vertices(n, H)
    if verts:
        limit = data.draw(st.integers(0, len(verts) - 1))
        with pytest.raises(ProblemTooLargeError, match=f"max_vertices={limit}"):
            polytope_vertices(n, H, max_vertices=limit)


# ----------------------------------------------------------------- known cells
def test_prosecutor_cells():
    # receiver utility [[1, 0], [0, 1]]: convict iff P(guilty) >= 1/2
    convict = polytope_vertices(2, [[0 - 1, 1 - 0]])  # u[:, convict] - u[:, acquit]
    assert set(convict) == {(F(1, 2), F(1, 2)), (F(0), F(1))}
    acquit = polytope_vertices(2, [[1, -1]])
    assert set(acquit) == {(F(1), F(0)), (F(1, 2), F(1, 2))}
    assert cone_extreme_rays(2, [[-1, 1]]) in ([(1, 1), (0, 1)], [(0, 1), (1, 1)])


def test_whole_simplex():
    for n in range(1, 6):
        expected = {tuple(F(int(i == j)) for j in range(n)) for i in range(n)}
        assert set(polytope_vertices(n, [])) == expected
        assert set(polytope_vertices(n, [[0] * n, [1] * n])) == expected


def test_empty_cells():
    assert polytope_vertices(3, [[-1, -1, -1]]) == []
    assert polytope_vertices(2, [[-1, 1], [1, -3]]) == []  # p >= 1/2 and p <= 1/4
    assert cone_extreme_rays(3, [[-1, -2, 0]] * 2 + [[0, 0, -1]]) == []
    assert polytope_vertices(1, [[-2]]) == []


def test_equality_constraint():
    # h and -h: the indifference line mu0 = mu1 inside the triangle
    got = set(polytope_vertices(3, [[1, -1, 0], [-1, 1, 0]]))
    assert got == {(F(1, 2), F(1, 2), F(0)), (F(0), F(0), F(1))}


def test_hexagon_attains_the_bound():
    # mu_i <= 2/3 (i.e. 2 sum(mu) - 3 mu_i >= 0) cuts the three corners of the triangle:
    # a hexagon, a simple 2-polytope with 6 facets and 6 = upper_bound_vertices(2, 6) vertices
    H = [[-1, 2, 2], [2, -1, 2], [2, 2, -1]]
    got = set(polytope_vertices(3, H))
    expected = {p for p in itertools.permutations((F(2, 3), F(1, 3), F(0)))}
    assert got == expected and len(got) == 6 == upper_bound_vertices(2, 6)


def test_truncated_tetrahedron_attains_the_bound():
    # mu_i <= 2/3 in the 3-simplex: the truncated tetrahedron (simple, 8 facets, 12
    # vertices = upper_bound_vertices(3, 8) = 2*8 - 4)
    H = [[2 if j != i else -1 for j in range(4)] for i in range(4)]
    got = set(polytope_vertices(4, H))
    expected = set(itertools.permutations((F(2, 3), F(1, 3), F(0), F(0))))
    assert got == expected and len(got) == 12 == upper_bound_vertices(3, 8)
    with pytest.raises(ProblemTooLargeError, match="max_vertices=11"):
        polytope_vertices(4, H, max_vertices=11)


def test_constraint_of_wrong_length():
    with pytest.raises(ValueError, match="length 3 in dimension 2"):
        cone_extreme_rays(2, [[1, 0, 0]])


@pytest.mark.parametrize("H", [[], [[0, 0, 0]]])
def test_max_vertices_without_constraints(H):
    # the n unit vectors are already more than the limit (regression: the limit used to
    # be checked only inside the loop over the non-zero constraints)
    with pytest.raises(ProblemTooLargeError, match="max_vertices=1"):
        polytope_vertices(3, H, max_vertices=1)
    assert len(polytope_vertices(3, H, max_vertices=3)) == 3


# ---------------------------------------------------------------- McMullen bound
@pytest.mark.parametrize("d,f,expected", [
    (0, 5, 1), (1, 2, 2), (1, 7, 2), (2, 3, 3), (2, 10, 10), (3, 4, 4), (3, 6, 8),
    (3, 8, 12), (3, 10, 16), (4, 5, 5), (4, 8, 20), (5, 6, 6), (2, 2, 0),
])
def test_upper_bound_known_values(d, f, expected):
    # d = 2: polygons (f vertices); d = 3: 2f - 4; the simplex (f = d + 1): d + 1;
    # 4-d: f(f - 3)/2 (the dual cyclic polytope); 3-cube: 8
    assert upper_bound_vertices(d, f) == expected


@settings(max_examples=40)
@given(st.data())
def test_candidate_counts_within_bound(game_specs, data):
    spec = data.draw(game_specs(n_states=(1, 4), n_actions=(1, 4), n_types=(1, 2)))
    g = spec.game()
    posts, profiles, values, stats = candidate_posteriors(g)
    assert stats["vertex_count"] <= stats["upper_bound"]
    assert stats["distinct"] == len(posts) <= stats["vertex_count"]
    assert stats["nonempty_cells"] <= stats["cells"] == g.n_actions ** g.n_types
    # every candidate is a probability vector on which its label is a best response
    for mu, prof, w in zip(posts, profiles, values):
        assert sum(mu) == 1 and min(mu) >= 0
        for t, a in enumerate(prof):
            u = g.receiver_utilities_exact[t]
            pay = [sum(mu[i] * u[i, b] for i in range(g.n_states)) for b in range(g.n_actions)]
            assert pay[a] == max(pay)
        assert w == sum(g.type_probabilities_exact[t]
                        * sum(mu[i] * g.sender_utility_exact[i, a] for i in range(g.n_states))
                        for t, a in enumerate(prof))


def test_candidate_posteriors_refuse_too_many(prosecutor):
    with pytest.raises(ProblemTooLargeError, match="signaling"):
        candidate_posteriors(prosecutor, max_vertices=2)
    with pytest.raises(ProblemTooLargeError, match="max_cells=1"):
        candidate_posteriors(prosecutor, max_cells=1)
