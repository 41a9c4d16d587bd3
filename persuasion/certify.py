"""Exact certification of an LP optimum from the solver's optimal basis.

The float solver (HiGHS) returns an optimal basis. For an LP

    maximise c @ x   s.t.   row_lower <= A x <= row_upper,   x >= 0,

a basis is a set ``B`` of basic columns and a set of basic rows; the other rows
(``N``) sit at one of their bounds and ``|B| = |N|``. The certificate, computed in
exact rational arithmetic (python-flint ``fmpq_mat``) from the exact data, is:

1. **primal**: solve ``A[N, B] x_B = bound[N]``; check ``x_B >= 0`` and that every
   basic row's activity ``A[i, B] x_B`` lies within its bounds;
2. **dual**: solve ``A[N, B]^T y_N = c_B``; check the sign of each ``y_i``
   (``<= 0`` at a lower bound, ``>= 0`` at an upper bound, free for an equality row)
   and that every reduced cost ``c_j - y @ A[:, j]`` of a non-basic column is ``<= 0``;
3. both objective values are ``c_B @ x_B = y_N @ bound[N]`` by construction, so 1 and
   2 together prove that ``x`` is optimal and that the optimum is exactly that number
   (weak duality: for any feasible x', ``c@x' <= y@A x' <= y@bound``).

This is the textbook basis-verification step of exact LP solvers (e.g. Applegate,
Cook, Dash & Espinoza, "Exact solutions to linear programming problems", 2007).

:func:`verified_result` turns a verified solve (:func:`persuasion.verified_lp.solve_verified`)
into the :class:`~persuasion.result.PersuasionResult` both exact LPs (signaling and
posterior) return: the exact value and scheme when the basis is certified, the status
and message saying how, and the float optimum mapped back through the rescaling
otherwise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .errors import CertificationError
from .highs import BASIC, LOWER, UPPER, SparseLP
from .result import STATUS_CERTIFICATION_FAILED, STATUS_CERTIFIED
from .scheme import result_from_joint

__all__ = ["Certificate", "certify_basis", "MAX_CERTIFY_BASIS", "certificate_fields",
           "verified_result"]

#: Largest square basis system solved exactly by default.
MAX_CERTIFY_BASIS = 1500


@dataclass
class Certificate:
    ok: bool
    value: Fraction | None
    message: str
    x: dict = field(default_factory=dict)  # basic column -> exact value (others are 0)
    y: dict = field(default_factory=dict)  # non-basic row -> exact dual value
    basis_size: int = 0


def _fmpq(v):
    import flint

    v = Fraction(v)
    return flint.fmpq(v.numerator, v.denominator)


def _frac(q) -> Fraction:
    return Fraction(int(q.p), int(q.q))


def certify_basis(lp: SparseLP, col_basic: np.ndarray, row_status: list[str], *,
                  max_basis: int = MAX_CERTIFY_BASIS) -> Certificate:
    """Check exactly that the basis ``(col_basic, row_status)`` is optimal for ``lp``.

    ``lp`` must hold exact data: Fractions in ``c``, ``data``, and in the bounds
    (``None`` for an infinite bound). Returns a :class:`Certificate`; ``ok`` is False
    with a reason in ``message`` when a check fails. Raises
    :class:`~persuasion.errors.CertificationError` when the basis system is larger
    than ``max_basis``.
    """
    import flint

    B = np.flatnonzero(col_basic)
    N = [i for i, s in enumerate(row_status) if s != BASIC]
    k = len(B)
    if k != len(N):
        return Certificate(False, None, f"the basis is not square ({k} basic columns, "
                                        f"{len(N)} non-basic rows)")
    if k > max_basis:
        raise CertificationError(
            f"exact certification needs a {k}x{k} rational solve, above the limit "
            f"max_basis={max_basis}; raise the limit or certify a smaller game")
    pos = {int(j): p for p, j in enumerate(B)}

    def bound(i):
        """The bound a non-basic row sits at (None if that bound is infinite: then the
        basis is invalid, never silently evaluated at the other bound)."""
        return lp.row_upper[i] if row_status[i] == UPPER else lp.row_lower[i]

    M = flint.fmpq_mat(k, k) if k else None
    rhs = flint.fmpq_mat(k, 1) if k else None
    for r, i in enumerate(N):
        b = bound(i)
        if b is None:
            return Certificate(False, None, f"row {i} is non-basic at an infinite bound")
        rhs[r, 0] = _fmpq(b)
        idx, vals = lp.row(i)
        for j, v in zip(idx, vals):
            p = pos.get(int(j))
            if p is not None and v != 0:
                M[r, p] = _fmpq(v)
    if k:
        try:
            xb = M.solve(rhs)
        except ZeroDivisionError:
            return Certificate(False, None, "the basis matrix is singular in exact arithmetic")
        x = {int(B[p]): _frac(xb[p, 0]) for p in range(k)}
    else:
        x = {}
    # 1. primal feasibility
    for j, v in x.items():
        if v < 0:
            return Certificate(False, None, f"primal infeasible: basic column {j} = {v} < 0",
                               basis_size=k)
    for i, s in enumerate(row_status):
        if s != BASIC:
            continue
        idx, vals = lp.row(i)
        act = sum((Fraction(v) * x[int(j)] for j, v in zip(idx, vals) if int(j) in x), Fraction(0))
        lo, up = lp.row_lower[i], lp.row_upper[i]
        if (lo is not None and act < lo) or (up is not None and act > up):
            return Certificate(False, None, f"primal infeasible: row {i} activity {act} "
                                            f"outside [{lo}, {up}]", basis_size=k)
    # 2. dual feasibility
    if k:
        cb = flint.fmpq_mat(k, 1)
        for p, j in enumerate(B):
            cb[p, 0] = _fmpq(lp.c[j])
        try:
            yn = M.transpose().solve(cb)
        except ZeroDivisionError:
            return Certificate(False, None, "the basis matrix is singular in exact arithmetic")
        y = {N[r]: _frac(yn[r, 0]) for r in range(k)}
    else:
        y = {}
    for i, yi in y.items():
        lo, up = lp.row_lower[i], lp.row_upper[i]
        equality = lo is not None and up is not None and lo == up
        if equality:
            continue
        if row_status[i] == LOWER and yi > 0:
            return Certificate(False, None, f"dual infeasible: row {i} at its lower bound has "
                                            f"dual {yi} > 0", basis_size=k)
        if row_status[i] == UPPER and yi < 0:
            return Certificate(False, None, f"dual infeasible: row {i} at its upper bound has "
                                            f"dual {yi} < 0", basis_size=k)
    # reduced costs d = c - y A, accumulated over the rows that carry a dual value
    d = np.array([Fraction(v) for v in lp.c], dtype=object)
    for i, yi in y.items():
        if yi == 0:
            continue
        idx, vals = lp.row(i)
        for j, v in zip(idx, vals):
            d[j] -= yi * Fraction(v)
    nonbasic_positive = [j for j in range(lp.n_cols) if not col_basic[j] and d[j] > 0]
    if nonbasic_positive:
        j = nonbasic_positive[0]
        return Certificate(False, None, f"dual infeasible: column {j} has reduced cost "
                                        f"{d[j]} > 0 ({len(nonbasic_positive)} such columns)",
                           basis_size=k)
    value = sum((Fraction(lp.c[j]) * v for j, v in x.items()), Fraction(0))
    dual_value = sum((yi * Fraction(bound(i)) for i, yi in y.items()), Fraction(0))
    if value != dual_value:  # cannot happen for a square non-singular basis
        return Certificate(False, None, f"primal value {value} != dual value {dual_value}",
                           basis_size=k)
    return Certificate(True, value, "optimal basis verified in exact arithmetic", x, y, k)


# ------------------------------------------------------ a verified solve as a result
def certificate_fields(ver, certify: bool, details: dict) -> tuple[dict, Fraction | None, bool]:
    """Status keywords, exact value and the certified flag of a verified solve ``ver``,
    as the result reports them; records the certificate in ``details`` (only when
    ``certify`` is asked for)."""
    if not certify:
        return {}, None, False
    cert = ver.certificate
    if ver.exact:
        details["certificate"] = {"ok": True, "message": cert.message,
                                  "basis_size": cert.basis_size}
        how = ("optimal, certified exactly" if ver.how == "exact basis" else
               "optimal, certified exactly (after an exact re-solve: the float basis was "
               "not optimal in exact arithmetic)")
        return {"status": STATUS_CERTIFIED, "message": how}, cert.value, True
    message = cert.message if cert is not None else "; ".join(ver.notes)
    details["certificate"] = {"ok": False, "message": message,
                              "basis_size": cert.basis_size if cert is not None else None}
    return ({"status": STATUS_CERTIFICATION_FAILED,
             "message": f"float optimum; exact certification failed: {message}"}, None, False)


def verified_result(game, method: str, ver, joint: np.ndarray, profiles: list, *,
                    certify: bool, details: dict, exact_joint, t0: float, unique=None):
    """The :class:`~persuasion.result.PersuasionResult` of a verified LP solve.

    Parameters
    ----------
    game : Game or ReceiverTypesGame
    method : str
        ``"signaling"`` or ``"posterior"``.
    ver : persuasion.verified_lp.Verified
    joint : ndarray
        The float ``joint[state][signal]`` of the solution; ``profiles`` the action
        (profile) each signal recommends.
    certify : bool
        Whether certification was asked for (status, message and ``value_exact``).
    details : dict
        The method's details; the certificate and ``seconds_total`` (since ``t0``, a
        :func:`time.perf_counter` reading) are added to it.
    exact_joint : callable
        ``exact_joint(certificate)``: the exact joint (object array of Fractions) from
        the certificate's basic solution; called only when ``ver`` is exact and
        ``certify`` was asked for (it may add the method's exact extras to ``details``,
        e.g. the posterior LP's supporting hyperplane).
    unique : bool or None
        The result's ``unique``.

    Notes
    -----
    Steps: the value is the certificate's (exact) when the solve is exact, else the
    float objective mapped back through the game's rescaling
    (:attr:`~persuasion.game.Game.scaling`); the result is assembled by
    :func:`persuasion.scheme.result_from_joint`.
    """
    status_kw, value_exact, certified = certificate_fields(ver, certify, details)
    joint_exact = None
    if ver.exact:
        cert = ver.certificate
        value = float(cert.value)
        if certify:
            joint_exact = exact_joint(cert)
    else:
        value = game.scaling.value(ver.objective)
    details["seconds_total"] = time.perf_counter() - t0
    res = result_from_joint(game, method, joint, profiles, value=value, details=details,
                            joint_exact=joint_exact, **status_kw)
    res.value_exact = value_exact
    res.certified = certified
    res.unique = unique
    return res
