"""A thin layer over HiGHS (through ``highspy``) for the toolkit's LPs.

Every persuasion LP here has the form

    maximise c @ x   subject to   row_lower <= A @ x <= row_upper,   x >= 0,

with ``A`` given row-wise (CSR: ``indptr``, ``indices``, ``data``). The same container,
:class:`SparseLP`, holds the exact version of an LP (object arrays of Fractions, ``None``
for an infinite bound) for :mod:`persuasion.certify`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass

import highspy
import numpy as np

from .errors import ProblemTooLargeError, SolverError

__all__ = ["SparseLP", "LPSolution", "solve_lp", "polish", "optimum_is_unique"]

BASIC, LOWER, UPPER = "basic", "lower", "upper"


@dataclass
class SparseLP:
    """``max c@x  s.t.  row_lower <= A x <= row_upper, x >= 0`` with A in CSR form."""

    c: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_cols(self) -> int:
        return len(self.c)

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def row(self, i: int):
        lo, hi = self.indptr[i], self.indptr[i + 1]
        return self.indices[lo:hi], self.data[lo:hi]


@dataclass
class LPSolution:
    x: np.ndarray
    objective: float
    row_dual: np.ndarray
    col_dual: np.ndarray
    seconds: float
    highs: object  # the solver object, kept for the basis and follow-up solves

    def basis(self):
        """(basic column mask, row statuses as 'basic'/'lower'/'upper')."""
        b = self.highs.getBasis()
        if not b.valid:
            raise SolverError("HiGHS returned no valid basis")
        basic = highspy.HighsBasisStatus.kBasic
        upper = highspy.HighsBasisStatus.kUpper
        col_basic = np.fromiter((s == basic for s in b.col_status), dtype=bool,
                                count=len(self.x))
        rows = [BASIC if s == basic else (UPPER if s == upper else LOWER) for s in b.row_status]
        return col_basic, rows


_BANNER_LOCK = threading.Lock()
_banner_silenced = False


def _new_highs():
    """``highspy.Highs()`` without its banner on standard output.

    highspy 1.16 prints a two-line banner ("Running HiGHS 1.16.0 ...") from C++ on file
    descriptor 1 when the first ``Highs`` object of a process is built, before
    ``output_flag`` can be set. It would corrupt ``--json`` output and any program that
    pipes ours. So the first construction in a process runs with file descriptor 1
    pointed at ``os.devnull`` (Python's own buffered output is flushed first, so nothing
    else is lost); later ones print nothing (checked by ``tests/cli/test_cli_json.py``
    in a fresh interpreter).
    """
    global _banner_silenced
    if _banner_silenced:
        return highspy.Highs()
    with _BANNER_LOCK:
        if _banner_silenced:
            return highspy.Highs()
        try:
            sys.stdout.flush()
        except (AttributeError, OSError, ValueError):
            pass
        try:
            saved = os.dup(1)
        except OSError:  # no file descriptor 1: nothing to protect
            _banner_silenced = True
            return highspy.Highs()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _banner_silenced = True
        return h


def _highs(threads: int = 1):
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", threads)
    # keep matrix entries down to 1e-12 (HiGHS drops |a| < 1e-9 by default); the data are
    # rescaled to [0, 2) first (persuasion.scaling), and every solution is checked
    h.setOptionValue("small_matrix_value", 1e-12)
    return h


def pass_model_args(lp) -> tuple:
    """Arguments of HiGHS's array form of ``passModel`` for a maximisation LP ``lp``
    (row-wise CSR matrix, x >= 0, row bounds): no per-attribute copies of a large matrix."""
    return (lp.n_cols, lp.n_rows, lp.nnz, int(highspy.MatrixFormat.kRowwise),
            int(highspy.ObjSense.kMaximize), 0.0,
            np.ascontiguousarray(lp.c, dtype=np.float64), np.zeros(lp.n_cols),
            np.full(lp.n_cols, highspy.kHighsInf),
            np.ascontiguousarray(lp.row_lower, dtype=np.float64),
            np.ascontiguousarray(lp.row_upper, dtype=np.float64),
            np.ascontiguousarray(lp.indptr, dtype=np.int32),
            np.ascontiguousarray(lp.indices, dtype=np.int32),
            np.ascontiguousarray(lp.data, dtype=np.float64),
            # integrality: all continuous (highspy 1.15 reads garbage from an empty array)
            np.zeros(lp.n_cols, dtype=np.int32))


def solve_lp(lp: SparseLP, *, solver: str = "simplex", time_limit: float | None = None,
             start_basis=None) -> LPSolution:
    """Solve ``lp`` (maximisation) with HiGHS.

    Parameters
    ----------
    solver : {"simplex", "ipm", "choose"}
        HiGHS's ``solver`` option. The simplex (default) returns an optimal basis,
        which exact certification needs; "ipm" runs crossover to obtain one.
    time_limit : float, optional
        Seconds; :class:`~persuasion.errors.SolverError` if exceeded.
    start_basis : (ndarray of bool, ndarray of bool), optional
        ``(basic columns, basic rows)`` of a starting basis; non-basic columns and rows
        start at their lower bound. A dual-feasible one lets the dual simplex skip
        phase 1 (see :func:`persuasion.signaling_lp.dual_feasible_basis`).
    """
    t0 = time.perf_counter()
    h = _highs()
    h.setOptionValue("solver", solver)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    # the array form of passModel: no per-attribute copies of the (possibly 10^7-entry) matrix
    status = h.passModel(*pass_model_args(lp))
    # kWarning: entries HiGHS finds tiny or huge; the solution is checked afterwards
    if status == highspy.HighsStatus.kError:
        raise SolverError(f"HiGHS rejected the LP ({lp.n_rows} rows, {lp.n_cols} columns)")
    if start_basis is not None:
        col_basic, row_basic = start_basis
        B, L = highspy.HighsBasisStatus.kBasic, highspy.HighsBasisStatus.kLower
        basis = highspy.HighsBasis()
        basis.col_status = [B if f else L for f in np.asarray(col_basic, dtype=bool).tolist()]
        basis.row_status = [B if f else L for f in np.asarray(row_basic, dtype=bool).tolist()]
        basis.valid = True
        basis.alien = False
        h.setBasis(basis)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kMemoryLimit:
        raise ProblemTooLargeError(
            f"HiGHS ran out of memory on an LP with {lp.n_rows} rows, {lp.n_cols} columns and "
            f"{lp.nnz} non-zeros; solve a smaller game")
    if status != highspy.HighsModelStatus.kOptimal:
        raise SolverError(f"HiGHS stopped with status '{h.modelStatusToString(status)}' "
                          f"on an LP with {lp.n_rows} rows and {lp.n_cols} columns")
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=float)
    return LPSolution(
        x=x,
        objective=float(h.getInfo().objective_function_value),
        row_dual=np.asarray(sol.row_dual, dtype=float),
        col_dual=np.asarray(sol.col_dual, dtype=float),
        seconds=time.perf_counter() - t0,
        highs=h,
    )


def polish(lp: SparseLP, sol: LPSolution, tol: float = 1e-10) -> LPSolution:
    """Re-run HiGHS from ``sol``'s final basis with feasibility tolerances ``tol`` (its
    default is 1e-7; 1e-10 is the smallest it accepts): a few more simplex iterations that
    tighten residuals the verification found too large."""
    h = sol.highs
    t0 = time.perf_counter()
    h.setOptionValue("primal_feasibility_tolerance", tol)
    h.setOptionValue("dual_feasibility_tolerance", tol)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise SolverError(f"HiGHS stopped with status "
                          f"'{h.modelStatusToString(h.getModelStatus())}' while polishing")
    s = h.getSolution()
    return LPSolution(x=np.asarray(s.col_value, dtype=float),
                      objective=float(h.getInfo().objective_function_value),
                      row_dual=np.asarray(s.row_dual, dtype=float),
                      col_dual=np.asarray(s.col_dual, dtype=float),
                      seconds=sol.seconds + time.perf_counter() - t0, highs=h)


def optimum_is_unique(lp: SparseLP, sol: LPSolution, *, tol: float = 1e-9,
                      move_tol: float = 1e-6) -> bool:
    """Decide whether the LP's optimal solution is unique.

    The optimal face is the set of feasible points that keep every non-basic column with
    a non-zero reduced cost at 0 and every non-basic row with a non-zero dual at its
    bound. What may move: the set ``Z`` of non-basic columns with zero reduced cost and
    the set ``R`` of non-basic inequality rows with zero dual (their slack). If both are
    empty the optimum is unique (dual non-degeneracy). Otherwise it is unique iff
    ``max sum_{j in Z} x_j + sum_{i in R} slack_i`` over the optimal face (feasible points
    with ``c@x >= OPT - eps``) stays at 0: if nothing in ``Z`` or ``R`` can move, every
    non-basic quantity is fixed and the basic ones are determined by the basis. One more
    LP, solved on the same HiGHS object (which it modifies).
    """
    col_basic, rows = sol.basis()
    scale = max(1.0, float(np.max(np.abs(lp.c))) if lp.n_cols else 1.0)
    zero_rc = (~col_basic) & (np.abs(sol.col_dual) <= tol * scale)
    lo = np.asarray(lp.row_lower, dtype=float)
    hi = np.asarray(lp.row_upper, dtype=float)
    status = np.array(rows)
    zero_row = (status != BASIC) & (lo != hi) & (np.abs(sol.row_dual) <= tol * scale)
    if not zero_rc.any() and not zero_row.any():
        return True
    # slack of a row at its lower bound: A_i x - lo_i; at its upper bound: hi_i - A_i x
    sign = np.where(status == UPPER, -1.0, 1.0) * zero_row
    cost = zero_rc.astype(float)
    const = 0.0
    if zero_row.any():
        data = np.asarray(lp.data, dtype=float)
        row_of = np.repeat(np.arange(lp.n_rows), np.diff(lp.indptr))
        np.add.at(cost, lp.indices, sign[row_of] * data)
        bound = np.where(status == UPPER, hi, lo)
        const = float(sign[zero_row] @ bound[zero_row])
    h = sol.highs
    cols = np.flatnonzero(lp.c != 0).astype(np.int32)
    eps = tol * max(1.0, abs(sol.objective))
    h.addRow(sol.objective - eps, highspy.kHighsInf, len(cols), cols,
             np.asarray(lp.c, dtype=float)[cols])
    h.changeColsCost(lp.n_cols, np.arange(lp.n_cols, dtype=np.int32), cost)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return False
    return float(h.getInfo().objective_function_value) - const <= move_tol
