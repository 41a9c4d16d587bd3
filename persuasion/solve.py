"""One entry point for every exact solver: :func:`solve` and :func:`solve_both`."""

from __future__ import annotations

from .concavification import solve_concavification
from .errors import GameValidationError, PersuasionError
from .posterior_lp import solve_posterior_lp
from .signaling_lp import solve_signaling_lp

__all__ = ["solve", "solve_both", "METHODS", "MethodsDisagreeError"]

METHODS = ("signaling", "posterior", "concavification")


class MethodsDisagreeError(PersuasionError):
    """Two exact formulations returned different optima (a bug, or a numerically hard game)."""


def solve(game, method: str = "signaling", *, certify: bool = False,
          tie_breaking: str = "sender", **options):
    """Optimal signaling scheme of ``game``.

    Parameters
    ----------
    game : Game or ReceiverTypesGame
    method : {"signaling", "posterior", "concavification"}
        ``"signaling"``: LP over action recommendations (large games: about 500 x 500
        on a 24 GiB machine; refused above the memory limit of :mod:`persuasion.memory`); ``"posterior"``: LP over the exact vertices of the best-response
        cells (small games, teaching, certification); ``"concavification"``: exact
        concave closure for two states.
    certify : bool
        Certify the optimum exactly (``result.value_exact``, ``result.certified``).
        Concavification is exact by construction.
    tie_breaking : {"sender"}
        How the receiver breaks ties between best responses. The solvers use the
        sender-preferred rule, under which an optimum exists; under adversarial
        tie-breaking the same value is only a supremum. Evaluate a scheme under other
        rules with :func:`persuasion.scheme.evaluate_scheme`.
    **options
        Passed to the method's solver (``max_vertices``, ``max_cells``,
        ``max_variables``, ``max_memory``, ``check_unique``, ``max_certify_basis``,
        ``solver``).
    """
    if tie_breaking != "sender":
        raise GameValidationError(
            "tie_breaking", f"the exact solvers use sender-preferred tie-breaking ('sender'), "
            f"got {tie_breaking!r}: under other rules the optimum is in general not attained; "
            f"use persuasion.scheme.evaluate_scheme to evaluate a scheme under them")
    if method == "signaling":
        return solve_signaling_lp(game, certify=certify, **options)
    if method == "posterior":
        return solve_posterior_lp(game, certify=certify, **options)
    if method == "concavification":
        if options:
            raise GameValidationError("options", f"concavification takes no options, got "
                                                 f"{', '.join(sorted(options))}")
        return solve_concavification(game)
    raise GameValidationError("method", f"expected one of {', '.join(METHODS)}, got {method!r}")


def solve_both(game, *, certify: bool = False, atol: float | None = None, **options):
    """Solve by the signaling LP and the posterior LP and check that they agree.

    Returns ``(posterior_result, signaling_result)``. Raises
    :class:`MethodsDisagreeError` when the values differ by more than ``atol``
    (default ``1e-7 * max(1, |value|)``), or when both are certified and the exact
    values differ at all.
    """
    sig = solve(game, "signaling", certify=certify,
                **{k: v for k, v in options.items() if k in ("max_variables", "check_unique",
                                                              "max_certify_basis", "solver",
                                                              "max_memory")})
    post = solve(game, "posterior", certify=certify,
                 **{k: v for k, v in options.items() if k in ("max_vertices", "max_cells",
                                                              "check_unique", "max_certify_basis")})
    tol = atol if atol is not None else 1e-7 * max(1.0, abs(sig.value))
    if abs(sig.value - post.value) > tol:
        raise MethodsDisagreeError(
            f"signaling LP value {sig.value!r} and posterior LP value {post.value!r} differ by "
            f"{abs(sig.value - post.value):.3g} > {tol:.3g}")
    if sig.certified and post.certified and sig.value_exact != post.value_exact:
        raise MethodsDisagreeError(
            f"certified values differ: signaling {sig.value_exact} vs posterior {post.value_exact}")
    return post, sig
