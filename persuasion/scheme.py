"""Signaling schemes: evaluation under an explicit tie-breaking rule, obedience checks,
and assembly of a :class:`~persuasion.result.PersuasionResult` from a joint distribution.

A scheme is a row-stochastic matrix ``scheme[state][signal] = P(signal | state)``. With
prior ``mu0`` the joint is ``J = mu0[:, None] * scheme``, the signal probabilities are
``J.sum(0)`` and the posterior of signal ``k`` is ``J[:, k] / J[:, k].sum()``.

Tie-breaking (``tie_breaking``), the receiver's choice among his best responses at a
posterior (ties decided within ``tol``):

* ``"sender"`` (default, the convention of Kamenica & Gentzkow 2011 and of every solver
  here): the best response the sender likes most;
* ``"adversarial"``: the best response the sender likes least (a robustness check: the
  sender's value under adversarial tie-breaking is a supremum that the solvers' optimum
  reaches only in the limit, when the optimal posteriors sit on indifference boundaries);
* ``"first"``: the best response with the lowest index.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import GameValidationError
from .result import STATUS_OPTIMAL, PersuasionResult

__all__ = ["evaluate_scheme", "SchemeEvaluation", "obedience_violation", "TIE_BREAKING",
           "result_from_joint"]

TIE_BREAKING = ("sender", "adversarial", "first")


def check_tie_breaking(tie_breaking: str) -> None:
    if tie_breaking not in TIE_BREAKING:
        raise GameValidationError("tie_breaking", f"expected one of {', '.join(TIE_BREAKING)}, "
                                                  f"got {tie_breaking!r}")


@dataclass
class SchemeEvaluation:
    """What a scheme earns when the receiver best-responds to each signal's posterior."""

    sender_value: float
    receiver_value: float
    signal_probabilities: np.ndarray
    posteriors: np.ndarray
    actions: list  # per signal: tuple of action indices, one per type


def _choose(best: np.ndarray, sender_vals: np.ndarray, tie_breaking: str) -> int:
    if tie_breaking == "first":
        return int(best[0])
    vals = sender_vals[best]
    if tie_breaking == "sender":
        return int(best[np.argmax(vals)])
    return int(best[np.argmin(vals)])


def validate_scheme(game, scheme, field: str = "scheme", tol: float | None = None) -> np.ndarray:
    tol = game.tol if tol is None else tol
    try:
        s = np.array(scheme, dtype=float)
    except (TypeError, ValueError):
        raise GameValidationError(field, "expected a numeric matrix [state][signal]") from None
    if s.ndim != 2 or s.shape[0] != game.n_states or s.shape[1] == 0:
        raise GameValidationError(field, f"expected shape ({game.n_states}, k) [state][signal], "
                                         f"got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise GameValidationError(field, "contains NaN or infinite entries")
    if (s < -tol).any():
        i, j = np.argwhere(s < -tol)[0]
        raise GameValidationError(f"{field}[{i}][{j}]", f"negative probability {s[i, j]:g}")
    sums = s.sum(1)
    bad = np.flatnonzero(np.abs(sums - 1) > max(tol, 1e-9) * s.shape[1])
    if bad.size:
        raise GameValidationError(f"{field}[{bad[0]}]", f"row sums to {sums[bad[0]]:.12g}, expected 1")
    return np.clip(s, 0, None)


def evaluate_scheme(game, scheme, *, tie_breaking: str = "sender", tol: float | None = None,
                    prior=None) -> SchemeEvaluation:
    """Exact expected utilities of ``scheme`` when each receiver type best-responds.

    Parameters
    ----------
    game : Game or ReceiverTypesGame
    scheme : array_like, shape (n_states, k)
        ``P(signal | state)``.
    tie_breaking : {"sender", "adversarial", "first"}
    tol : float, optional
        Best-response ties within ``tol`` (default ``game.tol``), relative to the
        receiver's utility range (decisions use :attr:`Game.scaling`).
    prior : array_like, optional
        Evaluate under this prior instead of ``game.prior`` (the learners of the online
        setting are charged under the true prior).
    """
    check_tie_breaking(tie_breaking)
    tol = game.tol if tol is None else tol
    s = validate_scheme(game, scheme, tol=tol)
    mu0 = game.prior if prior is None else np.asarray(prior, dtype=float)
    joint = mu0[:, None] * s
    probs = joint.sum(0)
    V = game.sender_utility
    U = game.receiver_utilities
    # decisions (best responses, tie-breaking) on the rescaled utilities, which order
    # actions exactly as the originals do and survive tiny or shifted units
    Vs = game.scaling.sender
    Us = game.scaling.receivers
    rho = game.type_probabilities
    sender = receiver = 0.0
    posts = np.zeros((s.shape[1], game.n_states))
    actions = []
    for k in range(s.shape[1]):
        if probs[k] <= 0:
            posts[k] = mu0
            actions.append(tuple(-1 for _ in range(game.n_types)))
            continue
        post = joint[:, k] / probs[k]
        posts[k] = post
        sender_vals = post @ V
        sender_order = post @ Vs
        prof = []
        for t in range(game.n_types):
            rec = post @ Us[t]
            best = np.flatnonzero(rec >= rec.max() - tol)
            a = _choose(best, sender_order, tie_breaking)
            prof.append(a)
            sender += probs[k] * rho[t] * sender_vals[a]
            receiver += probs[k] * rho[t] * (post @ U[t][:, a])
        actions.append(tuple(prof))
    return SchemeEvaluation(float(sender), float(receiver), probs, posts, actions)


def obedience_violation(game, joint: np.ndarray, profiles, *, scaled: bool = False) -> float:
    """Largest amount by which a recommended action falls short of a best response.

    ``joint[state][signal]`` is ``P(state, signal)`` and ``profiles[signal]`` the action
    (tuple per type) the signal recommends. Returns ``max(0, max_{k,t,a'} sum_w
    joint[w,k] (u_t[w,a'] - u_t[w,a_kt]))``: 0 for an obedient scheme. In the game's
    units, or with ``scaled=True`` in the rescaled units of :attr:`Game.scaling` (a
    fraction of the receiver's utility range, meaningful for any scale of the data).
    """
    worst = 0.0
    U = game.scaling.receivers if scaled else game.receiver_utilities
    for k, prof in enumerate(profiles):
        col = joint[:, k]
        for t, a in enumerate(prof):
            gains = col @ U[t] - col @ U[t][:, a]
            worst = max(worst, float(gains.max()))
    return worst


def result_from_joint(game, method: str, joint: np.ndarray, profiles: list, *, value: float,
                      details: dict, drop_tol: float = 1e-12, joint_exact=None,
                      status: int = STATUS_OPTIMAL, message: str = "optimal") -> PersuasionResult:
    """Assemble a result from ``joint[state][signal]`` and the profile each signal induces.

    Signals of probability ``<= drop_tol`` are dropped and the rows of the scheme are
    renormalised. ``joint_exact`` (object array of Fractions), when given, yields the
    exact signal probabilities and posteriors.
    """
    probs = joint.sum(0)
    keep = np.flatnonzero(probs > drop_tol)
    joint = joint[:, keep]
    profiles = [tuple(int(a) for a in profiles[k]) for k in keep]
    probs = probs[keep]
    mu0 = game.prior
    scheme = np.zeros_like(joint)
    pos = mu0 > 0
    scheme[pos] = joint[pos] / joint[pos].sum(1, keepdims=True)
    if (~pos).any() and joint.shape[1]:
        scheme[~pos, int(np.argmax(probs))] = 1.0  # zero-prior states: any row will do
    posts = (joint / probs[None, :]).T
    U = game.receiver_utilities
    V = game.sender_utility
    rho = game.type_probabilities
    sender = receiver = 0.0
    for k, prof in enumerate(profiles):
        for t, a in enumerate(prof):
            sender += rho[t] * (joint[:, k] @ V[:, a])
            receiver += rho[t] * (joint[:, k] @ U[t][:, a])
    single = game.n_types == 1
    actions = [prof[0] if single else prof for prof in profiles]
    names = [game.actions[p[0]] if single else tuple(game.actions[a] for a in p) for p in profiles]
    signals_exact = None
    if joint_exact is not None:
        je = joint_exact[:, keep]
        signals_exact = []
        for k in range(je.shape[1]):
            pk = sum(je[:, k], Fraction(0))
            signals_exact.append((pk, tuple(x / pk for x in je[:, k])))
    details = dict(details)
    details["max_obedience_violation"] = obedience_violation(game, joint, profiles)
    details["max_obedience_violation_scaled"] = obedience_violation(game, joint, profiles,
                                                                    scaled=True)
    return PersuasionResult(
        value=float(value), method=method, status=status, message=message, scheme=scheme,
        signal_probabilities=probs, posteriors=posts, actions=actions, action_names=names,
        sender_utility=float(sender), receiver_utility=float(receiver), details=details,
        game=game, signals_exact=signals_exact,
    )
