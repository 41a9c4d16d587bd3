"""An exact rational simplex method: the fall-back when a float solve cannot be trusted.

For ``maximise c @ x  s.t.  row_lower <= A x <= row_upper,  x >= 0`` with exact data
(Fractions; ``None`` for an infinite bound) in :class:`~persuasion.highs.SparseLP`
form, every pivot is computed in exact rational arithmetic (python-flint ``fmpq``), so
the optimum it returns is exact. It is the revised primal simplex of the textbooks
(Chvátal, *Linear Programming*, 1983, ch. 7-8; Bland, "New finite pivoting rules for
the simplex method", 1977):

1. standard form: a slack ``s_i >= 0`` for each inequality row
   (``A_i x - s_i = lo_i`` or ``A_i x + s_i = hi_i``);
2. start from a given basis (the float solver's, which is usually optimal or a few
   pivots away) when it is non-singular and primal feasible in exact arithmetic;
   otherwise phase 1 from a crash basis of slacks and artificial columns, maximising
   minus the sum of the artificials, then pivot every artificial left at zero out of
   the basis (or keep it, fixed at 0, on a redundant row);
3. phase 2: Dantzig's rule (largest reduced cost) with the inverse basis kept exactly
   by rank-one (eta) updates; after a run of degenerate pivots it switches for good to
   Bland's rule (smallest index enters and leaves), which cannot cycle;
4. the optimal basis is returned as ``(basic columns, row statuses)``, the form that
   :func:`persuasion.certify.certify_basis` checks independently.

Why our own: no exact LP solver on PyPI runs on these machines in useful time
(``sympy.solvers.simplex.linprog`` took over 300 s on the signaling LP of an 8x8 game,
which this module solves in well under a second; see ``tests/persuasion/test_exact_simplex.py``).
It is meant for the small LPs where exactness is affordable: rows up to
:data:`MAX_EXACT_ROWS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import CertificationError
from .highs import BASIC, LOWER, UPPER, SparseLP

__all__ = ["ExactLPSolution", "solve_exact", "MAX_EXACT_ROWS"]

#: Largest number of rows the exact simplex is used for by default.
MAX_EXACT_ROWS = 600

#: Consecutive degenerate pivots after which Bland's rule takes over.
_DEGENERATE_RUN = 50


@dataclass
class ExactLPSolution:
    """An exact optimum: value, the non-zero structural columns, the optimal basis."""

    value: Fraction
    x: dict  # structural column -> exact value (others are 0)
    col_basic: np.ndarray  # bool mask over the structural columns
    row_status: list  # per row: 'basic', 'lower' or 'upper' (certify_basis's form)
    iterations: int
    phase1: bool


def _fmpq(v):
    import flint

    v = Fraction(v)
    return flint.fmpq(v.numerator, v.denominator)


def _frac(q) -> Fraction:
    return Fraction(int(q.p), int(q.q))


class _Tableau:
    """The standard-form matrix (dense, exact) and an exactly maintained inverse basis.

    Everything heavy is a python-flint ``fmpq_mat`` product (C loops): pricing is
    ``c - y A`` over all columns at once, the inverse is updated by a rank-one product.
    """

    def __init__(self, lp: SparseLP):
        import flint

        self.flint = flint
        R, N = lp.n_rows, lp.n_cols
        self.R, self.N = R, N
        cols: list[list] = [[] for _ in range(N)]
        for i in range(R):
            idx, vals = lp.row(i)
            for j, v in zip(idx, vals):
                if v != 0:
                    cols[int(j)].append((i, _fmpq(v)))
        b = []
        self.slack_of_row: dict[int, int] = {}
        self.kind = []  # per row: 'eq', 'ge' or 'le'
        for i in range(R):
            lo, hi = lp.row_lower[i], lp.row_upper[i]
            if lo is not None and hi is not None:
                if Fraction(lo) != Fraction(hi):
                    raise CertificationError(f"row {i} has two finite bounds; the exact simplex "
                                             "handles equality and one-sided rows only")
                self.kind.append("eq")
                b.append(_fmpq(lo))
            elif lo is not None:
                self.kind.append("ge")
                b.append(_fmpq(lo))
                self.slack_of_row[i] = len(cols)
                cols.append([(i, flint.fmpq(-1))])
            elif hi is not None:
                self.kind.append("le")
                b.append(_fmpq(hi))
                self.slack_of_row[i] = len(cols)
                cols.append([(i, flint.fmpq(1))])
            else:
                raise CertificationError(f"row {i} has no finite bound (a free row); drop it "
                                         "before the exact solve")
        self.b_list = b
        self.b = flint.fmpq_mat(R, 1, b) if R else None
        self.n_real = len(cols)  # structural + slack columns
        self.cols = cols
        self.zero = flint.fmpq(0)

    def add_artificial(self, row: int, sign: int) -> int:
        self.cols.append([(row, self.flint.fmpq(sign))])
        return len(self.cols) - 1

    def build(self) -> None:
        """The dense matrix of all columns (call after the artificials are added)."""
        flint = self.flint
        C = len(self.cols)
        A = flint.fmpq_mat(self.R, C)
        for j, col in enumerate(self.cols):
            for i, v in col:
                A[i, j] = v
        self.A = A
        self.C = C

    def vector(self, j: int):
        v = self.flint.fmpq_mat(self.R, 1)
        for i, a in self.cols[j]:
            v[i, 0] = a
        return v

    # -- inverse basis ------------------------------------------------------------------
    def factor(self, basis: list[int]) -> bool:
        """Set the basis and compute its inverse exactly; False if singular."""
        flint = self.flint
        R = self.R
        B = flint.fmpq_mat(R, R)
        for p, j in enumerate(basis):
            for i, v in self.cols[j]:
                B[i, p] = v
        try:
            self.Binv = B.inv()
        except ZeroDivisionError:
            return False
        self.basis = list(basis)
        self.pos = {j: p for p, j in enumerate(basis)}
        self.xB = self.Binv * self.b
        return True

    def row_of_inverse(self, p: int):
        e = self.flint.fmpq_mat(1, self.R)
        e[0, p] = 1
        return e * self.Binv

    def column(self, j: int):
        """B^-1 A_j (an R x 1 matrix)."""
        return self.Binv * self.vector(j)

    def duals(self, cost_row):
        """y = c_B B^-1 (a 1 x R matrix); ``cost_row`` is the 1 x C cost matrix."""
        cb = self.flint.fmpq_mat(1, self.R)
        for p, j in enumerate(self.basis):
            cb[0, p] = cost_row[0, j]
        return cb * self.Binv

    def pivot(self, p: int, j: int, d) -> None:
        """Column ``j`` enters at position ``p`` (``d`` = B^-1 A_j)."""
        piv = d[p, 0]
        rowp = self.row_of_inverse(p) * (1 / piv)
        theta = self.xB[p, 0] / piv
        u = self.flint.fmpq_mat(self.R, 1, d.entries())
        u[p, 0] = piv - 1
        self.Binv = self.Binv - u * rowp
        self.xB = self.xB - u * theta
        del self.pos[self.basis[p]]
        self.basis[p] = j
        self.pos[j] = p


def _run(tab: _Tableau, cost_row, allowed, max_iter: int) -> int:
    """Primal simplex on the current (primal feasible) basis; returns pivots made.
    ``cost_row``: 1 x C costs; ``allowed[j]``: whether column j may enter."""
    bland = False
    degenerate = 0
    y = tab.duals(cost_row)
    for it in range(max_iter):
        reduced = (cost_row - y * tab.A).entries()
        best_j, best_d = None, None
        for j, dj in enumerate(reduced):
            if dj > 0 and allowed[j] and j not in tab.pos:
                if bland:
                    best_j, best_d = j, dj
                    break
                if best_d is None or dj > best_d:
                    best_j, best_d = j, dj
        if best_j is None:
            return it
        d = tab.column(best_j)
        dv = d.entries()
        xb = tab.xB.entries()
        leave, ratio = None, None
        for p in range(tab.R):
            if dv[p] > 0:
                r = xb[p] / dv[p]
                if (ratio is None or r < ratio
                        or (r == ratio and tab.basis[p] < tab.basis[leave])):
                    leave, ratio = p, r
        if leave is None:
            raise CertificationError("the LP is unbounded in exact arithmetic (a persuasion "
                                     "LP never is: this is a bug)")
        if ratio == 0:
            degenerate += 1
            if degenerate >= _DEGENERATE_RUN:
                bland = True
        else:
            degenerate = 0
        tab.pivot(leave, best_j, d)
        # y' = y + d_j * (row `leave` of the new inverse): the entering column's reduced
        # cost becomes 0 and every other basic column's stays 0
        y = y + tab.row_of_inverse(leave) * best_d
    raise CertificationError(f"the exact simplex made {max_iter} pivots without reaching "
                             "an optimum")


def solve_exact(lp: SparseLP, start_basis=None, *, max_rows: int = MAX_EXACT_ROWS,
                max_iter: int | None = None) -> ExactLPSolution:
    """Solve ``lp`` (exact data) by the exact simplex method of the module docstring.

    Parameters
    ----------
    lp : SparseLP
        Exact data: Fractions, ``None`` for an infinite bound.
    start_basis : (ndarray of bool, list of str), optional
        ``(basic columns, row statuses)`` of a starting basis (e.g. HiGHS's).
    max_rows : int
        Refuse (:class:`~persuasion.errors.CertificationError`) above this many rows.
    max_iter : int, optional
        Pivot limit (default ``50 * (rows + columns)``).

    Raises
    ------
    CertificationError
        Too large, infeasible or unbounded (never for a valid persuasion LP), or the
        pivot limit was reached.
    """
    R = lp.n_rows
    if R > max_rows:
        raise CertificationError(f"the exact simplex is limited to {max_rows} rows; this LP "
                                 f"has {R}")
    tab = _Tableau(lp)
    N = tab.N
    flint = tab.flint
    phase1 = True
    iterations = 0
    basis = None
    if start_basis is not None:
        col_basic, row_status = start_basis
        basis = [int(j) for j in np.flatnonzero(np.asarray(col_basic, dtype=bool))]
        basis += [tab.slack_of_row[i] for i, s in enumerate(row_status)
                  if s == BASIC and i in tab.slack_of_row]
        if len(basis) != R:
            basis = None
    artificial = set()
    if basis is not None:
        tab.build()
        if tab.factor(basis) and all(v >= 0 for v in tab.xB.entries()):
            phase1 = False
    if phase1:
        basis = []
        for i in range(R):
            s = tab.slack_of_row.get(i)
            bi = tab.b_list[i]
            coef = tab.cols[s][0][1] if s is not None else None
            if s is not None and (bi == 0 or (bi > 0) == (coef > 0)):
                basis.append(s)
            else:
                a = tab.add_artificial(i, -1 if bi < 0 else 1)
                basis.append(a)
                artificial.add(a)
        tab.build()
        if not tab.factor(basis):  # a unit-column basis is never singular
            raise CertificationError("the crash basis is singular (a bug)")
    max_iter = max_iter or 50 * (R + tab.C)
    if artificial:
        cost1 = flint.fmpq_mat(1, tab.C)
        for a in artificial:
            cost1[0, a] = -1
        iterations += _run(tab, cost1, [True] * tab.C, max_iter)
        if any(tab.xB[p, 0] != 0 for p, j in enumerate(tab.basis) if j in artificial):
            raise CertificationError("the LP is infeasible in exact arithmetic (a valid "
                                     "persuasion LP never is: this is a bug)")
        # drive the artificials left at zero out of the basis where possible
        for p in range(R):
            if tab.basis[p] not in artificial:
                continue
            row = (tab.row_of_inverse(p) * tab.A).entries()
            for j in range(tab.n_real):
                if j not in tab.pos and row[j] != 0:
                    tab.pivot(p, j, tab.column(j))
                    iterations += 1
                    break
    n_real = tab.n_real
    cost2 = flint.fmpq_mat(1, tab.C)
    for j in range(N):
        cost2[0, j] = _fmpq(lp.c[j])
    iterations += _run(tab, cost2, [j < n_real for j in range(tab.C)], max_iter)
    xb = tab.xB.entries()
    x = {j: _frac(xb[p]) for p, j in enumerate(tab.basis) if j < N and xb[p] != 0}
    value = sum((Fraction(lp.c[j]) * v for j, v in x.items()), Fraction(0))
    col_basic = np.zeros(N, dtype=bool)
    for j in tab.basis:
        if j < N:
            col_basic[j] = True
    status = []
    for i in range(R):
        s = tab.slack_of_row.get(i)
        if s is not None and s in tab.pos:
            status.append(BASIC)
        elif s is None and any(j >= n_real and tab.cols[j][0][0] == i for j in tab.basis):
            status.append(BASIC)  # a redundant equality row, its artificial fixed at 0
        else:
            status.append(UPPER if tab.kind[i] == "le" else LOWER)
    return ExactLPSolution(value=value, x=x, col_basic=col_basic, row_status=status,
                           iterations=iterations, phase1=phase1)
