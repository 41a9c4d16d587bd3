"""Teaching plots: concavification, the belief simplex and the flow of a scheme.

Every function draws on a :class:`matplotlib.axes.Axes` (``ax``) given by the caller or
on a new :class:`matplotlib.figure.Figure` that it makes itself; nothing touches
``matplotlib.pyplot`` or its global state, so the plots work headless (Agg backend,
servers, tests) and in notebooks alike.

* :func:`plot_concavification` -- two states (Kamenica & Gentzkow 2011, Fig. 1): the
  sender's value function ``V(p)`` over the belief ``p = P(second state)``, drawn piece
  by piece with its jumps, the concave closure ``cav V``, the prior and the optimal
  split of the prior into posteriors (a chord of ``cav V``);
* :func:`plot_ternary` -- three states: the simplex of beliefs (own barycentric
  projection onto an equilateral triangle), the receiver's best-response cells filled
  from their exact vertices (:func:`persuasion.vertices.polytope_vertices`), the prior
  and the optimal posteriors (area proportional to probability);
* :func:`plot_flow` -- any game: states -> signals -> actions as a layered
  :class:`networkx.DiGraph`, edge widths proportional to probabilities;
* :func:`plot_result` -- one figure with the geometry panel (two or three states)
  beside the flow graph, optionally saved as PNG, PDF or SVG.

Colours: action ``a`` (or action profile number ``a`` for receiver types, in the
lexicographic order of :func:`persuasion.signaling_lp.action_profiles`) has the same
colour in every panel. Main artists carry a ``gid`` (``"piece"``, ``"hull"``,
``"posterior"``, ``"cell"``, ...) so that tests and users can find them.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import GameValidationError
from .exact import format_fraction

__all__ = ["plot_concavification", "plot_ternary", "plot_flow", "plot_result",
           "SAVE_FORMATS"]

#: File formats :func:`plot_result` writes (chosen by the extension of ``path``).
SAVE_FORMATS = ("png", "pdf", "svg")

_SQRT3_2 = math.sqrt(3) / 2


# ----------------------------------------------------------------------------- helpers
#: Colour of the concave closure ``cav V``: none of the action colours (tab10) and not black
#: (the chord of the optimal split, which runs along cav V, is black).
HULL_COLOUR = "#c51b7d"


def _new_axes(ax, figsize):
    """Return ``ax`` or the single Axes of a new pyplot-free Figure."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def _split_input(obj):
    """``(game, result)`` from a game or a :class:`~persuasion.result.PersuasionResult`."""
    from .result import PersuasionResult

    if isinstance(obj, PersuasionResult):
        if obj.game is None:
            raise GameValidationError("plot", "the result carries no game (result.game is None)")
        return obj.game, obj
    if hasattr(obj, "n_states") and hasattr(obj, "receiver_utilities"):
        return obj, None
    raise GameValidationError(
        "plot", f"expected a Game, ReceiverTypesGame or PersuasionResult, got {type(obj).__name__}")


def _require_states(game, count: int, function: str, advice: str) -> None:
    if game.n_states != count:
        raise GameValidationError(
            "plot", f"{function} draws games with {count} states; this game has "
                    f"{game.n_states} ({advice})")


def _fmt(exact, approx=None, max_den: int = 1000) -> str:
    """A short label: the exact fraction when it is small, otherwise 3 significant digits."""
    if exact is not None:
        exact = Fraction(exact)
        if exact.denominator <= max_den:
            return format_fraction(exact)
        approx = float(exact)
    return f"{float(approx):.3g}"


def _colour(index: int):
    """Colour of action (or profile) number ``index``; the same in every panel."""
    from matplotlib import colormaps

    base = (0, 1, 2, 3, 4, 5, 6, 8, 9)  # tab10 without its grey, which reads as "no cell"
    if index < len(base):
        return colormaps["tab10"](base[index])
    return colormaps["tab20"]((2 * (index - len(base)) + 1) % 20)  # the light tab20 shades


def _profile_index(game, profile) -> int:
    """Position of an action profile in the lexicographic order of all profiles."""
    profile = (profile,) if isinstance(profile, (int, np.integer)) else tuple(profile)
    idx = 0
    for a in profile:
        idx = idx * game.n_actions + int(a)
    return idx


def _profile_label(game, profile, *, with_types: bool = False) -> str:
    profile = (profile,) if isinstance(profile, (int, np.integer)) else tuple(profile)
    if game.n_types == 1:
        return game.actions[int(profile[0])]
    if with_types:
        return "\n".join(f"{t}: {game.actions[int(a)]}" for t, a in zip(game.type_names, profile))
    return "/".join(game.actions[int(a)] for a in profile)


