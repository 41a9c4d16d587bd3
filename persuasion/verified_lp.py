"""Never a silently wrong optimum: solve a persuasion LP in floats, then verify.

Both LPs of the toolkit (:mod:`persuasion.signaling_lp`, :mod:`persuasion.posterior_lp`)
are solved by HiGHS on **rescaled** data (:mod:`persuasion.scaling`: the same optimal
bases, utilities in ``[0, 2)``), and the float answer is then checked before anyone sees
it. Steps:

1. solve the float LP with HiGHS;
2. **small LPs** (at most :data:`AUTO_EXACT_ROWS` rows and :data:`AUTO_EXACT_NONZEROS`
   non-zeros), and every LP when certification is asked for: re-solve HiGHS's optimal
   basis in exact rationals on the original game's exact LP
   (:func:`persuasion.certify.certify_basis`; the rescaling does not change which bases
   are optimal). If the basis is not optimal in exact arithmetic, run the exact simplex
   from it (:mod:`persuasion.exact_simplex`) and certify its basis. The answer is exact;
3. **larger LPs**: first a condition on the data: every non-zero difference between two
   actions' rescaled receiver utilities in one state must be at least
   :data:`CHECK_TOL` (``GameScaling.finest_difference``; the ranges are in ``[1, 2)``).
   A finer preference cannot be told from a tie by a float solver with tolerances (a
   state whose utilities span ``1e-15`` of another state's is the typical case), so such
   a game goes to step 2's exact paths. Then a float check with the stated tolerance
   :data:`CHECK_TOL`, after noise-level entries of the solution are set to 0
   (:func:`clean_solution`): the largest primal residual (consistency or Bayes
   plausibility, obedience, non-negativity) in the rescaled units, and the duality gap
   against the upper bound ``y . bound + sum_j u_j max(0, c_j - (A^T y)_j)`` from HiGHS's
   duals (valid for any ``y``, with ``u_j`` the bound of column ``j`` in every feasible
   solution: 1, or the prior of its state for the signaling LP), relative
   to ``max(1, |value|)``, must both be at most ``CHECK_TOL``, and so must the estimated
   error of the value, the gap plus ``sum_i |y_i| v_i`` (``v_i`` the violation of row
   ``i``: the solution is feasible for bounds moved by ``v``, which moves the optimum by
   that much to first order). So the value is within about ``CHECK_TOL`` of the
   optimum, in units of the sender's utility range, and the scheme obeys every
   constraint to ``CHECK_TOL`` of the receiver's range. If the
   check fails, HiGHS continues from its basis with its tightest tolerances
   (:func:`persuasion.highs.polish`) and the check is repeated; if it still fails, step
   2's exact paths are tried while the LP is within
   :data:`~persuasion.certify.MAX_CERTIFY_BASIS` /
   :data:`~persuasion.exact_simplex.MAX_EXACT_ROWS`;
4. otherwise refuse: :class:`~persuasion.errors.IllConditionedError`, a one-line message
   saying the game is ill-conditioned and what to do.

:func:`solve_verified` returns a :class:`Verified` record saying which path was taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .certify import MAX_CERTIFY_BASIS, Certificate, certify_basis
from .errors import CertificationError, IllConditionedError, SolverError
from .exact_simplex import MAX_EXACT_ROWS, solve_exact
from .highs import LPSolution, SparseLP, polish, solve_lp

__all__ = ["Verified", "solve_verified", "float_check", "AUTO_EXACT_ROWS",
           "AUTO_EXACT_NONZEROS", "CHECK_TOL"]

#: LPs with at most this many rows (and :data:`AUTO_EXACT_NONZEROS` non-zeros) are
#: always verified in exact arithmetic.
AUTO_EXACT_ROWS = 200
#: See :data:`AUTO_EXACT_ROWS`.
AUTO_EXACT_NONZEROS = 20_000
#: Tolerance of the float check, in the rescaled units (utility ranges in [1, 2)).
CHECK_TOL = 1e-9


@dataclass
class FloatCheck:
    """Residuals of a float LP solution (see the module docstring)."""

    primal_residual: float
    gap: float
    upper_bound: float
    tol: float
    value_error: float = 0.0

    @property
    def ok(self) -> bool:
        figures = (self.primal_residual, self.gap, self.value_error)
        return all(bool(np.isfinite(f)) and f <= self.tol for f in figures)

    def to_dict(self) -> dict:
        return {"primal_residual": self.primal_residual, "gap": self.gap,
                "value_error": self.value_error, "upper_bound": self.upper_bound,
                "tol": self.tol, "ok": self.ok}


@dataclass
class Verified:
    """A verified LP optimum.

    ``how`` is ``"exact basis"`` (HiGHS's basis certified exactly), ``"exact re-solve"``
    (the exact simplex found the optimum), or ``"float check"`` (large LP, checked to
    :data:`CHECK_TOL`). ``x``/``objective`` are those of the float LP that was solved
    (when an exact optimum exists they are recomputed from it); ``certificate`` and
    ``x_exact`` refer to the exact LP.
    """

    how: str
    x: np.ndarray
    objective: float
    solution: LPSolution | None
    certificate: Certificate | None = None
    check: FloatCheck | None = None
    exact_iterations: int | None = None
    notes: list = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.certificate is not None and self.certificate.ok

    def details(self) -> dict:
        d = {"how": self.how}
        if self.check is not None:
            d["float_check"] = self.check.to_dict()
        if self.exact_iterations is not None:
            d["exact_simplex_pivots"] = self.exact_iterations
        if self.notes:
            d["notes"] = list(self.notes)
        return d


def _activity(lp: SparseLP, x: np.ndarray) -> np.ndarray:
    """Row activities ``A x``."""
    rows = np.repeat(np.arange(lp.n_rows), np.diff(lp.indptr))
    return np.bincount(rows, weights=np.asarray(lp.data, dtype=float) * x[lp.indices],
                       minlength=lp.n_rows)


#: Entries of a float solution below this fraction of their column's scale are noise
#: (basic variables that should be 0) and are set to 0 before the check.
NOISE = 1e-11


def clean_solution(x, column_scale=None) -> np.ndarray:
    """``x`` with noise-level entries (below ``NOISE * column_scale``, and negatives) set
    to 0. ``column_scale`` is each column's natural size (the prior of its state in the
    signaling LP); default 1."""
    x = np.asarray(x, dtype=float)
    scale = 1.0 if column_scale is None else np.asarray(column_scale, dtype=float)
    return np.where(x <= NOISE * scale, 0.0, x)


def float_check(lp: SparseLP, sol: LPSolution, *, tol: float = CHECK_TOL,
                column_bound: float = 1.0, x=None) -> FloatCheck:
    """Primal residual and duality gap of a float solution of ``lp`` (maximisation).

    ``column_bound`` (a number or one per column) bounds the columns of every feasible
    solution: 1 for the persuasion LPs (a column is a probability), the prior of its state
    for the signaling LP (``x[w, s] <= mu0(w)``). ``x`` replaces ``sol.x`` (a cleaned copy).
    """
    x = np.asarray(sol.x if x is None else x, dtype=float)
    lo = np.asarray(lp.row_lower, dtype=float)
    hi = np.asarray(lp.row_upper, dtype=float)
    act = _activity(lp, x)
    with np.errstate(invalid="ignore"):
        row_viol = np.nan_to_num(np.maximum(lo - act, 0)) + np.nan_to_num(np.maximum(act - hi, 0))
        viol = np.concatenate([row_viol, np.maximum(-x, 0)])
    primal = float(np.nanmax(viol)) if viol.size else 0.0
    y_raw = np.asarray(sol.row_dual, dtype=float)
    # first-order effect of the violations on the value: x is feasible for bounds moved by
    # row_viol, which moves the optimum by about sum_i |y_i| row_viol_i
    sensitivity = float(np.abs(y_raw) @ row_viol) if row_viol.size else 0.0
    y = y_raw.copy()
    # a dual is usable only toward a finite bound: y_i > 0 needs hi_i, y_i < 0 needs lo_i
    y[(y > 0) & ~np.isfinite(hi)] = 0.0
    y[(y < 0) & ~np.isfinite(lo)] = 0.0
    rows = np.repeat(np.arange(lp.n_rows), np.diff(lp.indptr))
    aty = np.zeros(lp.n_cols)
    np.add.at(aty, lp.indices, np.asarray(lp.data, dtype=float) * y[rows])
    reduced = np.asarray(lp.c, dtype=float) - aty
    bound_term = np.where(y > 0, y * np.where(np.isfinite(hi), hi, 0.0),
                          y * np.where(np.isfinite(lo), lo, 0.0))
    upper = float(bound_term.sum() + np.dot(np.broadcast_to(np.asarray(column_bound, dtype=float),
                                                            reduced.shape),
                                            np.maximum(reduced, 0)))
    objective = float(np.dot(np.asarray(lp.c, dtype=float), x))
    scale = max(1.0, abs(objective))
    gap = (upper - objective) / scale
    return FloatCheck(primal_residual=primal, gap=float(gap), upper_bound=upper, tol=tol,
                      value_error=float(abs(gap) + sensitivity / scale))


def _exact_x(cert: Certificate, n_cols: int) -> np.ndarray:
    x = np.zeros(n_cols)
    for j, v in cert.x.items():
        x[j] = float(v)
    return x


def solve_verified(lp: SparseLP, exact_lp, *, certify: bool = False, solver: str = "simplex",
                   start_basis=None, max_certify_basis: int | None = None,
                   what: str = "the LP", column_scale=None,
                   finest_difference: float = float("inf")) -> Verified:
    """Solve the float ``lp`` and verify it (module docstring).

    Parameters
    ----------
    lp : SparseLP
        The float LP (rescaled data).
    exact_lp : callable
        Returns the exact LP of the original game (same rows and columns); called only
        when an exact step runs.
    certify : bool
        Always verify exactly (the caller reports the certificate).
    what : str
        Named in the refusal message.
    column_scale : ndarray, optional
        Natural size of each column, which also bounds it in every feasible solution (see
        :func:`clean_solution` and :func:`float_check`); default 1.
    finest_difference : float
        ``GameScaling.finest_difference`` of the game (step 3's condition).
    """
    max_basis = MAX_CERTIFY_BASIS if max_certify_basis is None else max_certify_basis
    small = lp.n_rows <= AUTO_EXACT_ROWS and lp.nnz <= AUTO_EXACT_NONZEROS
    sol, failure = None, None
    try:
        sol = solve_lp(lp, solver=solver, start_basis=start_basis)
    except SolverError as exc:
        failure = str(exc)
    notes = []
    bound = 1.0 if column_scale is None else column_scale
    x = clean_solution(sol.x, column_scale) if sol is not None else None
    check = float_check(lp, sol, x=x, column_bound=bound) if sol is not None else None
    resolvable = finest_difference >= CHECK_TOL
    if not resolvable:
        notes.append(f"the receiver's finest preference is {finest_difference:.2g} of its "
                     f"utility range, below the float check's resolution {CHECK_TOL:g}")
    if sol is not None and not (certify or small) and not check.ok and resolvable:
        try:  # a few more iterations with HiGHS's tightest tolerances
            sol2 = polish(lp, sol)
        except SolverError as exc:
            notes.append(str(exc))
        else:
            x2 = clean_solution(sol2.x, column_scale)
            check2 = float_check(lp, sol2, x=x2, column_bound=bound)
            notes.append(f"polished: primal residual {check.primal_residual:.2g} -> "
                         f"{check2.primal_residual:.2g}, gap {check.gap:.2g} -> {check2.gap:.2g}")
            sol, x, check = sol2, x2, check2
    if sol is not None and not (certify or small) and check.ok and resolvable:
        return Verified("float check", x, float(np.dot(lp.c, x)), sol, check=check,
                        notes=notes)
    # an exact step: certify the float basis, else re-solve exactly
    exact = None
    cert = None
    if sol is not None:
        col_basic, rows = sol.basis()
        k = int(col_basic.sum())
        if k <= max_basis:
            exact = exact_lp()
            cert = certify_basis(exact, col_basic, rows, max_basis=max_basis)
            if cert.ok:
                return Verified("exact basis", _exact_x(cert, lp.n_cols),
                                _objective(lp, cert), sol, certificate=cert, check=check)
            notes.append(f"HiGHS's basis is not optimal in exact arithmetic: {cert.message}")
        elif certify:
            raise CertificationError(
                f"exact certification needs a {k}x{k} rational solve, above the limit "
                f"max_basis={max_basis}; raise the limit or certify a smaller game")
        else:
            notes.append(f"basis of {k} columns above the certification limit {max_basis}")
    else:
        notes.append(f"HiGHS failed: {failure}")
    if lp.n_rows <= MAX_EXACT_ROWS:
        exact = exact if exact is not None else exact_lp()
        start = sol.basis() if sol is not None else None
        ex = solve_exact(exact, start)
        cert2 = certify_basis(exact, ex.col_basic, ex.row_status, max_basis=max(max_basis,
                                                                                 lp.n_rows))
        if not cert2.ok:  # the exact simplex's basis must certify: anything else is a bug
            raise CertificationError(f"the exact simplex's basis failed its certificate: "
                                     f"{cert2.message}")
        return Verified("exact re-solve", _exact_x(cert2, lp.n_cols), _objective(lp, cert2),
                        sol, certificate=cert2, check=check, exact_iterations=ex.iterations,
                        notes=notes)
    notes.append(f"{lp.n_rows} rows, above the exact simplex's limit {MAX_EXACT_ROWS}")
    if sol is not None and check.ok and resolvable:
        # large and certification was asked for but failed: the float optimum passed its
        # check; the caller reports the failed certificate
        return Verified("float check", x, float(np.dot(lp.c, x)), sol, certificate=cert,
                        check=check, notes=notes)
    if not resolvable:
        reason = notes[0]
    elif check is not None:
        reason = (f"primal residual {check.primal_residual:.2g}, duality gap "
                  f"{check.gap:.2g}, value error {check.value_error:.2g}, tolerance "
                  f"{CHECK_TOL:g}")
    else:
        reason = failure
    raise IllConditionedError(
        f"the game is numerically ill-conditioned: the float solution of {what} "
        f"({lp.n_rows} rows) cannot be trusted ({reason}) and the game is too large for "
        f"the exact re-solve (at most {MAX_EXACT_ROWS} rows); make the receiver's utility "
        f"differences of similar size across states, or solve a smaller game")


def _objective(lp: SparseLP, cert: Certificate) -> float:
    c = np.asarray(lp.c, dtype=float)
    return float(sum(c[j] * float(v) for j, v in cert.x.items()))
