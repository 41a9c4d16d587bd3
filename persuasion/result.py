"""The one result type that every solver returns.

Status codes (as in :func:`scipy.optimize.linprog`):

====  ==========================================================
code  meaning
====  ==========================================================
0     optimal: the value and scheme are an optimum (to tolerance)
1     certified: optimal, and the optimum was certified exactly
2     certification failed: the float optimum is reported, the
      exact check did not go through (``message`` says why)
====  ==========================================================

Solvers raise (rather than return a failed result) when the input is invalid or too
large, because every valid persuasion LP is feasible and bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .exact import format_fraction

__all__ = ["PersuasionResult", "Signal", "STATUS_OPTIMAL", "STATUS_CERTIFIED",
           "STATUS_CERTIFICATION_FAILED"]

STATUS_OPTIMAL = 0
STATUS_CERTIFIED = 1
STATUS_CERTIFICATION_FAILED = 2


@dataclass(frozen=True)
class Signal:
    """One signal of an optimal scheme: its probability, the posterior it induces and
    the action (one receiver) or action profile (receiver types) it induces."""

    probability: float
    posterior: np.ndarray
    action: Any
    action_name: Any
    probability_exact: Fraction | None = None
    posterior_exact: tuple | None = None


@dataclass
class PersuasionResult:
    """Optimal signaling scheme of a finite Bayesian persuasion game.

    Attributes
    ----------
    value : float
        The sender's optimal expected utility.
    method : str
        ``"signaling"``, ``"posterior"`` or ``"concavification"``.
    status : int
        See the module docstring.
    message : str
        A human-readable account of the status.
    scheme : ndarray, shape (n_states, n_signals)
        ``scheme[state][signal] = P(signal | state)``; rows sum to 1.
    signal_probabilities : ndarray, shape (n_signals,)
    posteriors : ndarray, shape (n_signals, n_states)
    actions : list
        Per signal, the index of the action it induces (one receiver) or the tuple of
        action indices, one per type (receiver types).
    action_names : list
        The same with names.
    sender_utility : float
        Sender's expected utility of the scheme (equals ``value``).
    receiver_utility : float
        Receiver's expected utility (averaged over types for a types game).
    value_exact : Fraction or None
        The exact optimum when certified.
    certified : bool
    unique : bool or None
        Signaling LP: whether the optimal *direct* (action-recommendation) scheme is
        unique. Concavification: ``False`` when the optimal split is not unique (the
        prior on a flat piece of cav V). ``None`` when not determined (the posterior
        LP ranges over cell vertices only, so it cannot decide).
    details : dict
        Method-specific figures: LP size, vertex counts, timings, certificate data.
    """

    value: float
    method: str
    status: int
    message: str
    scheme: np.ndarray
    signal_probabilities: np.ndarray
    posteriors: np.ndarray
    actions: list
    action_names: list
    sender_utility: float
    receiver_utility: float
    value_exact: Fraction | None = None
    certified: bool = False
    unique: bool | None = None
    details: dict = field(default_factory=dict)
    game: Any = field(default=None, repr=False)
    signals_exact: list | None = field(default=None, repr=False)

    @property
    def success(self) -> bool:
        """True when the reported scheme is optimal (status 0 or 1)."""
        return self.status in (STATUS_OPTIMAL, STATUS_CERTIFIED)

    @property
    def n_signals(self) -> int:
        return len(self.signal_probabilities)

    @property
    def signals(self) -> list[Signal]:
        out = []
        for k in range(self.n_signals):
            pe = post_e = None
            if self.signals_exact is not None:
                pe, post_e = self.signals_exact[k]
            out.append(Signal(float(self.signal_probabilities[k]), self.posteriors[k],
                              self.actions[k], self.action_names[k], pe, post_e))
        return out

    def to_dict(self) -> dict:
        """JSON-ready dictionary (the schema of ``persuasion solve --json``)."""
        game = self.game
        signals = []
        for k, sig in enumerate(self.signals):
            entry = {
                "probability": float(sig.probability),
                "posterior": [float(p) for p in sig.posterior],
                "action": sig.action_name if not isinstance(sig.action_name, tuple)
                else list(sig.action_name),
                "action_index": sig.action if not isinstance(sig.action, tuple)
                else list(sig.action),
            }
            if sig.probability_exact is not None:
                entry["probability_exact"] = format_fraction(sig.probability_exact)
                entry["posterior_exact"] = [format_fraction(p) for p in sig.posterior_exact]
            signals.append(entry)
        d = {
            "game": game.name if game is not None else None,
            "method": self.method,
            "status": self.status,
            "success": self.success,
            "message": self.message,
            "value": float(self.value),
            "sender_utility": float(self.sender_utility),
            "receiver_utility": float(self.receiver_utility),
            "unique": self.unique,
            "signals": signals,
            "scheme": [[float(x) for x in row] for row in self.scheme],
        }
        if game is not None:
            d["states"] = list(game.states)
            d["actions"] = list(game.actions)
            if game.n_types > 1:
                d["types"] = list(game.type_names)
        if self.certified or self.value_exact is not None:
            d["value_exact"] = format_fraction(self.value_exact) if self.value_exact is not None else None
        d["certified"] = bool(self.certified)
        d["details"] = _jsonable(self.details)
        return d

    def summary(self) -> str:
        """A short plain-text report."""
        game = self.game
        lines = [f"method: {self.method}   status: {self.status} ({self.message})"]
        val = f"{self.value:.10g}"
        if self.value_exact is not None:
            val += f"  (exact {format_fraction(self.value_exact)}{', certified' if self.certified else ''})"
        lines.append(f"sender value: {val}")
        lines.append(f"receiver expected utility: {self.receiver_utility:.10g}")
        if self.unique is not None:
            lines.append("optimal direct scheme unique: " + ("yes" if self.unique else
                         "no (other optimal schemes exist)"))
        d = self.details
        if "vertex_count" in d:
            lines.append(f"candidate posteriors: {d['n_candidates']} distinct, from "
                         f"{d['vertex_count']} vertices of {d['nonempty_cells']} non-empty "
                         f"best-response cells (of {d['cells']})")
        if "n_variables" in d:
            lines.append(f"LP size: {d['n_variables']} variables, {d['n_constraints']} "
                         f"constraints, {d['nonzeros']} non-zeros")
        states = game.states if game is not None else [f"s{i}" for i in range(self.scheme.shape[0])]
        lines.append("signals:")
        for k, sig in enumerate(self.signals):
            post = ", ".join(f"{s}={p:.4g}" for s, p in zip(states, sig.posterior))
            act = sig.action_name if not isinstance(sig.action_name, tuple) else "/".join(sig.action_name)
            lines.append(f"  [{k}] P={sig.probability:.6g}  posterior ({post})  -> {act}")
        return "\n".join(lines)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, Fraction):
        return format_fraction(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj
