r"""Robust persuasion with an unknown prior: the robust signaling LP.

Zu, Iyer & Xu, "Learning to Persuade on the Fly: Robustness Against Ignorance",
EC 2021 (arXiv 2102.10156). The sender does not know the prior ``mu``; she has an
estimate ``mu_hat`` (the empirical distribution of the states seen so far) and a
radius ``eps`` such that, with high probability, ``mu`` lies in the confidence set

    B = { mu in R^n : mu >= 0, sum(mu) = 1, ||mu - mu_hat||_1 <= eps }.

She commits to a scheme ``pi(a | w)`` that maximises her expected utility under
``mu_hat`` subject to obedience under **every** prior in ``B``. The variables are the
conditional probabilities ``pi(a | w)``, not the joint ``x[w, a] = mu(w) pi(a | w)``
of the ordinary signaling LP (:mod:`persuasion.signaling_lp`), because the joint
depends on the unknown prior.

Robust obedience as linear constraints (the derivation checked here)
---------------------------------------------------------------------
Fix a recommendation ``a`` and a deviation ``a' != a`` and write
``c_w = pi(a | w) (u(w, a) - u(w, a'))`` (linear in ``pi``). Obedience under ``mu``
is ``mu @ c >= 0``; robust obedience is ``min_{mu in B} mu @ c >= 0``. With a slack
``s >= |mu - mu_hat|`` the inner minimisation is the LP (dual variables on the right)

    min_{mu, s}  c @ mu
    s.t.   sum_w mu_w            = 1            (y, free)
           s_w - mu_w        >= -mu_hat_w       (alpha_w >= 0)   [s_w >= mu_w - mu_hat_w]
           s_w + mu_w        >=  mu_hat_w       (beta_w  >= 0)   [s_w >= mu_hat_w - mu_w]
           - sum_w s_w       >= -eps            (lambda  >= 0)
           mu >= 0, s >= 0.

Its dual (one row per primal column: ``mu_w`` gives ``y - alpha_w + beta_w <= c_w``,
``s_w`` gives ``alpha_w + beta_w - lambda <= 0``) is

    max_{y, alpha, beta, lambda}  y + sum_w mu_hat_w (beta_w - alpha_w) - eps lambda
    s.t.   y - alpha_w + beta_w <= c_w          for every w,
           alpha_w + beta_w     <= lambda       for every w,
           y free, alpha >= 0, beta >= 0, lambda >= 0.

The primal is feasible (``mu = mu_hat, s = 0``) and bounded (``mu`` lies in the
simplex and ``0 <= s``, ``sum s <= eps``), so strong duality holds: both optima are
equal. Hence ``min_{mu in B} mu @ c >= 0`` iff some dual-feasible
``(y, alpha, beta, lambda)`` has a non-negative dual objective (weak duality gives
"if", strong duality "only if"). Since ``c`` enters the dual only on the right-hand
side and linearly in ``pi``, the conditions are jointly linear in
``(pi, y, alpha, beta, lambda)``: one such *dual block* per pair ``(a, a')`` turns
the robust problem into a single LP. (The constraint ``s >= 0`` is implied by
``s >= |mu - mu_hat|``; keeping it only turns the dual's ``alpha_w + beta_w =
lambda`` into ``<=``.)

The dual block reads the adversary's move: the worst prior in ``B`` moves up to
``eps / 2`` of mass from the states with the largest ``c_w`` to the state with the
smallest (:func:`worst_case_prior_value`, a direct greedy that the tests use as an
independent check of the LP, together with :func:`scipy.optimize.linprog` on both
the primal and the dual).

The robust LP (maximise; every column ``>= 0``)
-----------------------------------------------
* columns ``s * n + w`` (``n S`` of them): ``pi(s | w)`` -- signal-major as in
  :func:`persuasion.signaling_lp.build_signaling_lp`;
* one dual block per obedience constraint, ordered (signal, type, deviation) as in
  the signaling LP; block ``b`` occupies the ``2n + 3`` columns
  ``n S + b (2n + 3) + [y_plus, y_minus, lambda, alpha_0..alpha_{n-1},
  beta_0..beta_{n-1}]``. The free ``y`` is split as ``y = y_plus - y_minus``
  (exact; no bound on ``y`` is assumed);
* rows: ``n`` rows ``sum_s pi(s | w) = 1``; then per block ``2n + 1`` rows:
  ``y + mu_hat @ (beta - alpha) - eps lambda >= 0``, the ``n`` rows
  ``y - alpha_w + beta_w - pi(s | w) d_w <= 0`` with
  ``d_w = u_t(w, s_t) - u_t(w, a')``, and the ``n`` rows
  ``alpha_w + beta_w - lambda <= 0``;
* objective: the sender's expected utility under ``mu_hat``,
  ``sum_w mu_hat(w) sum_s pi(s | w) sum_t rho_t v(w, s_t)``.

Size for one receiver (``S = m`` signals, ``m (m - 1)`` blocks): ``n m + m (m - 1)
(2n + 3)`` columns, ``n + m (m - 1) (2n + 1)`` rows, at most ``n m + m (m - 1)
(10 n + 3)`` non-zeros (zeros of ``mu_hat``, ``d`` and ``eps`` are dropped). For
``n = m = 10``: 2,170 columns and 1,900 rows, built with numpy in about a
millisecond. For a :class:`~persuasion.game.ReceiverTypesGame` with ``T`` types the
signals are the ``S = m^T`` action profiles and there are ``S T (m - 1)`` blocks
(one per signal, type and deviation); the LP is refused above ``max_variables``.

Notes
-----
* ``eps >= 2`` makes ``B`` the whole simplex (2 is the L1 diameter of the simplex),
  so ``eps`` is capped at 2 inside the LP (same set, better numbers).
* ``eps = 0`` gives ``B = {mu_hat}`` and the LP reduces to the ordinary signaling LP
  at ``mu_hat`` (substitute ``x = mu_hat * pi``): same value.
* Full revelation in recommendation form (each state ``w`` recommends a best
  response to ``w``, sender-preferred among ties) is feasible for every ``eps``:
  every ``c_w >= 0``, and ``y = alpha = beta = lambda = 0`` is a certificate. It is
  the fallback of :func:`solve_robust`. When ``B`` is the whole simplex, robust
  obedience at the point masses forces every recommended action to be a best
  response in every state that recommends it, so full revelation is optimal there.
* Tie-breaking: robust obedience makes the recommended action *a* best response for
  every prior in ``B``; a receiver who breaks ties in the sender's favour does at
  least as well for the sender, so :attr:`RobustScheme.robust_value` (computed for
  an obedient receiver) is a lower bound on what the scheme earns under any prior in
  ``B`` with sender-preferred tie-breaking.
* The LP is built in floating point only (no exact certification).
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import numpy as np

from .checks import check_int
from .errors import GameValidationError, ProblemTooLargeError, SolverError
from .highs import SparseLP, solve_lp
from .signaling_lp import MAX_TYPES_VARIABLES, action_profiles

__all__ = [
    "l1_confidence_radius", "worst_case_prior", "worst_case_prior_value",
    "build_robust_signaling_lp", "robust_lp_size", "full_revelation_scheme",
    "solve_robust", "RobustScheme", "L1_DIAMETER",
]

#: The L1 diameter of the probability simplex: ``||mu - nu||_1 <= 2`` for all priors.
L1_DIAMETER = 2.0


# --------------------------------------------------------------------------- validation
def _check_eps(eps) -> float:
    """Validate a radius ``eps >= 0`` (``inf`` allowed); return it capped at 2."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise GameValidationError("eps", f"expected a non-negative number, got {eps!r}")
    eps = float(eps)
    if math.isnan(eps) or eps < 0:
        raise GameValidationError("eps", f"expected a non-negative number, got {eps!r}")
    return min(eps, L1_DIAMETER)