def _types_note(game) -> str:
    return "" if game.n_types == 1 else f"  (action profiles: {'/'.join(game.type_names)})"


def _signal_data(result):
    """Per signal: (probability float, probability exact or None, posterior float,
    posterior exact or None, profile tuple)."""
    out = []
    for sig in result.signals:
        prof = sig.action if isinstance(sig.action, tuple) else (int(sig.action),)
        out.append((float(sig.probability), sig.probability_exact, np.asarray(sig.posterior, float),
                    sig.posterior_exact, tuple(int(a) for a in prof)))
    return out


def _sender_value_at(game, posterior, profile) -> float:
    mu = np.asarray(posterior, dtype=float)
    V = game.sender_utility
    return float(sum(game.type_probabilities[t] * (mu @ V[:, a]) for t, a in enumerate(profile)))


# -------------------------------------------------------------------- concavification
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
    from .concavification import solve_concavification, value_function

    game, result = _split_input(game_or_result)
    _require_states(game, 2, "plot_concavification",
                    "use plot_ternary for 3 states or plot_flow for any number")
    vf = None
    if result is not None:
        vf = result.details.get("_value_function")
    if result is None:
        result = solve_concavification(game)
        vf = result.details["_value_function"]
    if vf is None:
        vf = value_function(game)
    ax = _new_axes(ax, (7.5, 5.2))

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
        col = _colour(_profile_index(game, prof))
        ylo, yhi = line_value(prof, lo), line_value(prof, hi)
        ax.plot([float(lo), float(hi)], [float(ylo), float(yhi)], color=col, lw=2.6,
                solid_capstyle="butt", gid="piece", zorder=3)
        for p_end, y_end in ((lo, ylo), (hi, yhi)):
            if bp_value[p_end] != y_end:  # a jump: this end of the piece is open
                ax.plot([float(p_end)], [float(y_end)], "o", mfc="white", mec=col, mew=1.8,
                        ms=7, gid="open_end", zorder=5)
        mid = (lo + hi) / 2
        ax.annotate(_profile_label(game, prof), (float(mid), float(line_value(prof, mid))),
                    xytext=(0, -9), textcoords="offset points", ha="center", va="top",
                    color=col, fontsize=9, fontweight="bold", gid="piece_label", zorder=6,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    # 2. the value at every breakpoint
    for p, val, prof in zip(vf.breakpoints, vf.values, vf.profiles):
        ax.plot([float(p)], [float(val)], "o", color=_colour(_profile_index(game, prof)),
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
    ax.annotate(f"prior {_fmt(p0)}", (float(p0), 1.0), xycoords=("data", "axes fraction"),
                xytext=(3, -3), textcoords="offset points", ha="left", va="top",
                fontsize=9, color="0.25")
    # 5. the optimal split: posteriors on cav V, the chord, the value at the prior
    sigs = sorted(_signal_data(result), key=lambda s: s[2][1])
    xs = [s[2][1] for s in sigs]
    ys = [_sender_value_at(game, s[2], s[4]) for s in sigs]
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
        ax.annotate(f"weight {_fmt(s[1], s[0])}", (x, y), xytext=(x, y_row),
                    ha=ha, va="bottom", fontsize=9, gid="weight_label", zorder=8,
                    arrowprops=dict(arrowstyle="-", color="0.55", lw=0.8, ls=(0, (1, 1.5)),
                                    shrinkA=0, shrinkB=7, relpos=(rel, 0.0)),
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.6", alpha=0.95))
    value = result.value_exact if result.value_exact is not None else None
    ax.plot([float(p0)], [float(result.value)], "*", color="gold", mec="black", mew=0.8,
            ms=17, gid="optimum", zorder=8,
            label=f"optimum: cav V(prior) = {_fmt(value, result.value)}")

    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(float(vmin) - 0.08 * span, float(vmax) + 0.27 * span)
    ax.set_yticks([t for t in ax.get_yticks()
                   if float(vmin) - 1e-9 * span <= t <= float(vmax) + 1e-9 * span])
    s0, s1 = game.states
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1])
    ax.set_xticklabels([f"0\n({s0})", "0.25", "0.5", "0.75", f"1\n({s1})"])
    ax.set_xlabel(f"belief p = P({s1})")
    ax.set_ylabel("sender's expected utility")
    ax.set_title(f"Concavification: {game.name}{_types_note(game)}", fontsize=11)
    ax.grid(True, color="0.92", zorder=-1)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return ax


# -------------------------------------------------------------------------- ternary
def _project(mu) -> tuple[float, float]:
    """Barycentric projection: state 0 at (0, 0), state 1 at (1, 0), state 2 at the top."""
    m1, m2 = float(mu[1]), float(mu[2])
    return m1 + 0.5 * m2, _SQRT3_2 * m2


def _cells(game):
    """Non-empty best-response cells: list of (profile, exact vertices)."""
    from .signaling_lp import action_profiles
    from .vertices import polytope_vertices

    U = game.receiver_utilities_exact
    n, m = game.n_states, game.n_actions
    out = []
    for prof in action_profiles(m, game.n_types):
        prof = tuple(int(a) for a in prof)
        rows = [[U[t][w, a] - U[t][w, b] for w in range(n)]
                for t, a in enumerate(prof) for b in range(m) if b != a]
        verts = polytope_vertices(n, rows)
        if verts:
            out.append((prof, list(dict.fromkeys(verts))))
    return out


def _order_by_angle(points):
    cx = sum(x for x, _ in points) / len(points)
    cy = sum(y for _, y in points) / len(points)
    return sorted(points, key=lambda q: math.atan2(q[1] - cy, q[0] - cx))


def _label_spot(pts, centre, avoid, clearance: float = 0.09):
    """A point inside a convex cell for its label: the centre, unless a marker is within
    ``clearance``; then the candidate (centre, or halfway from the centre to a vertex or
    to an edge midpoint) farthest from the markers."""
    def gap(q):
        return min((math.hypot(q[0] - a[0], q[1] - a[1]) for a in avoid), default=math.inf)

    if gap(centre) >= clearance or len(pts) < 3:
        return centre
    ring = _order_by_angle(pts)
    targets = ring + [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
                      for a, b in zip(ring, ring[1:] + ring[:1])]
    cands = [centre] + [((centre[0] + t[0]) / 2, (centre[1] + t[1]) / 2) for t in targets]
    return max(cands, key=gap)


def _label_direction(mu, mu_exact, away):
    """Unit direction (display) for the label of a posterior on the triangle.

    Corners: below (bottom corners) or to the right (top corner), clear of the state
    names; edges: the outward normal; inside: ``away`` (from the prior)."""
    zero = [(mu_exact[i] == 0) if mu_exact is not None else abs(mu[i]) < 1e-9 for i in range(3)]
    if sum(zero) >= 2:
        corner = zero.index(False)
        return (1.0, 0.0) if corner == 2 else (0.0, -1.0)
    if sum(zero) == 1:
        i = zero.index(True)
        corners = [(0.0, 0.0), (1.0, 0.0), (0.5, _SQRT3_2)]
        j, k = [c for c in range(3) if c != i]
        mx = (corners[j][0] + corners[k][0]) / 2 - corners[i][0]
        my = (corners[j][1] + corners[k][1]) / 2 - corners[i][1]
        norm = math.hypot(mx, my)
        return mx / norm, my / norm
    dx, dy = away
    norm = math.hypot(dx, dy)
    return (dx / norm, dy / norm) if norm > 1e-9 else (0.0, 1.0)


def plot_ternary(game, result=None, ax=None):
    """Best-response cells on the belief simplex of a three-state game.

    The simplex is drawn as an equilateral triangle (barycentric projection; the vertex
    of a state is the belief that puts all mass on it). Each non-empty best-response
    cell -- for receiver types, each non-empty intersection of the types' cells, i.e.
    each action profile -- is filled in its colour from its exact vertices, ordered by
    angle around their centroid, and labelled with the action (profile); a cell with
    fewer than three distinct vertices is drawn as a segment or a point. The prior is a
    black star; the optimal posteriors of ``result`` are discs of area proportional to
    their probability, annotated with the probability and the induced action.

    Parameters
    ----------
    game : Game, ReceiverTypesGame or PersuasionResult
        A three-state game, or a result (then ``result`` must be omitted).
    result : PersuasionResult, optional
        The optimum to draw; without it only the cells and the prior are drawn.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    GameValidationError
        ``field="plot"`` when the game does not have exactly three states.

    Notes
    -----
    The projection is done here rather than with ``mpltern`` so that the panel is an
    ordinary Axes (it sits beside the flow graph in :func:`plot_result`) and the package
    needs no extra dependency.
    """
    from matplotlib.patches import Polygon

    game, res_in = _split_input(game)
    if res_in is not None:
        if result is not None:
            raise GameValidationError("plot", "give the game and the result, or the result alone")
        result = res_in
    _require_states(game, 3, "plot_ternary",
                    "use plot_concavification for 2 states or plot_flow for any number")
    ax = _new_axes(ax, (7, 6.4))

    # the triangle and its corners
    corners = [(0.0, 0.0), (1.0, 0.0), (0.5, _SQRT3_2)]
    ax.add_patch(Polygon(corners, closed=True, fill=False, ec="black", lw=1.4, zorder=4,
                         gid="simplex"))
    for k in range(1, 5):  # faint grid: lines where one state's probability is k/5
        t = k / 5
        for i in range(3):
            a = [0.0] * 3
            b = [0.0] * 3
            j, l = (i + 1) % 3, (i + 2) % 3
            a[i] = b[i] = t
            a[j], b[l] = 1 - t, 1 - t
            (x0, y0), (x1, y1) = _project(a), _project(b)
            ax.plot([x0, x1], [y0, y1], color="0.85", lw=0.6, zorder=0.5, gid="grid")
    offsets = [(-0.055, 0.0, "right", "center"), (1.055, 0.0, "left", "center"),
               (0.5, _SQRT3_2 + 0.05, "center", "bottom")]
    for name, (x, y, ha, va) in zip(game.states, offsets):
        ax.text(x, y, name, ha=ha, va=va, fontsize=11, fontweight="bold", gid="state_label")

    # markers that cell labels should avoid: the prior and the optimal posteriors
    avoid = [_project(game.prior)]
    if result is not None:
        avoid += [_project(s[2]) for s in _signal_data(result)]

    # the cells
    for prof, verts in _cells(game):
        col = _colour(_profile_index(game, prof))
        pts = list(dict.fromkeys(_project(v) for v in verts))
        label = _profile_label(game, prof)
        cx = sum(x for x, _ in pts) / len(pts)
        cy = sum(y for _, y in pts) / len(pts)
        if len(pts) >= 3:
            ax.add_patch(Polygon(_order_by_angle(pts), closed=True, fc=col, ec=col, alpha=0.35,
                                 lw=1.2, zorder=1, gid="cell", label=label))
            ax.add_patch(Polygon(_order_by_angle(pts), closed=True, fill=False, ec=col, lw=1.4,
                                 zorder=1.5))
        elif len(pts) == 2:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=col, lw=4,
                    solid_capstyle="round", zorder=2, gid="degenerate_cell", label=label)
        else:
            ax.plot([pts[0][0]], [pts[0][1]], "o", color=col, ms=9, zorder=2,
                    gid="degenerate_cell", label=label)
        cx, cy = _label_spot(pts, (cx, cy), avoid)
        ax.text(cx, cy, label, ha="center", va="center", fontsize=10, fontweight="bold",
                color="black", zorder=3, gid="cell_label",
                bbox=dict(boxstyle="round,pad=0.25", fc=col, ec="none", alpha=0.55))

    # the prior
    px, py = _project(game.prior)
    ax.plot([px], [py], "*", color="black", ms=16, mec="white", mew=0.8, zorder=9, gid="prior")
    ax.annotate("prior", (px, py), xytext=(0, -13), textcoords="offset points", ha="center",
                va="top", fontsize=9, zorder=9,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))

    # the optimal posteriors
    if result is not None:
        sigs = _signal_data(result)
        pts = [_project(s[2]) for s in sigs]
        for (x, y) in pts:
            ax.plot([px, x], [py, y], "--", color="0.2", lw=1, zorder=7, gid="split")
        sizes = [900.0 * s[0] for s in sigs]
        ax.scatter([x for x, _ in pts], [y for _, y in pts], s=sizes,
                   c=[_colour(_profile_index(game, s[4])) for s in sigs], edgecolors="black",
                   linewidths=1.5, zorder=8, gid="posterior")
        for s, (x, y) in zip(sigs, pts):
            dx, dy = _label_direction(s[2], s[3], (x - px, y - py))
            r = math.sqrt(900.0 * s[0] / math.pi) + 5  # beyond the disc, in points
            ax.annotate(f"P = {_fmt(s[1], s[0])}\n\u2192 {_profile_label(game, s[4])}", (x, y),
                        xytext=(dx * r, dy * r), textcoords="offset points",
                        ha="left" if dx > 0.3 else ("right" if dx < -0.3 else "center"),
                        va="bottom" if dy > 0.3 else ("top" if dy < -0.3 else "center"),
                        fontsize=9, zorder=10, gid="posterior_label",
                        bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.6", alpha=0.9))

    ax.set_xlim(-0.22, 1.22)
    ax.set_ylim(-0.15, _SQRT3_2 + 0.13)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"Best-response cells: {game.name}{_types_note(game)}", fontsize=11)
    return ax


