"""The concavification plot of a two-state game (Kamenica & Gentzkow 2011, Fig. 1)."""

from __future__ import annotations

from fractions import Fraction

from ..concavification import solve_concavification, value_function
from .common import (HULL_COLOUR, action_colour, new_axes, profile_index, profile_label,
                     require_states, sender_value_at, short_label, signal_data, split_input,
                     types_note)

__all__ = ["plot_concavification"]


def plot_concavification(game_or_result, ax=None):
    """Value function ``V``, concave closure ``cav V`` and optimal split (two states).

    The belief is ``p = P(second state)``. ``V`` is linear on the open intervals between
    the receiver's indifference points (``ValueFunction.pieces``) and jumps at them: each
    piece is drawn on its open interval and labelled with the action (or, for receiver
    types, the action profile) it induces; the value at each breakpoint is a filled dot,
    and the end of a piece that does not reach it (a jump) is a hollow circle. The
    concave closure is dashed in its own colour (``HULL_COLOUR``) and drawn above the other
    lines, so that it stays visible where it runs along ``V`` or the chord; the prior is a
    vertical line, and the optimal posteriors sit on ``cav V`` joined by the chord through
    ``(prior, value)``, each annotated with its probability (weight).

    Parameters
    ----------
    game_or_result : Game, ReceiverTypesGame or PersuasionResult
        A two-state game (its optimum is computed by exact concavification), or a
        result of any method whose split is drawn.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new Figure.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    GameValidationError
        ``field="plot"`` when the game does not have exactly two states.
    """
    game, result = split_input(game_or_result)
    require_states(game, 2, "plot_concavification",
                    "use plot_ternary for 3 states or plot_flow for any number")
    vf = None
    if result is not None:
        vf = result.details.get("_value_function")
    if result is None:
        result = solve_concavification(game)
        vf = result.details["_value_function"]
    if vf is None:
        vf = value_function(game)
    ax = new_axes(ax, (7.5, 5.2))

    V = game.sender_utility_exact
    rho = game.type_probabilities_exact

    def line_value(profile, p):
        return sum((rho[t] * ((1 - p) * V[0, a] + p * V[1, a]) for t, a in enumerate(profile)),
                   Fraction(0))

    bp_value = dict(zip(vf.breakpoints, vf.values))
    vmin = min(min(vf.values), min(line_value(pr, lo) for lo, _, pr in vf.pieces),
               min(line_value(pr, hi) for _, hi, pr in vf.pieces))
    vmax = max(max(vf.values), max(line_value(pr, lo) for lo, _, pr in vf.pieces),
               max(line_value(pr, hi) for _, hi, pr in vf.pieces))
    span = float(vmax - vmin) or 1.0

    # 1. the pieces of V on their open intervals, with labels
    ax.plot([], [], color="0.2", lw=2.6, label="V(p): sender's value (by action"
            + (")" if game.n_types == 1 else " profile)"))
    for lo, hi, prof in vf.pieces:
        col = action_colour(profile_index(game, prof))
        ylo, yhi = line_value(prof, lo), line_value(prof, hi)
        ax.plot([float(lo), float(hi)], [float(ylo), float(yhi)], color=col, lw=2.6,
                solid_capstyle="butt", gid="piece", zorder=3)
        for p_end, y_end in ((lo, ylo), (hi, yhi)):
            if bp_value[p_end] != y_end:  # a jump: this end of the piece is open
                ax.plot([float(p_end)], [float(y_end)], "o", mfc="white", mec=col, mew=1.8,
                        ms=7, gid="open_end", zorder=5)
        mid = (lo + hi) / 2
        ax.annotate(profile_label(game, prof), (float(mid), float(line_value(prof, mid))),
                    xytext=(0, -9), textcoords="offset points", ha="center", va="top",
                    color=col, fontsize=9, fontweight="bold", gid="piece_label", zorder=6,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    # 2. the value at every breakpoint
    for p, val, prof in zip(vf.breakpoints, vf.values, vf.profiles):
        ax.plot([float(p)], [float(val)], "o", color=action_colour(profile_index(game, prof)),
                mec="black", mew=0.6, ms=6.5, gid="breakpoint", zorder=6)
    # 3. the concave closure: dashed, in a colour of its own, above every other line (where it
    # runs along V or the chord it must still be seen), below the markers
    hx = [float(x) for x, _ in vf.hull]
    hy = [float(y) for _, y in vf.hull]
    ax.plot(hx, hy, color=HULL_COLOUR, ls=(0, (5, 3)), lw=2.4, gid="hull", zorder=5.5,
            solid_capstyle="butt", dash_capstyle="butt", label="cav V: concave closure")
    ax.fill_between(hx, hy, float(vmin) - 0.08 * span, color="0.5", alpha=0.07, lw=0, zorder=0)
    # 4. the prior
    p0 = game.prior_exact[1]
    ax.axvline(float(p0), color="0.35", ls=":", lw=1.4, gid="prior", zorder=1)
    ax.annotate(f"prior {short_label(p0)}", (float(p0), 1.0), xycoords=("data", "axes fraction"),
                xytext=(3, -3), textcoords="offset points", ha="left", va="top",
                fontsize=9, color="0.25")
    # 5. the optimal split: posteriors on cav V, the chord, the value at the prior
    sigs = sorted(signal_data(result), key=lambda s: s[2][1])
    xs = [s[2][1] for s in sigs]
    ys = [sender_value_at(game, s[2], s[4]) for s in sigs]
    if len(sigs) > 1:
        ax.plot(xs, ys, "-", color="black", lw=1.5, gid="chord", zorder=4,
                label="optimal split (chord of cav V)")
    ax.plot(xs, ys, "o", ms=12, mfc="none", mec="black", mew=2.0, ls="none",
            gid="posterior", zorder=7, label="optimal posteriors")
    # weights in a row above the graph; the leaders go straight up from the posteriors,
    # through the empty region above the concave closure
    y_row = float(vmax) + 0.09 * span
    for s, x, y in zip(sigs, xs, ys):
        ha, rel = ("left", 0.0) if x < 0.08 else (("right", 1.0) if x > 0.92 else ("center", 0.5))
        ax.annotate(f"weight {short_label(s[1], s[0])}", (x, y), xytext=(x, y_row),
                    ha=ha, va="bottom", fontsize=9, gid="weight_label", zorder=8,
                    arrowprops=dict(arrowstyle="-", color="0.55", lw=0.8, ls=(0, (1, 1.5)),
                                    shrinkA=0, shrinkB=7, relpos=(rel, 0.0)),
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.6", alpha=0.95))
    value = result.value_exact if result.value_exact is not None else None
    ax.plot([float(p0)], [float(result.value)], "*", color="gold", mec="black", mew=0.8,
            ms=17, gid="optimum", zorder=8,
            label=f"optimum: cav V(prior) = {short_label(value, result.value)}")

    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(float(vmin) - 0.08 * span, float(vmax) + 0.27 * span)
    ax.set_yticks([t for t in ax.get_yticks()
                   if float(vmin) - 1e-9 * span <= t <= float(vmax) + 1e-9 * span])
    s0, s1 = game.states
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1])
    ax.set_xticklabels([f"0\n({s0})", "0.25", "0.5", "0.75", f"1\n({s1})"])
    ax.set_xlabel(f"belief p = P({s1})")
    ax.set_ylabel("sender's expected utility")
    ax.set_title(f"Concavification: {game.name}{types_note(game)}", fontsize=11)
    ax.grid(True, color="0.92", zorder=-1)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return ax
