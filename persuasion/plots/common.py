"""What the plots share: axes, input checks, labels, the colour of each action, and the
signals of a result.

An internal module of :mod:`persuasion.plots`; matplotlib is imported when something is
drawn (see the package docstring).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..errors import GameValidationError
from ..exact import format_fraction
from ..result import PersuasionResult

__all__ = ["HULL_COLOUR", "new_axes", "split_input", "require_states", "short_label",
           "action_colour", "profile_index", "profile_label", "types_note", "signal_data",
           "sender_value_at"]

#: Colour of the concave closure ``cav V``: none of the action colours (tab10) and not black
#: (the chord of the optimal split, which runs along cav V, is black).
HULL_COLOUR = "#c51b7d"


def new_axes(ax, figsize):
    """Return ``ax`` or the single Axes of a new pyplot-free Figure."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def split_input(obj):
    """``(game, result)`` from a game or a :class:`~persuasion.result.PersuasionResult`."""
    if isinstance(obj, PersuasionResult):
        if obj.game is None:
            raise GameValidationError("plot", "the result carries no game (result.game is None)")
        return obj.game, obj
    if hasattr(obj, "n_states") and hasattr(obj, "receiver_utilities"):
        return obj, None
    raise GameValidationError(
        "plot", f"expected a Game, ReceiverTypesGame or PersuasionResult, got {type(obj).__name__}")


def require_states(game, count: int, function: str, advice: str) -> None:
    if game.n_states != count:
        raise GameValidationError(
            "plot", f"{function} draws games with {count} states; this game has "
                    f"{game.n_states} ({advice})")


def short_label(exact, approx=None, max_den: int = 1000) -> str:
    """A short label: the exact fraction when it is small, otherwise 3 significant digits."""
    if exact is not None:
        exact = Fraction(exact)
        if exact.denominator <= max_den:
            return format_fraction(exact)
        approx = float(exact)
    return f"{float(approx):.3g}"


def action_colour(index: int):
    """Colour of action (or profile) number ``index``; the same in every panel."""
    from matplotlib import colormaps

    base = (0, 1, 2, 3, 4, 5, 6, 8, 9)  # tab10 without its grey, which reads as "no cell"
    if index < len(base):
        return colormaps["tab10"](base[index])
    return colormaps["tab20"]((2 * (index - len(base)) + 1) % 20)  # the light tab20 shades


def profile_index(game, profile) -> int:
    """Position of an action profile in the lexicographic order of all profiles."""
    profile = (profile,) if isinstance(profile, (int, np.integer)) else tuple(profile)
    idx = 0
    for a in profile:
        idx = idx * game.n_actions + int(a)
    return idx


def profile_label(game, profile, *, with_types: bool = False) -> str:
    profile = (profile,) if isinstance(profile, (int, np.integer)) else tuple(profile)
    if game.n_types == 1:
        return game.actions[int(profile[0])]
    if with_types:
        return "\n".join(f"{t}: {game.actions[int(a)]}" for t, a in zip(game.type_names, profile))
    return "/".join(game.actions[int(a)] for a in profile)


def types_note(game) -> str:
    return "" if game.n_types == 1 else f"  (action profiles: {'/'.join(game.type_names)})"


def signal_data(result):
    """Per signal: (probability float, probability exact or None, posterior float,
    posterior exact or None, profile tuple)."""
    out = []
    for sig in result.signals:
        prof = sig.action if isinstance(sig.action, tuple) else (int(sig.action),)
        out.append((float(sig.probability), sig.probability_exact, np.asarray(sig.posterior, float),
                    sig.posterior_exact, tuple(int(a) for a in prof)))
    return out


def sender_value_at(game, posterior, profile) -> float:
    mu = np.asarray(posterior, dtype=float)
    V = game.sender_utility
    return float(sum(game.type_probabilities[t] * (mu @ V[:, a]) for t, a in enumerate(profile)))
