"""The LP over posteriors (concavification; Kamenica & Gentzkow 2011).

The sender's value function ``V(mu) = sum_t rho_t max_{a in BR_t(mu)} mu @ v[:, a]``
(sender-preferred ties) is linear on each best-response cell, so its concave closure
at the prior is reached by mixing finitely many *candidate posteriors*: the vertices of
the cells, each labelled with the cell's action (or action profile, for receiver types).

Steps:

1. for each action ``a`` (profile ``s``), enumerate the exact vertices of the cell
   ``P_a = {mu in simplex : (u[:,a] - u[:,a']) @ mu >= 0 for all a'}``
   (:mod:`persuasion.vertices`, double description in integer arithmetic);
2. candidate ``k`` = (vertex ``mu_k``, action ``a_k``), value ``w_k = mu_k @ v[:, a_k]``;
   a posterior found in several cells keeps the label with the largest ``w_k``
   (sender-preferred tie-breaking; equal values keep the first action);
3. maximise ``sum_k tau_k w_k`` subject to ``sum_k tau_k mu_k = mu0`` (Bayes
   plausibility) and ``tau >= 0``, with HiGHS;
4. the signals are the candidates with ``tau_k > 0``; the scheme is
   ``pi(k | w) = tau_k mu_k(w) / mu0(w)``.

A basic optimal solution uses at most ``n`` posteriors (Caratheodory). The number of
vertices can grow exponentially with ``n``: the enumeration stops at ``max_vertices``
with a message pointing to the signaling LP, which scales polynomially.
"""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np

from .certify import verified_result
from .errors import ProblemTooLargeError
from .highs import SparseLP
from .signaling_lp import action_profiles
from .verified_lp import solve_verified
from .vertices import polytope_vertices, upper_bound_vertices

__all__ = ["solve_posterior_lp", "candidate_posteriors", "MAX_VERTICES", "MAX_CELLS"]

#: Default ceiling on the number of cell vertices enumerated.
MAX_VERTICES = 5000
#: Default ceiling on the number of cells (action profiles, m^T) examined.
MAX_CELLS = 4096


def _too_large(what: str) -> ProblemTooLargeError:
    return ProblemTooLargeError(
        f"posterior LP: {what}. The number of candidate posteriors can grow exponentially "
        f"with the number of states; use method='signaling' (persuasion solve --method "
        f"signaling), which has no such limit, or raise the limit.")


def candidate_posteriors(game, *, max_vertices: int = MAX_VERTICES, max_cells: int = MAX_CELLS):
    """Exact candidate posteriors with their labels and values.

    Returns
    -------
    posteriors : list of tuple of Fraction
        Distinct vertices of the non-empty best-response cells.
    profiles : list of tuple of int
        The action (one per type) each candidate induces (sender-preferred).
    values : list of Fraction
        The sender's expected utility ``w_k`` at each candidate.
    stats : dict
        ``vertex_count`` (with repetitions across cells), ``distinct``,
        ``nonempty_cells``, ``cells``, ``upper_bound`` (McMullen's bound summed over
        cells), ``seconds``.
    """
    t0 = time.perf_counter()
    n, m, T = game.n_states, game.n_actions, game.n_types
    n_cells = m ** T
    if n_cells > max_cells:
        raise _too_large(f"{m}^{T} = {n_cells} action-profile cells exceed max_cells={max_cells}")
    U = game.receiver_utilities_exact
    V = game.sender_utility_exact
    rho = game.type_probabilities_exact
    bound = upper_bound_vertices(n - 1, n + T * (m - 1)) * n_cells
    best: dict[tuple, tuple[Fraction, tuple]] = {}
    total = 0
    nonempty = 0
    for prof in action_profiles(m, T):
        prof = tuple(int(a) for a in prof)
        rows = [[U[t][w, a] - U[t][w, b] for w in range(n)]
                for t, a in enumerate(prof) for b in range(m) if b != a]
        try:
            verts = polytope_vertices(n, rows, max_vertices=max_vertices - total)
        except ProblemTooLargeError:
            raise _too_large(f"vertex enumeration passed max_vertices={max_vertices}") from None
        if verts:
            nonempty += 1
        total += len(verts)
        if total > max_vertices:
            raise _too_large(f"vertex enumeration passed max_vertices={max_vertices}")
        for mu in verts:
            w = sum((rho[t] * sum((mu[i] * V[i, a] for i in range(n)), Fraction(0))
                     for t, a in enumerate(prof)), Fraction(0))
            old = best.get(mu)
            if old is None or w > old[0]:
                best[mu] = (w, prof)
    posts = list(best)
    stats = {"vertex_count": total, "distinct": len(posts), "nonempty_cells": nonempty,
             "cells": n_cells, "upper_bound": bound, "seconds": time.perf_counter() - t0}
    return posts, [best[p][1] for p in posts], [best[p][0] for p in posts], stats


