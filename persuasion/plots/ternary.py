"""The belief simplex of a three-state game: best-response cells, prior and posteriors.

The projection is done here (barycentric, onto an equilateral triangle) rather than
with ``mpltern``, so that the panel is an ordinary Axes and no extra dependency is
needed.
"""

from __future__ import annotations

import math

from ..errors import GameValidationError
from ..signaling_lp import action_profiles
from ..vertices import polytope_vertices
from .common import (action_colour, new_axes, profile_index, profile_label, require_states,
                     short_label, signal_data, split_input, types_note)

__all__ = ["plot_ternary"]

_SQRT3_2 = math.sqrt(3) / 2


def _project(mu) -> tuple[float, float]:
    """Barycentric projection: state 0 at (0, 0), state 1 at (1, 0), state 2 at the top."""
    m1, m2 = float(mu[1]), float(mu[2])
    return m1 + 0.5 * m2, _SQRT3_2 * m2


def _cells(game):
    """Non-empty best-response cells: list of (profile, exact vertices)."""
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

    game, res_in = split_input(game)
    if res_in is not None:
        if result is not None:
            raise GameValidationError("plot", "give the game and the result, or the result alone")
        result = res_in
    require_states(game, 3, "plot_ternary",
                    "use plot_concavification for 2 states or plot_flow for any number")
    ax = new_axes(ax, (7, 6.4))

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
        avoid += [_project(s[2]) for s in signal_data(result)]

    # the cells
    for prof, verts in _cells(game):
        col = action_colour(profile_index(game, prof))
        pts = list(dict.fromkeys(_project(v) for v in verts))
        label = profile_label(game, prof)
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
        sigs = signal_data(result)
        pts = [_project(s[2]) for s in sigs]
        for (x, y) in pts:
            ax.plot([px, x], [py, y], "--", color="0.2", lw=1, zorder=7, gid="split")
        sizes = [900.0 * s[0] for s in sigs]
        ax.scatter([x for x, _ in pts], [y for _, y in pts], s=sizes,
                   c=[action_colour(profile_index(game, s[4])) for s in sigs], edgecolors="black",
                   linewidths=1.5, zorder=8, gid="posterior")
        for s, (x, y) in zip(sigs, pts):
            dx, dy = _label_direction(s[2], s[3], (x - px, y - py))
            r = math.sqrt(900.0 * s[0] / math.pi) + 5  # beyond the disc, in points
            ax.annotate(f"P = {short_label(s[1], s[0])}\n\u2192 {profile_label(game, s[4])}",
                        (x, y), xytext=(dx * r, dy * r), textcoords="offset points",
                        ha="left" if dx > 0.3 else ("right" if dx < -0.3 else "center"),
                        va="bottom" if dy > 0.3 else ("top" if dy < -0.3 else "center"),
                        fontsize=9, zorder=10, gid="posterior_label",
                        bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.6", alpha=0.9))

    ax.set_xlim(-0.22, 1.22)
    ax.set_ylim(-0.15, _SQRT3_2 + 0.13)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"Best-response cells: {game.name}{types_note(game)}", fontsize=11)
    return ax