def _check_distribution(values, n: int | None, field: str, tol: float = 1e-9) -> np.ndarray:
    """Validate a probability vector (length ``n`` if given); return it renormalised."""
    try:
        p = np.array(values, dtype=float)
    except (TypeError, ValueError):
        raise GameValidationError(field, f"expected a vector of probabilities, got {values!r}") from None
    if p.ndim != 1 or p.size == 0:
        raise GameValidationError(field, f"expected a non-empty 1-dimensional vector, got shape {p.shape}")
    if n is not None and p.size != n:
        raise GameValidationError(field, f"has {p.size} entries, expected {n} (one per state)")
    if not np.all(np.isfinite(p)):
        raise GameValidationError(field, "contains NaN or infinite entries")
    if (p < 0).any():
        i = int(np.flatnonzero(p < 0)[0])
        raise GameValidationError(field, f"entry {i} is negative ({p[i]:g})")
    total = p.sum()
    if abs(total - 1) > max(tol, 1e-12):
        raise GameValidationError(field, f"entries sum to {total:.12g}, expected 1 within {tol:g}")
    return p / total


def _check_game(game):
    needed = ("n_states", "n_actions", "n_types", "sender_utility", "receiver_utilities",
              "type_probabilities")
    if not all(hasattr(game, a) for a in needed):
        raise GameValidationError("game", f"expected a Game or ReceiverTypesGame, got "
                                          f"{type(game).__name__}")