def _posterior_lp(prior, posts_matrix, values) -> SparseLP:
    """Rows: Bayes plausibility per state; columns: candidates."""
    P = np.asarray(posts_matrix)  # (n, K)
    n, K = P.shape
    exact = P.dtype == object
    nz = P != 0
    counts = nz.sum(1)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    cols = np.broadcast_to(np.arange(K), (n, K))
    prior_arr = np.array(list(prior), dtype=object if exact else float)
    return SparseLP(c=np.asarray(values, dtype=object if exact else float), indptr=indptr,
                    indices=cols[nz], data=P[nz], row_lower=prior_arr, row_upper=prior_arr.copy())


def solve_posterior_lp(game, *, certify: bool = False, check_unique: bool = True,
                       max_vertices: int = MAX_VERTICES, max_cells: int = MAX_CELLS,
                       max_certify_basis: int | None = None):
    """Solve the game by the LP over candidate posteriors. See the module docstring.

    Parameters
    ----------
    game : Game or ReceiverTypesGame
    certify : bool
        Verify the optimal basis exactly; the dual ``y`` is the supporting hyperplane
        of the concave closure at the prior (``y @ mu_k >= w_k`` for every candidate,
        ``y @ mu0 = value``), reported in ``details["hyperplane"]``.
    check_unique : bool
        Ignored (kept for a uniform signature): ``unique`` is ``None`` for this method.
        The LP ranges over cell *vertices* only, so a unique optimum among them does not
        exclude optimal schemes with non-vertex posteriors (e.g. revealing nothing when
        the prior lies on a flat piece of cav V). Whether the optimal direct
        (recommendation) scheme is unique is decided by the signaling LP.
    max_vertices, max_cells : int
        Size limits of the enumeration (:class:`~persuasion.errors.ProblemTooLargeError`).
    """
    t0 = time.perf_counter()
    posts, profiles, values, stats = candidate_posteriors(game, max_vertices=max_vertices,
                                                          max_cells=max_cells)
    n, K = game.n_states, len(posts)
    P_exact = np.array(posts, dtype=object).T.reshape(n, K)
    P = P_exact.astype(float)
    # the LP is solved on the rescaled sender utility (same optimal bases, see
    # persuasion.scaling); its value is mapped back
    scaling = game.scaling
    rho = game.type_probabilities
    Vs = scaling.sender
    w = np.array([sum(rho[t] * float(P[:, k] @ Vs[:, a]) for t, a in enumerate(profiles[k]))
                  for k in range(K)])
    lp = _posterior_lp(game.prior, P, w)
    ver = solve_verified(lp, lambda: _posterior_lp(game.prior_exact, P_exact, values),
                         certify=certify, max_certify_basis=max_certify_basis,
                         what="the posterior LP",
                         finest_difference=scaling.finest_difference)
    tau = np.clip(ver.x, 0, None)
    joint = P * tau[None, :]
    details = {"n_candidates": K, "vertex_count": stats["vertex_count"],
               "nonempty_cells": stats["nonempty_cells"], "cells": stats["cells"],
               "vertex_upper_bound": stats["upper_bound"],
               "seconds_enumeration": stats["seconds"],
               "seconds_solve": ver.solution.seconds if ver.solution is not None else None,
               "verification": ver.details(), "rescaled_exactly": scaling.exact}

    def exact_joint(cert):
        tau_e = [cert.x.get(k, Fraction(0)) for k in range(K)]
        details["hyperplane"] = [cert.y.get(i, Fraction(0)) for i in range(n)]
        return np.array([[P_exact[i, k] * tau_e[k] for k in range(K)] for i in range(n)],
                        dtype=object)

    return verified_result(game, "posterior", ver, joint, profiles, certify=certify,
                           details=details, exact_joint=exact_joint, t0=t0)
