"""The signaling LP over action recommendations (revelation principle).

Dughmi & Xu, "Algorithmic Bayesian Persuasion", STOC 2016 (one receiver); for a
receiver of unknown type with a public scheme, Xu, "On the tractability of public
persuasion with no externalities", SODA 2020, and Castiglioni et al., "Online Bayesian
Persuasion", NeurIPS 2020: signals are action *profiles*, one action per type.

Steps:

1. signals ``s`` are action profiles ``(s_1, ..., s_T)`` (for one receiver, the
   actions themselves: ``m`` signals);
2. variables ``x[w, s] = mu0(w) * pi(s | w) >= 0``;
3. maximise ``sum_{w,s} x[w,s] * sum_t rho_t v(w, s_t)``;
4. consistency: ``sum_s x[w, s] = mu0(w)`` for every state ``w``;
5. obedience: ``sum_w x[w,s] (u_t(w, s_t) - u_t(w, a')) >= 0`` for every signal ``s``,
   type ``t`` and action ``a' != s_t`` (ties go the sender's way);
6. solve with HiGHS's dual simplex, started from a dual-feasible basis (each state's
   favourite column basic, every obedience slack basic: :func:`dual_feasible_basis`),
   and read the scheme off ``x``.

Size for one receiver: ``n m`` variables, ``n + m (m - 1)`` rows, ``n m (m - 1) + n m``
non-zeros; the matrix is built row-wise with numpy in one pass. With ``T`` types the
signal count is ``m^T``: the types LP is refused above ``max_variables``. Every LP is
refused, before it is built, when its estimated peak memory is above the limit of
:mod:`persuasion.memory` (``max_memory``).
"""

from __future__ import annotations

import itertools
import time
from fractions import Fraction

import numpy as np

from .certify import verified_result
from .errors import ProblemTooLargeError
from .highs import SparseLP, optimum_is_unique
from .memory import check_signaling_memory
from .verified_lp import solve_verified

__all__ = ["solve_signaling_lp", "build_signaling_lp", "action_profiles", "dual_feasible_basis",
           "MAX_TYPES_VARIABLES"]

#: Default ceiling on the variables (n * m^T) of the receiver-types signaling LP.
MAX_TYPES_VARIABLES = 2_000_000


def action_profiles(n_actions: int, n_types: int) -> np.ndarray:
    """All action profiles, shape (m^T, T), in lexicographic order."""
    if n_types == 1:
        return np.arange(n_actions)[:, None]
    return np.array(list(itertools.product(range(n_actions), repeat=n_types)), dtype=np.int64)


def build_signaling_lp(prior, V, U, rho, profiles, margin=0) -> SparseLP:
    """Build the signaling LP (float arrays, or object arrays of Fractions for an exact copy).

    ``margin`` (``eta >= 0``) asks for *strict* obedience with margin ``eta``: each
    recommended action beats every deviation by at least ``eta`` in expectation under
    its posterior, ``sum_w x[w,s] (u_t(w,s_t) - u_t(w,a') - eta) >= 0``. The regret bound
    of the robust learner (:mod:`theory.bounds`) uses it.

    Columns are signal-major: column ``s * n + w`` is ``x[w, s]``. Rows: ``n`` consistency
    rows, then the obedience rows ordered by (signal, type, deviation).
    """
    exact = np.asarray(V).dtype == object
    n, m = V.shape
    S, T = profiles.shape
    # objective c[s, w] = sum_t rho_t V[w, s_t]
    if T == 1:
        c = np.asarray(V).T[profiles[:, 0]]  # (S, n)
    else:
        c = sum(rho[t] * np.asarray(V).T[profiles[:, t]] for t in range(T))
    c = np.ascontiguousarray(c).reshape(-1)
    # obedience rows: diff[s, t, a', w] = U[t, w, s_t] - U[t, w, a'], a' != s_t
    Ut = np.asarray(U).transpose(0, 2, 1)  # (T, m, n)
    chosen = Ut[np.arange(T)[None, :], profiles]  # (S, T, n)
    diff = chosen[:, :, None, :] - Ut[None, :, :, :]  # (S, T, m, n)
    if margin:
        diff = diff - margin
    keep = np.arange(m)[None, None, :] != profiles[:, :, None]  # (S, T, m)
    ob = diff[keep]  # (S*T*(m-1), n), ordered (s, t, a')
    n_ob = ob.shape[0]
    ob_signal = np.repeat(np.arange(S), T * (m - 1))
    ob_cols = ob_signal[:, None] * n + np.arange(n)[None, :]
    nz = ob != 0
    ob_counts = nz.sum(1)
    # consistency rows: row w has x[w, s] for all s, coefficient 1
    cons_cols = (np.arange(S)[None, :] * n + np.arange(n)[:, None])  # (n, S)
    indptr = np.empty(n + n_ob + 1, dtype=np.int64)
    indptr[0] = 0
    counts = np.concatenate([np.full(n, S, dtype=np.int64), ob_counts])
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate([cons_cols.reshape(-1), ob_cols[nz]])
    if exact:
        one = Fraction(1)
        data = np.concatenate([np.full(n * S, one, dtype=object), ob[nz]])
        row_lower = np.array(list(prior) + [Fraction(0)] * n_ob, dtype=object)
        row_upper = np.array(list(prior) + [None] * n_ob, dtype=object)
    else:
        data = np.concatenate([np.ones(n * S), ob[nz]])
        row_lower = np.concatenate([prior, np.zeros(n_ob)])
        row_upper = np.concatenate([prior, np.full(n_ob, np.inf)])
    return SparseLP(c=c, indptr=indptr, indices=indices, data=data,
                    row_lower=row_lower, row_upper=row_upper)


