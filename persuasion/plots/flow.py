"""The flow graph of a scheme, for any game: states -> signals -> actions."""

from __future__ import annotations

import math
from fractions import Fraction

from ..errors import GameValidationError
from ..result import PersuasionResult
from .common import action_colour, new_axes, profile_index, profile_label, short_label, signal_data

__all__ = ["plot_flow"]


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

    if not isinstance(result, PersuasionResult):
        raise GameValidationError("plot", f"plot_flow draws a PersuasionResult, got "
                                          f"{type(result).__name__}")
    game = result.game
    if game is None:
        raise GameValidationError("plot", "the result carries no game (result.game is None)")
    sigs = signal_data(result)
    n = game.n_states
    G = nx.DiGraph()
    for i, s in enumerate(game.states):
        G.add_node(("state", i), layer=0,
                   label=f"{s}\nprior {short_label(game.prior_exact[i])}", colour="#d9e2ef")
    actions = []
    for k, s in enumerate(sigs):
        if s[4] not in actions:
            actions.append(s[4])
    action_prob = {a: (Fraction(0) if all(s[1] is not None for s in sigs) else None,
                       0.0) for a in actions}
    for k, s in enumerate(sigs):
        ex, fl = action_prob[s[4]]
        action_prob[s[4]] = (None if ex is None else ex + s[1], fl + s[0])
    for a in sorted(actions, key=lambda a: profile_index(game, a)):
        ex, fl = action_prob[a]
        G.add_node(("action", a), layer=2, colour=action_colour(profile_index(game, a)),
                   label=f"{profile_label(game, a, with_types=True)}\nP = {short_label(ex, fl)}")
    for k, s in enumerate(sigs):
        G.add_node(("signal", k), layer=1, colour=action_colour(profile_index(game, s[4])),
                   label=f"signal {k + 1}\nP = {short_label(s[1], s[0])}")
    for i in range(n):
        for k, s in enumerate(sigs):
            cond = float(result.scheme[i, k]) if game.prior[i] > 0 else 0.0
            if cond <= 1e-12:
                continue
            exact = None
            if s[1] is not None and game.prior_exact[i] != 0:
                exact = s[1] * s[3][i] / game.prior_exact[i]
            G.add_edge(("state", i), ("signal", k), probability=cond,
                       label=short_label(exact, cond), kind="scheme")
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

    ax = new_axes(ax, (7.5, max(3.5, 1.3 * height + 1.5)))
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