# ----------------------------------------------------------------------------- flow
def plot_flow(result, ax=None):
    """The optimal scheme as a layered flow graph: states -> signals -> actions.

    A :class:`networkx.DiGraph` with three layers. State nodes show the prior; an edge
    state -> signal is drawn when ``P(signal | state) > 0``, with width proportional to
    that probability and the probability as its label; signal nodes show ``P(signal)``
    and are coloured by the action they induce; each signal points to the action (for
    receiver types, the action profile) it induces, with width proportional to
    ``P(signal)``; action nodes show the total probability of the action.

    Parameters
    ----------
    result : PersuasionResult
        A result of any method, for a game with any number of states.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.flow_graph`` holds the :class:`networkx.DiGraph` (node attribute ``layer``,
        edge attributes ``probability`` and ``label``).
    """
    import networkx as nx

    from .result import PersuasionResult

    if not isinstance(result, PersuasionResult):
        raise GameValidationError("plot", f"plot_flow draws a PersuasionResult, got "
                                          f"{type(result).__name__}")
    game = result.game
    if game is None:
        raise GameValidationError("plot", "the result carries no game (result.game is None)")
    sigs = _signal_data(result)
    n = game.n_states
    G = nx.DiGraph()
    for i, s in enumerate(game.states):
        G.add_node(("state", i), layer=0,
                   label=f"{s}\nprior {_fmt(game.prior_exact[i])}", colour="#d9e2ef")
    actions = []
    for k, s in enumerate(sigs):
        if s[4] not in actions:
            actions.append(s[4])
    action_prob = {a: (Fraction(0) if all(s[1] is not None for s in sigs) else None,
                       0.0) for a in actions}
    for k, s in enumerate(sigs):
        ex, fl = action_prob[s[4]]
        action_prob[s[4]] = (None if ex is None else ex + s[1], fl + s[0])
    for a in sorted(actions, key=lambda a: _profile_index(game, a)):
        ex, fl = action_prob[a]
        G.add_node(("action", a), layer=2, colour=_colour(_profile_index(game, a)),
                   label=f"{_profile_label(game, a, with_types=True)}\nP = {_fmt(ex, fl)}")
    for k, s in enumerate(sigs):
        G.add_node(("signal", k), layer=1, colour=_colour(_profile_index(game, s[4])),
                   label=f"signal {k + 1}\nP = {_fmt(s[1], s[0])}")
    for i in range(n):
        for k, s in enumerate(sigs):
            cond = float(result.scheme[i, k]) if game.prior[i] > 0 else 0.0
            if cond <= 1e-12:
                continue
            exact = None
            if s[1] is not None and game.prior_exact[i] != 0:
                exact = s[1] * s[3][i] / game.prior_exact[i]
            G.add_edge(("state", i), ("signal", k), probability=cond, label=_fmt(exact, cond),
                       kind="scheme")
    for k, s in enumerate(sigs):
        G.add_edge(("signal", k), ("action", s[4]), probability=s[0], label="", kind="induces")

    # layered positions, top to bottom in each layer
    pos = {}
    layers = [[v for v in G if G.nodes[v]["layer"] == L] for L in range(3)]
    height = max(len(layer) for layer in layers)
    for L, layer in enumerate(layers):
        for j, v in enumerate(layer):
            pos[v] = (float(L), (len(layer) - 1) / 2 - j)
    nx.set_node_attributes(G, pos, "pos")

    ax = _new_axes(ax, (7.5, max(3.5, 1.3 * height + 1.5)))
    xlim = (-0.45, 2.45)
    ylim = (-(height - 1) / 2 - 0.6, (height - 1) / 2 + 0.85)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.axis("off")

    # node boxes sized in data units from the label text and the axes' size in points
    fig = ax.figure
    box = ax.get_position()
    w_pt = box.width * fig.get_figwidth() * 72
    h_pt = box.height * fig.get_figheight() * 72
    ppu_x = w_pt / (xlim[1] - xlim[0])
    ppu_y = h_pt / (ylim[1] - ylim[0])
    font = 9.0
    pad_pt = 5.0
    half = {}
    for v in G:
        lines = G.nodes[v]["label"].split("\n")
        wid = max(len(t) for t in lines) * 0.55 * font + 2 * pad_pt
        hei = len(lines) * 1.25 * font + 2 * pad_pt
        half[v] = (min(wid / ppu_x, 0.9) / 2, min(hei / ppu_y, 0.9) / 2)

    def clip(v, towards):
        """Point where the segment from v's centre towards ``towards`` leaves v's box."""
        (x0, y0), (x1, y1) = pos[v], towards
        dx, dy = x1 - x0, y1 - y0
        hw, hh = half[v]
        t = min(hw / abs(dx) if dx else math.inf, hh / abs(dy) if dy else math.inf)
        t += 0.015 / math.hypot(dx, dy)
        return x0 + t * dx, y0 + t * dy

    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    for e in G.edges:
        u, v = e
        data = G.edges[e]
        a, b = clip(u, pos[v]), clip(v, pos[u])
        lw = max(0.6, 8.0 * data["probability"])
        col = (0.25, 0.35, 0.55, 0.7) if data["kind"] == "scheme" else G.nodes[u]["colour"]
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=10 + 1.6 * lw,
                                     lw=lw, color=col, shrinkA=0, shrinkB=0, zorder=2,
                                     gid="flow_edge"))
        if data["label"]:
            t = 0.3
            ax.text(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), data["label"],
                    ha="center", va="center", fontsize=8, zorder=4, gid="edge_label",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9))
    for v, (x, y) in pos.items():
        hw, hh = half[v]
        ax.add_patch(FancyBboxPatch((x - hw, y - hh), 2 * hw, 2 * hh,
                                    boxstyle="round,pad=0,rounding_size=0.04",
                                    fc=G.nodes[v]["colour"], ec="0.3", lw=0.8, alpha=0.9,
                                    zorder=3, gid=f"{v[0]}_node"))
        ax.text(x, y, G.nodes[v]["label"], ha="center", va="center", fontsize=font, zorder=5)
    for L, title in enumerate(("states", "signals", "actions" if game.n_types == 1
                               else "action profiles")):
        ax.text(L, (height - 1) / 2 + 0.6, title, ha="center", va="bottom", fontsize=10,
                fontstyle="italic", color="0.3")
    ax.set_title("Optimal scheme: edges P(signal | state)", fontsize=11)
    ax.flow_graph = G
    return ax