# ------------------------------------------------------------------ confidence radius
def l1_confidence_radius(t, n_states, delta, *, cap: bool = True) -> float:
    """Radius of the L1 confidence set around an empirical prior (Weissman et al. 2003).

    Weissman, Ordentlich, Seroussi, Verdu & Weinberger, "Inequalities for the L1
    deviation of the empirical distribution" (HP Labs, 2003): for the empirical
    distribution ``mu_hat_t`` of ``t`` i.i.d. draws from ``mu`` on ``n`` points,

        P(||mu_hat_t - mu||_1 >= eps) <= (2^n - 2) exp(-t eps^2 / 2),

    so with probability at least ``1 - delta`` the prior lies within

        eps_t = sqrt(2 (ln(2^n - 2) + ln(1 / delta)) / t).

    Parameters
    ----------
    t : int
        Number of observed states, ``t >= 0``.
    n_states : int
        Number of states, ``n >= 1``.
    delta : float
        Failure probability, ``0 < delta <= 1``.
    cap : bool
        Cap the radius at 2, the L1 diameter of the simplex (a ball of radius 2 around
        any prior is already the whole simplex). With ``cap=False`` the raw formula is
        returned and ``t = 0`` gives ``inf``.

    Returns
    -------
    float
        ``0.0`` when ``n = 1`` (the simplex is a point: ``mu_hat = mu`` always, for any
        ``t``); ``2.0`` (or ``inf`` with ``cap=False``) when ``t = 0`` and ``n >= 2``;
        otherwise the formula above (``ln(2^n - 2)`` is evaluated stably as
        ``n ln 2 + log1p(-2^(1-n))``).

    Examples
    --------
    >>> round(l1_confidence_radius(100, 2, 0.05), 6)
    0.27162
    >>> l1_confidence_radius(0, 3, 0.1), l1_confidence_radius(5, 1, 0.1)
    (2.0, 0.0)
    """
    t = check_int(t, "t", 0)
    n = check_int(n_states, "n_states")
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not (0 < float(delta) <= 1):
        raise GameValidationError("delta", f"expected a probability in (0, 1], got {delta!r}")
    if n == 1:
        return 0.0
    if t == 0:
        return L1_DIAMETER if cap else math.inf
    log_count = n * math.log(2.0) + math.log1p(-(2.0 ** (1 - n)))  # ln(2^n - 2)
    eps = math.sqrt(2.0 * (log_count + math.log(1.0 / float(delta))) / t)
    return min(eps, L1_DIAMETER) if cap else eps


# ------------------------------------------------------------------ worst-case prior
def _greedy_worst_case(C: np.ndarray, mu_hat: np.ndarray, eps: float):
    """Row-wise ``min_{mu in B} mu @ C[i]`` by the greedy; returns (values, priors).

    The adversary picks the state ``k`` with the smallest ``c`` and moves
    ``budget = min(eps / 2, 1 - mu_hat[k])`` of mass to it, taken from the other
    states in decreasing order of ``c``. (Moving mass ``r`` changes the L1 distance
    by ``2 r``; every unit moved lowers ``mu @ c`` by ``c_j - c_k``, largest first.)
    """
    C = np.atleast_2d(C)
    order = np.argsort(-C, axis=1, kind="stable")  # largest c first; a minimiser last
    c_sorted = np.take_along_axis(C, order, axis=1)
    m_sorted = mu_hat[order]
    k = order[:, -1]
    budget = np.minimum(eps / 2.0, np.maximum(1.0 - mu_hat[k], 0.0))
    before = np.cumsum(m_sorted, axis=1) - m_sorted
    removed = np.clip(budget[:, None] - before, 0.0, m_sorted)
    removed[:, -1] = 0.0
    moved = removed.sum(1)  # == budget up to rounding
    values = (m_sorted * c_sorted).sum(1) - (removed * c_sorted).sum(1) + moved * c_sorted[:, -1]
    priors = np.repeat(mu_hat[None, :], C.shape[0], axis=0)
    rows = np.arange(C.shape[0])[:, None]
    priors[rows, order] -= removed
    priors[np.arange(C.shape[0]), k] += moved
    return values, priors