def dual_feasible_basis(lp: SparseLP, n_states: int):
    """A dual-feasible starting basis of the signaling LP.

    For every state ``w`` the column ``x[w, s]`` with the largest objective coefficient is
    basic, every obedience row's slack is basic, and the consistency rows sit at their
    bound. The duals are then ``y_w = max_s c[s, w]`` on the consistency rows and 0 on
    the obedience rows, so every reduced cost ``c[s, w] - y_w`` is ``<= 0``: the basis is
    dual feasible (its primal is "recommend the sender's favourite action in each state",
    which obedience may cut off), and the dual simplex starts in phase 2. On dense
    random 100 x 100 games this is several hundred times faster than a cold start.
    """
    n = n_states
    S = lp.n_cols // n
    c = np.asarray(lp.c, dtype=float).reshape(S, n)
    best = np.argmax(c, axis=0)  # per state
    col_basic = np.zeros(lp.n_cols, dtype=bool)
    col_basic[best * n + np.arange(n)] = True
    row_basic = np.ones(lp.n_rows, dtype=bool)
    row_basic[:n] = False
    return col_basic, row_basic


def _profiles_for(game, max_variables: int) -> np.ndarray:
    n, m, T = game.n_states, game.n_actions, game.n_types
    n_signals = m ** T
    if T > 1 and n * n_signals > max_variables:
        raise ProblemTooLargeError(
            f"the receiver-types signaling LP has one signal per action profile: "
            f"{m}^{T} = {n_signals} signals and {n * n_signals} variables, above "
            f"max_variables={max_variables}. Reduce the number of types or actions, or "
            f"raise max_variables.")
    return action_profiles(m, T)


def solve_signaling_lp(game, *, certify: bool = False, check_unique: bool = True,
                       max_variables: int = MAX_TYPES_VARIABLES, max_certify_basis: int | None = None,
                       solver: str = "simplex", warm_start: bool = True,
                       max_memory: float | None = None):
    """Solve the game by the signaling LP. See the module docstring for the steps.

    Parameters
    ----------
    game : Game or ReceiverTypesGame
    certify : bool
        Re-solve the optimal basis in exact rationals and check primal feasibility and
        the dual certificate (:mod:`persuasion.certify`).
    check_unique : bool
        Decide whether the optimal recommendation scheme is unique (one extra LP when
        the dual is degenerate).
    max_variables : int
        Ceiling on ``n * m^T`` for receiver-types games.
    solver : {"simplex", "ipm", "choose"}
        HiGHS algorithm.
    warm_start : bool
        Start the dual simplex from :func:`dual_feasible_basis` (default; ignored for
        ``solver="ipm"``).
    max_memory : float, optional
        Limit in bytes on the estimated peak memory of the solve
        (:func:`persuasion.memory.check_signaling_memory`: checked before anything is
        built; default ``$PERSUASION_MAX_MEMORY`` GiB or 80% of the machine's memory).

    Returns
    -------
    PersuasionResult
        Signals are the recommended actions (profiles) with positive probability.
    """
    t0 = time.perf_counter()
    profiles = _profiles_for(game, max_variables)
    memory = check_signaling_memory(game.n_states, game.n_actions, game.n_types, max_memory)
    scaling = game.scaling
    lp = build_signaling_lp(game.prior, scaling.sender, scaling.receivers,
                            game.type_probabilities, profiles)
    t_build = time.perf_counter() - t0
    start = dual_feasible_basis(lp, game.n_states) if warm_start and solver != "ipm" else None

    def exact_lp():
        return build_signaling_lp(list(game.prior_exact), game.sender_utility_exact,
                                  game.receiver_utilities_exact,
                                  list(game.type_probabilities_exact), profiles)

    ver = solve_verified(lp, exact_lp, certify=certify, solver=solver, start_basis=start,
                         max_certify_basis=max_certify_basis, what="the signaling LP",
                         finest_difference=scaling.finest_difference,
                         column_scale=np.tile(game.prior, profiles.shape[0]))
    n, S = game.n_states, profiles.shape[0]
    joint = np.clip(ver.x, 0, None).reshape(S, n).T  # [state][signal]
    details = {
        "n_variables": lp.n_cols, "n_constraints": lp.n_rows, "nonzeros": lp.nnz,
        "seconds_build": t_build, "estimated_memory_bytes": memory,
        "seconds_solve": ver.solution.seconds if ver.solution is not None else None,
        "verification": ver.details(), "rescaled_exactly": scaling.exact,
    }
    unique = None
    if check_unique and ver.how != "exact re-solve":
        unique = optimum_is_unique(lp, ver.solution, tol=game.tol)

    def exact_joint(cert):
        xe = [cert.x.get(j, Fraction(0)) for j in range(lp.n_cols)]
        return np.array([[xe[s * n + w] for s in range(S)] for w in range(n)], dtype=object)

    return verified_result(game, "signaling", ver, joint, list(map(tuple, profiles)),
                           certify=certify, details=details, exact_joint=exact_joint, t0=t0,
                           unique=unique)