# --------------------------------------------------------------------------- result
def plot_result(result, path=None):
    """The geometry panel beside the flow graph, in one Figure.

    Two states: :func:`plot_concavification`; three states: :func:`plot_ternary`; other
    state counts: the flow graph alone.

    Parameters
    ----------
    result : PersuasionResult
    path : str or Path, optional
        Save the figure there; the format follows the extension (``.png``, ``.pdf`` or
        ``.svg``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    GameValidationError
        ``field="plot"`` for an unsupported file extension.
    """
    from matplotlib.figure import Figure

    from .result import PersuasionResult

    if not isinstance(result, PersuasionResult):
        raise GameValidationError("plot", f"plot_result draws a PersuasionResult, got "
                                          f"{type(result).__name__}")
    game = result.game
    if game is None:
        raise GameValidationError("plot", "the result carries no game (result.game is None)")
    fmt = None
    if path is not None:
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in SAVE_FORMATS:
            raise GameValidationError(
                "plot", f"cannot save {str(path)!r}: unsupported extension "
                        f"{'.' + fmt if fmt else '(none)'}; use .png, .pdf or .svg")
    n_rows = max(game.n_states, result.n_signals, 2)
    height = max(5.4, 1.1 * n_rows + 2)
    geometry = game.n_states in (2, 3)
    fig = Figure(figsize=(14.5 if geometry else 8, height), layout="constrained")
    if geometry:
        ax_geo, ax_flow = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        if game.n_states == 2:
            plot_concavification(result, ax=ax_geo)
        else:
            plot_ternary(game, result, ax=ax_geo)
    else:
        ax_flow = fig.add_subplot()
    plot_flow(result, ax=ax_flow)
    value = _fmt(result.value_exact, result.value, max_den=10**6)
    fig.suptitle(f"{game.name}: optimal sender value {value}"
                 f"{' (certified)' if result.certified else ''}, method {result.method}",
                 fontsize=13)
    if path is not None:
        fig.savefig(path, format=fmt, dpi=130)
    return fig