def _check_c(c) -> np.ndarray:
    try:
        arr = np.array(c, dtype=float)
    except (TypeError, ValueError):
        raise GameValidationError("c", f"expected a vector of numbers, got {c!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise GameValidationError("c", f"expected a non-empty 1-dimensional vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise GameValidationError("c", "contains NaN or infinite entries")
    return arr


def worst_case_prior(c, mu_hat, eps) -> np.ndarray:
    """A prior in ``B = {mu in simplex : ||mu - mu_hat||_1 <= eps}`` minimising ``mu @ c``.

    See :func:`worst_case_prior_value` for the greedy.
    """
    c = _check_c(c)
    mu_hat = _check_distribution(mu_hat, c.size, "mu_hat")
    eps = _check_eps(eps)
    return _greedy_worst_case(c, mu_hat, eps)[1][0]


def worst_case_prior_value(c, mu_hat, eps) -> float:
    """``min`` of ``mu @ c`` over ``B = {mu >= 0, sum(mu) = 1, ||mu - mu_hat||_1 <= eps}``.

    A direct greedy, independent of any LP: let ``k = argmin c``; move
    ``min(eps / 2, 1 - mu_hat[k])`` of probability mass to ``k``, taking it from the
    other states in decreasing order of ``c``. Optimal because ``mu @ c - mu_hat @ c``
    is a transport of mass from states ``j`` to states ``i`` at unit gain
    ``c_i - c_j >= c_k - c_j``, at most ``eps / 2`` can be moved, and the greedy
    realises the best gain for every unit.

    Parameters
    ----------
    c : array_like, shape (n,)
    mu_hat : array_like, shape (n,)
        A probability vector.
    eps : float
        Radius ``>= 0`` (``eps >= 2``, including ``inf``, gives ``min(c)``).

    Examples
    --------
    >>> round(worst_case_prior_value([1.0, -1.0], [0.5, 0.5], 0.4), 12)
    -0.4
    """
    c = _check_c(c)
    mu_hat = _check_distribution(mu_hat, c.size, "mu_hat")
    eps = _check_eps(eps)
    return float(_greedy_worst_case(c, mu_hat, eps)[0][0])


# ------------------------------------------------------------------ the robust LP
def _signals(game, max_variables: int) -> np.ndarray:
    n, m, T = game.n_states, game.n_actions, game.n_types
    S = m ** T
    n_cols = n * S + S * T * (m - 1) * (2 * n + 3)
    if T > 1 and n_cols > max_variables:
        raise ProblemTooLargeError(
            f"the robust signaling LP of a receiver-types game has one signal per action "
            f"profile ({m}^{T} = {S} signals) and one dual block per (signal, type, deviation): "
            f"{n_cols} variables, above max_variables={max_variables}. Reduce the number of "
            f"types or actions, or raise max_variables.")
    return action_profiles(m, T)


def _obedience_diffs(U: np.ndarray, profiles: np.ndarray):
    """``(block_signal (B,), D (B, n))`` with ``D[b, w] = u_t(w, s_t) - u_t(w, a')``,
    blocks ordered (signal s, type t, deviation a' != s_t)."""
    T, n, m = U.shape
    S = profiles.shape[0]
    Ut = U.transpose(0, 2, 1)  # (T, m, n)
    chosen = Ut[np.arange(T)[None, :], profiles]  # (S, T, n)
    diff = chosen[:, :, None, :] - Ut[None, :, :, :]  # (S, T, m, n)
    keep = np.arange(m)[None, None, :] != profiles[:, :, None]
    D = diff[keep]  # (S*T*(m-1), n)
    block_signal = np.repeat(np.arange(S), T * (m - 1))
    return block_signal, D


def _sender_by_signal(game, profiles: np.ndarray) -> np.ndarray:
    """``Vbar[w, s] = sum_t rho_t v(w, s_t)``, shape (n, S)."""
    V = np.asarray(game.sender_utility, dtype=float)
    rho = np.asarray(game.type_probabilities, dtype=float)
    return sum(rho[t] * V[:, profiles[:, t]] for t in range(profiles.shape[1]))


def robust_lp_size(n_states: int, n_actions: int, n_types: int = 1) -> dict:
    """Columns and rows of the robust signaling LP (see the module docstring)."""
    S = n_actions ** n_types
    blocks = S * n_types * (n_actions - 1)
    return {"n_variables": n_states * S + blocks * (2 * n_states + 3),
            "n_constraints": n_states + blocks * (2 * n_states + 1),
            "n_blocks": blocks}


def _build(game, mu_hat: np.ndarray, eps: float, profiles: np.ndarray):
    n = game.n_states
    S = profiles.shape[0]
    block_signal, D = _obedience_diffs(np.asarray(game.receiver_utilities, dtype=float), profiles)
    B = D.shape[0]
    W = 2 * n + 3  # columns per block: y+, y-, lambda, alpha (n), beta (n)
    n_pi = n * S
    base = n_pi + W * np.arange(B)  # (B,)
    ar = np.arange(n)
    # -- objective
    c = np.zeros(n_pi + B * W)
    c[:n_pi] = (mu_hat[:, None] * _sender_by_signal(game, profiles)).T.reshape(-1)
    # -- block rows, padded to width W: shape (B, 2n+1, W)
    R = 2 * n + 1
    cols = np.zeros((B, R, W), dtype=np.int64)
    data = np.zeros((B, R, W))
    # row 0: y+ - y- - eps*lambda - mu_hat@alpha + mu_hat@beta >= 0
    cols[:, 0, :] = base[:, None] + np.arange(W)[None, :]
    data[:, 0, :] = np.concatenate([[1.0, -1.0, -eps], -mu_hat, mu_hat])[None, :]
    # rows 1..n: y+ - y- - alpha_w + beta_w - d_w pi(s|w) <= 0
    rw = slice(1, n + 1)
    cols[:, rw, 0] = base[:, None]
    cols[:, rw, 1] = base[:, None] + 1
    cols[:, rw, 2] = base[:, None] + 3 + ar[None, :]
    cols[:, rw, 3] = base[:, None] + 3 + n + ar[None, :]
    cols[:, rw, 4] = block_signal[:, None] * n + ar[None, :]
    data[:, rw, 0] = 1.0
    data[:, rw, 1] = -1.0
    data[:, rw, 2] = -1.0
    data[:, rw, 3] = 1.0
    data[:, rw, 4] = -D
    # rows n+1..2n: alpha_w + beta_w - lambda <= 0
    rb = slice(n + 1, 2 * n + 1)
    cols[:, rb, 0] = base[:, None] + 3 + ar[None, :]
    cols[:, rb, 1] = base[:, None] + 3 + n + ar[None, :]
    cols[:, rb, 2] = base[:, None] + 2
    data[:, rb, 0] = 1.0
    data[:, rb, 1] = 1.0
    data[:, rb, 2] = -1.0
    nz = data != 0
    block_counts = nz.sum(2).reshape(-1)
    # -- consistency rows: sum_s pi(s|w) = 1
    cons_cols = np.arange(S)[None, :] * n + ar[:, None]  # (n, S)
    counts = np.concatenate([np.full(n, S, dtype=np.int64), block_counts])
    indptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate([cons_cols.reshape(-1), cols[nz]])
    values = np.concatenate([np.ones(n * S), data[nz]])
    row_kind_lower = np.concatenate([[0.0], np.full(2 * n, -np.inf)])
    row_kind_upper = np.concatenate([[np.inf], np.zeros(2 * n)])
    row_lower = np.concatenate([np.ones(n), np.tile(row_kind_lower, B)])
    row_upper = np.concatenate([np.ones(n), np.tile(row_kind_upper, B)])
    lp = SparseLP(c=c, indptr=indptr, indices=indices, data=values,
                  row_lower=row_lower, row_upper=row_upper)
    return lp, block_signal, D


def build_robust_signaling_lp(game, mu_hat, eps, *,
                              max_variables: int = MAX_TYPES_VARIABLES) -> SparseLP:
    """Build the robust signaling LP (see the module docstring for layout and size).

    Parameters
    ----------
    game : Game or ReceiverTypesGame
        Its own prior is ignored; ``mu_hat`` takes its place.
    mu_hat : array_like, shape (n_states,)
        The estimated prior (a probability vector).
    eps : float
        L1 radius of the confidence set, ``>= 0`` (capped at 2).
    max_variables : int
        Ceiling on the columns for receiver-types games.

    Returns
    -------
    SparseLP
        ``max c@x s.t. row_lower <= A x <= row_upper, x >= 0``; the first
        ``n_states * n_signals`` columns are ``pi(s | w)`` at ``s * n_states + w``.
    """
    _check_game(game)
    mu_hat = _check_distribution(mu_hat, game.n_states, "mu_hat", tol=getattr(game, "tol", 1e-9))
    eps = _check_eps(eps)
    profiles = _signals(game, max_variables)
    return _build(game, mu_hat, eps, profiles)[0]


# ------------------------------------------------------------------ full revelation
def full_revelation_scheme(game, *, tol: float | None = None):
    """Full revelation in recommendation form: ``(scheme (n, S), profiles (S, T))``.

    State ``w`` recommends, to each type ``t``, a best response of type ``t`` to ``w``
    (``argmax_a u_t(w, a)`` within ``tol``; among ties the one the sender prefers, then
    the lowest index). Obedient under every prior: each recommended action is a best
    response in every state that sends it, hence at every posterior they induce.
    """
    _check_game(game)
    tol = getattr(game, "tol", 1e-9) if tol is None else tol
    n, m, T = game.n_states, game.n_actions, game.n_types
    profiles = action_profiles(m, T)
    V = np.asarray(game.sender_utility, dtype=float)
    U = np.asarray(game.receiver_utilities, dtype=float)
    best = U >= U.max(axis=2, keepdims=True) - tol  # (T, n, m)
    score = np.where(best, V[None, :, :], -np.inf)
    choice = np.argmax(score, axis=2)  # (T, n): first maximiser = lowest index among ties
    weights = m ** np.arange(T - 1, -1, -1)
    index = (choice * weights[:, None]).sum(0)  # (n,) lexicographic profile index
    scheme = np.zeros((n, profiles.shape[0]))
    scheme[np.arange(n), index] = 1.0
    return scheme, profiles


# ------------------------------------------------------------------ solver
@dataclass
class RobustScheme:
    """A scheme obedient for every prior in the confidence set ``B``.

    Attributes
    ----------
    scheme : ndarray, shape (n_states, n_signals)
        ``P(recommend s | w)``; one column per signal (every action for one receiver,
        every action profile for receiver types; unused signals are zero columns).
    value_at_estimate : float
        Sender's expected utility under ``mu_hat`` (an obedient receiver).
    robust_value : float
        Worst case over ``B`` of the sender's expected utility with an obedient
        receiver: ``min_{mu in B} sum_w mu(w) sum_s scheme[w, s] vbar(w, s)``
        (greedy). A lower bound on the value under any prior in ``B`` with
        sender-preferred tie-breaking.
    used_fallback : bool
        True if full revelation was returned (LP failure, or an LP solution worse
        than full revelation or not robustly obedient within ``tol``).
    lp_size : dict
        ``n_variables``, ``n_constraints``, ``nonzeros``, ``n_blocks``.
    profiles : ndarray, shape (n_signals, n_types)
        The action (profile) each signal recommends.
    eps : float
        The radius used (capped at 2).
    full_revelation_value : float
        Full revelation's value under ``mu_hat``.
    max_robust_violation : float
        ``max(0, -min_{(s,t,a')} min_{mu in B} sum_w mu(w) scheme[w,s] d_w)``: 0 for a
        robustly obedient scheme (checked by the greedy, independently of the LP).
    message : str
    seconds : float
    """

    scheme: np.ndarray
    value_at_estimate: float
    robust_value: float
    used_fallback: bool
    lp_size: dict
    profiles: np.ndarray
    eps: float
    full_revelation_value: float
    max_robust_violation: float
    message: str = ""
    seconds: float = 0.0


def solve_robust(game, mu_hat, eps, *, fallback: bool = True, tol: float = 1e-7,
                 max_variables: int = MAX_TYPES_VARIABLES, solver: str = "simplex") -> RobustScheme:
    """Best scheme under ``mu_hat`` that is obedient for every prior within ``eps``.

    Steps (Zu, Iyer & Xu 2021):

    1. build :func:`build_robust_signaling_lp` and solve it with HiGHS;
    2. read ``pi`` off the first ``n S`` columns (clipped at 0, rows renormalised);
    3. check robust obedience independently with the greedy worst case of every
       block, and compare the value with full revelation's at ``mu_hat``;
    4. with ``fallback=True``, return full revelation (always robustly obedient) if the
       LP failed, if its value is below full revelation's by more than ``tol`` (which
       cannot happen for an optimal solution: full revelation is feasible), or if its
       robust obedience is violated by more than ``tol``.

    Parameters
    ----------
    game : Game or ReceiverTypesGame
    mu_hat : array_like, shape (n_states,)
    eps : float
        ``>= 0``; capped at 2.
    fallback : bool
        If False, LP failure raises :class:`~persuasion.errors.SolverError` and the LP
        solution is returned as it is.
    tol : float
        Tolerance of the checks in step 4 (absolute, scaled by the utilities' range).
    max_variables : int
        Ceiling on the LP columns for receiver-types games.
    solver : {"simplex", "ipm", "choose"}
    """
    t0 = time.perf_counter()
    _check_game(game)
    mu_hat = _check_distribution(mu_hat, game.n_states, "mu_hat", tol=getattr(game, "tol", 1e-9))
    eps = _check_eps(eps)
    profiles = _signals(game, max_variables)
    n, S = game.n_states, profiles.shape[0]
    lp, block_signal, D = _build(game, mu_hat, eps, profiles)
    lp_size = {"n_variables": lp.n_cols, "n_constraints": lp.n_rows, "nonzeros": lp.nnz,
               "n_blocks": int(D.shape[0])}
    Vbar = _sender_by_signal(game, profiles)
    scale = max(1.0, float(np.abs(game.sender_utility).max()),
                float(np.abs(game.receiver_utilities).max()))

    def value_of(scheme):
        g = (scheme * Vbar).sum(1)
        return float(mu_hat @ g), float(_greedy_worst_case(g, mu_hat, eps)[0][0])

    def violation_of(scheme):
        if D.shape[0] == 0:
            return 0.0
        C = scheme[:, block_signal].T * D  # (B, n): c_w per block
        worst = _greedy_worst_case(C, mu_hat, eps)[0]
        return float(max(0.0, -worst.min()))

    fr_scheme, _ = full_revelation_scheme(game)
    fr_value, _ = value_of(fr_scheme)
    message = "optimal robust scheme"
    scheme = None
    try:
        sol = solve_lp(lp, solver=solver)
    except SolverError as err:
        if not fallback:
            raise
        message = f"robust LP failed ({err}); full revelation"
    else:
        pi = np.clip(sol.x[: n * S], 0.0, None).reshape(S, n).T
        sums = pi.sum(1, keepdims=True)
        scheme = np.where(sums > 0, pi / np.where(sums > 0, sums, 1.0), fr_scheme)
        value, _ = value_of(scheme)
        viol = violation_of(scheme)
        if fallback and value < fr_value - tol * scale:
            message = (f"robust LP value {value:.12g} below full revelation's {fr_value:.12g}; "
                       f"full revelation")
            scheme = None
        elif fallback and viol > tol * scale:
            message = f"robust LP solution violates robust obedience by {viol:.3g}; full revelation"
            scheme = None
    used_fallback = scheme is None
    if used_fallback:
        scheme = fr_scheme
    value, robust_value = value_of(scheme)
    return RobustScheme(
        scheme=scheme, value_at_estimate=value, robust_value=robust_value,
        used_fallback=used_fallback, lp_size=lp_size, profiles=profiles, eps=eps,
        full_revelation_value=fr_value, max_robust_violation=violation_of(scheme),
        message=message, seconds=time.perf_counter() - t0,
    )
