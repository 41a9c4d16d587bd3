"""Teaching plots: the artists drawn match the exact geometry of the games."""

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Polygon

from persuasion import Game, ReceiverTypesGame, solve
from persuasion.concavification import value_function
from persuasion.errors import GameValidationError
from persuasion.games import load_builtin
from persuasion.plots import (plot_concavification, plot_flow, plot_result, plot_ternary)
from persuasion.posterior_lp import candidate_posteriors

SQRT3_2 = math.sqrt(3) / 2


def project(mu):
    return float(mu[1]) + 0.5 * float(mu[2]), SQRT3_2 * float(mu[2])


def by_gid(ax, gid, kind=None):
    arts = list(ax.lines) + list(ax.patches) + list(ax.collections) + list(ax.texts)
    return [a for a in arts if a.get_gid() == gid and (kind is None or isinstance(a, kind))]


def texts(ax, gid):
    return sorted(t.get_text() for t in by_gid(ax, gid))


@pytest.fixture(scope="module")
def prosecutor():
    return load_builtin("prosecutor")


@pytest.fixture(scope="module")
def three():
    return load_builtin("three_state")


@pytest.fixture(scope="module")
def types2():
    return load_builtin("receiver_types")


@pytest.fixture(scope="module")
def types3():
    return ReceiverTypesGame(
        ["1/2", "3/10", "1/5"], [[0, 1, 2]] * 3,
        [[[2, 0, -2], [0, 1, 0], [-2, 0, 3]], [[1, 0, -1], [0, 1, 0], [-3, 0, 1]]],
        ["1/2", "1/2"], states=["falls", "flat", "rises"], actions=["sell", "hold", "buy"],
        types=["cautious", "bold"], name="types3")


@pytest.fixture(scope="module")
def degenerate():
    # action c is a best response only on the segment P(x) = P(y)
    return Game(["1/3", "1/3", "1/3"], [[0, 0, 1]] * 3, [[1, 0, "1/2"], [0, 1, "1/2"], [0, 0, 0]],
                states=["x", "y", "z"], actions=["a", "b", "c"], name="degenerate")


# ------------------------------------------------------------------ concavification
@pytest.mark.parametrize("source", ["game", "posterior", "signaling", "concavification"])
def test_concavification_prosecutor(prosecutor, source):
    obj = prosecutor if source == "game" else solve(prosecutor, source, certify=True)
    ax = plot_concavification(obj)
    assert isinstance(ax, Axes) and isinstance(ax.figure, Figure)
    vf = value_function(prosecutor)
    assert len(by_gid(ax, "piece")) == len(vf.pieces) == 2
    assert texts(ax, "piece_label") == ["acquit", "convict"]
    # filled dots at the breakpoints 0, 1/2, 1 with the exact values of V
    dots = sorted((ln.get_xdata()[0], ln.get_ydata()[0]) for ln in by_gid(ax, "breakpoint"))
    assert dots == [(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)]
    # one jump: the acquit piece ends open at (1/2, 0)
    opens = [(ln.get_xdata()[0], ln.get_ydata()[0]) for ln in by_gid(ax, "open_end")]
    assert opens == [(0.5, 0.0)]
    (open_marker,) = by_gid(ax, "open_end")
    assert open_marker.get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))
    (hull,) = by_gid(ax, "hull")
    assert list(hull.get_xdata()) == [0, 0.5, 1] and list(hull.get_ydata()) == [0, 1, 1]
    (prior,) = by_gid(ax, "prior")
    assert list(prior.get_xdata()) == [0.3, 0.3]
    # the optimal posteriors sit on cav V, joined by the chord through (prior, value)
    (post,) = by_gid(ax, "posterior")
    xs, ys = np.asarray(post.get_xdata()), np.asarray(post.get_ydata())
    assert xs == pytest.approx([0, 0.5]) and ys == pytest.approx(vf.cav(xs))
    (chord,) = by_gid(ax, "chord")
    assert np.interp(0.3, chord.get_xdata(), chord.get_ydata()) == pytest.approx(0.6)
    (star,) = by_gid(ax, "optimum")
    assert (star.get_xdata()[0], star.get_ydata()[0]) == pytest.approx((0.3, 0.6))
    assert texts(ax, "weight_label") == ["weight 2/5", "weight 3/5"]
    assert "guilty" in ax.get_xlabel()
    assert any("innocent" in t.get_text() for t in ax.get_xticklabels())


def test_concavification_types(types2):
    res = solve(types2, "posterior", certify=True)
    ax = plot_concavification(res)
    assert texts(ax, "piece_label") == ["acquit/acquit", "convict/acquit", "convict/convict"]
    assert len(by_gid(ax, "open_end")) == 2  # jumps at 1/5 and 1/2
    (post,) = by_gid(ax, "posterior")
    assert list(post.get_xdata()) == pytest.approx([0.2, 0.5])
    vf = value_function(types2)
    assert list(post.get_ydata()) == pytest.approx(list(vf.cav(np.array([0.2, 0.5]))))
    assert texts(ax, "weight_label") == ["weight 1/3", "weight 2/3"]
    assert "lenient/strict" in ax.get_title()


def test_concavification_on_given_axes(prosecutor):
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_concavification(prosecutor, ax=ax) is ax


def test_concavification_no_information(prosecutor):
    game = prosecutor.with_data(prior=["1/2", "1/2"])  # a kink of cav V: reveal nothing
    ax = plot_concavification(game)
    (post,) = by_gid(ax, "posterior")
    assert list(post.get_xdata()) == [0.5]
    assert texts(ax, "weight_label") == ["weight 1"]
    assert by_gid(ax, "chord") == []


@pytest.mark.parametrize("name", ["prosecutor", "receiver_types"])
def test_concave_closure_is_drawn_on_top_in_its_own_colour(name):
    """cav V runs along V and along the chord: it is drawn above every other line, dashed,
    wider than the chord, in a colour that is neither an action's nor the chord's."""
    from matplotlib.colors import same_color

    from persuasion.plots import HULL_COLOUR

    ax = plot_concavification(solve(load_builtin(name), "posterior"))
    (hull,) = by_gid(ax, "hull")
    others = [ln for ln in ax.lines if ln is not hull and ln.get_linestyle() not in ("None", "")]
    assert others and all(hull.get_zorder() > ln.get_zorder() for ln in others)
    assert hull.get_linestyle() not in ("-", "solid")
    assert hull.get_linewidth() >= max(ln.get_linewidth() for ln in by_gid(ax, "chord"))
    assert same_color(hull.get_color(), HULL_COLOUR)
    coloured = by_gid(ax, "piece") + by_gid(ax, "chord")
    assert not any(same_color(hull.get_color(), ln.get_color()) for ln in coloured)
    markers = by_gid(ax, "posterior") + by_gid(ax, "optimum")
    assert all(m.get_zorder() > hull.get_zorder() for m in markers)  # markers stay above it


# -------------------------------------------------------------------------- ternary
def cell_vertex_sets(ax):
    return [sorted((round(x, 9), round(y, 9)) for x, y in p.get_xy()[:-1])
            for p in by_gid(ax, "cell", Polygon)]


def test_ternary_three_state(three):
    res = solve(three, "posterior", certify=True)
    ax = plot_ternary(three, res)
    _, _, _, stats = candidate_posteriors(three)
    cells = by_gid(ax, "cell", Polygon)
    assert len(cells) == stats["nonempty_cells"] == 3
    assert len({tuple(p.get_facecolor()) for p in cells}) == 3
    assert sorted(p.get_label() for p in cells) == ["buy", "hold", "sell"]
    assert texts(ax, "cell_label") == ["buy", "hold", "sell"]
    assert texts(ax, "state_label") == ["falls", "flat", "rises"]
    # the polygons are the exact cells: e.g. "hold" is u(hold) >= u(sell), u(buy)
    from persuasion.vertices import polytope_vertices
    U = three.receiver_utility_exact
    hold = polytope_vertices(3, [[U[w, 1] - U[w, b] for w in range(3)] for b in (0, 2)])
    expect = sorted((round(x, 9), round(y, 9)) for x, y in map(project, hold))
    assert expect in cell_vertex_sets(ax)
    # the polygon vertices are in angular order (a simple polygon: positive area)
    for p in cells:
        xy = p.get_xy()[:-1]
        area = 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(xy, np.roll(xy, -1, 0)))
        assert area > 0
    # prior and posteriors; disc areas proportional to the probabilities
    (prior,) = by_gid(ax, "prior")
    assert (prior.get_xdata()[0], prior.get_ydata()[0]) == pytest.approx(project(three.prior))
    (scatter,) = by_gid(ax, "posterior", PathCollection)
    offsets = scatter.get_offsets()
    assert np.allclose(offsets, [project(mu) for mu in res.posteriors])
    sizes = scatter.get_sizes()
    assert np.allclose(sizes / sizes.sum(), res.signal_probabilities)
    labels = texts(ax, "posterior_label")
    assert labels == sorted(["P = 3/20\n\u2192 sell", "P = 3/10\n\u2192 hold",
                             "P = 11/20\n\u2192 buy"])
    assert len(by_gid(ax, "split")) == 3
    assert ax.get_aspect() == 1.0


def test_ternary_without_result_and_from_result(three):
    ax = plot_ternary(three)
    assert len(by_gid(ax, "cell", Polygon)) == 3 and by_gid(ax, "posterior") == []
    res = solve(three, "signaling")
    ax = plot_ternary(res)
    assert len(by_gid(ax, "posterior", PathCollection)) == 1
    with pytest.raises(GameValidationError):
        plot_ternary(res, res)


def test_ternary_types(types3):
    res = solve(types3, "posterior", certify=True)
    ax = plot_ternary(types3, res)
    _, _, _, stats = candidate_posteriors(types3)
    cells = by_gid(ax, "cell", Polygon)
    assert len(cells) + len(by_gid(ax, "degenerate_cell")) == stats["nonempty_cells"] == 5
    assert "sell/hold" in texts(ax, "cell_label")
    assert "P = 2/5\n\u2192 buy/buy" in texts(ax, "posterior_label")


def test_ternary_degenerate_cell(degenerate):
    ax = plot_ternary(degenerate, solve(degenerate, "posterior"))
    assert len(by_gid(ax, "cell", Polygon)) == 2
    (seg,) = by_gid(ax, "degenerate_cell")
    pts = sorted(zip(seg.get_xdata(), seg.get_ydata()))
    expected = sorted([project((0, 0, 1)), project((0.5, 0.5, 0))])
    np.testing.assert_allclose(np.array(pts, dtype=float), np.array(expected, dtype=float))
    assert texts(ax, "cell_label") == ["a", "b", "c"]


# ----------------------------------------------------------------------------- flow
def test_flow_prosecutor(prosecutor):
    res = solve(prosecutor, "posterior", certify=True)
    ax = plot_flow(res)
    G = ax.flow_graph
    layers = [sorted(v[1] for v in G if G.nodes[v]["layer"] == L) for L in range(3)]
    assert layers == [[0, 1], [0, 1], [(0,), (1,)]]
    # 3 positive entries of the scheme + one edge per signal
    assert G.number_of_edges() == 3 + 2
    assert len(by_gid(ax, "flow_edge", FancyArrowPatch)) == 5
    assert texts(ax, "edge_label") == ["1", "3/7", "4/7"]
    widths = {e: G.edges[e]["probability"] for e in G.edges}
    assert widths[("state", 0), ("signal", 0)] == pytest.approx(4 / 7)
    arrows = by_gid(ax, "flow_edge", FancyArrowPatch)
    lw = sorted(a.get_linewidth() for a in arrows)
    assert lw == pytest.approx(sorted(8 * p for p in (4 / 7, 3 / 7, 1, 0.4, 0.6)))
    node_text = " ".join(t.get_text() for t in ax.texts)
    assert "prior 7/10" in node_text and "P = 3/5" in node_text and "convict" in node_text


def test_flow_types_and_many_states(types2):
    ax = plot_flow(solve(types2, "signaling", certify=True))
    node_text = " ".join(t.get_text() for t in ax.texts)
    assert "lenient: convict\nstrict: acquit" in node_text
    rng = np.random.default_rng(1)
    g = Game(np.full(5, 0.2), rng.integers(0, 4, (5, 3)), rng.integers(0, 4, (5, 3)))
    res = solve(g, "signaling")
    ax = plot_flow(res)
    assert sum(1 for v in ax.flow_graph if v[0] == "state") == 5
    assert ax.flow_graph.number_of_edges() == int((res.scheme > 1e-12).sum()) + res.n_signals


# ------------------------------------------------------------------- regret figure
def test_realised_regret_curves_are_visible(tmp_path):
    """The realised-regret curves run close to the pseudo-regret means: they are drawn above
    them, thicker, dotted and darker than their learner's colour, with a legend entry."""
    from matplotlib.colors import to_rgb

    from persuasion.online.analysis import _COLOURS
    from theory.regret import regret_analysis

    from persuasion.online.analysis import aggregate, plot_regret_figure
    from persuasion.online.sweep import read_results

    s = regret_analysis(load_builtin("prosecutor"), ["robust", "plugin"], horizon=200, seeds=[0, 1],
                        out_dir=tmp_path, workers=1, progress=False)
    agg = aggregate(read_results(tmp_path / "runs.jsonl"))
    fig = plot_regret_figure(agg, path=tmp_path / "regret.png")
    ax = fig.axes[0]
    realised = by_gid(ax, "realised")
    assert len(realised) == 2
    means = [ln for ln in ax.lines if ln.get_gid() is None and len(ln.get_xdata()) > 0]
    for ln, name in zip(realised, ["robust", "plugin"]):
        assert ln.get_zorder() > max(m.get_zorder() for m in means)
        assert ln.get_linewidth() >= 1.5 * max(m.get_linewidth() for m in means)
        assert ln.get_linestyle() not in ("-", "solid")
        assert sum(to_rgb(ln.get_color())) < sum(to_rgb(_COLOURS[name]))  # darker
        assert list(ln.get_ydata()) == pytest.approx(list(agg[name]["realised_mean"]))
    assert any("realised" in t.get_text() for t in ax.get_legend().get_texts())
    assert (tmp_path / "regret.png").stat().st_size > 1000 and s.plot.endswith("regret.png")


def test_bridge_bar_chart_labels_sit_above_the_error_bars(tmp_path):
    """Each bar's value is written above the top of its 95% interval, inside the axes, also
    when the interval reaches 1."""
    evaluate = pytest.importorskip("llm_bridge.evaluate")
    from llm_bridge.stats import accuracy_summary

    conds = {"none": accuracy_summary([1] * 5 + [0] * 7), "prior": accuracy_summary([1] * 7 + [0] * 5),
             "posterior": accuracy_summary([1] * 12)}
    summary = {"task": "math-mix", "receiver": "r", "n": 12, "conditions": conds,
               "lift_vs_none": 7 / 12, "p_value": 0.016}
    fig = evaluate.plot_conditions(summary, tmp_path / "conditions.png")
    ax = fig.axes[0]
    labels = sorted(by_gid(ax, "value_label"), key=lambda t: t.xy[0])
    assert [t.get_text() for t in labels] == ["0.42", "0.58", "1.00"]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    axes_box = ax.get_window_extent(renderer)
    for t, c in zip(labels, ("none", "prior", "posterior")):
        top = conds[c]["ci95"][1]
        assert t.xy[1] == pytest.approx(top)
        cap_top = ax.transData.transform((t.xy[0], top))[1]
        box = t.get_window_extent(renderer)
        assert box.y0 > cap_top  # clear of the error bar and its cap
        assert box.y1 < axes_box.y1  # inside the axes, even for the interval that reaches 1
    assert (tmp_path / "conditions.png").stat().st_size > 1000


# ---------------------------------------------------------------------------- result
@pytest.mark.parametrize("name,n_axes", [("prosecutor", 2), ("three_state", 2),
                                         ("receiver_types", 2)])
def test_plot_result_panels(name, n_axes, tmp_path):
    res = solve(load_builtin(name), "posterior", certify=True)
    fig = plot_result(res, tmp_path / f"{name}.png")
    assert isinstance(fig, Figure) and len(fig.axes) == n_axes
    assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_result_four_states_flow_only():
    g = Game([0.25] * 4, np.eye(4, 2), np.eye(4, 2) + 0.5)
    fig = plot_result(solve(g, "signaling"))
    assert len(fig.axes) == 1 and hasattr(fig.axes[0], "flow_graph")


@pytest.mark.parametrize("ext,magic", [("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_plot_result_formats(prosecutor, tmp_path, ext, magic):
    path = tmp_path / f"out.{ext}"
    plot_result(solve(prosecutor, "posterior"), str(path))
    assert path.read_bytes()[:len(magic)] == magic


def test_plot_result_bad_extension(prosecutor, tmp_path):
    with pytest.raises(GameValidationError) as exc:
        plot_result(solve(prosecutor, "posterior"), tmp_path / "out.xyz")
    assert exc.value.field == "plot" and ".png" in str(exc.value)
    assert not (tmp_path / "out.xyz").exists()


# -------------------------------------------------------------------------- errors
def test_wrong_state_counts(prosecutor, three):
    with pytest.raises(GameValidationError) as exc:
        plot_concavification(three)
    assert exc.value.field == "plot" and "2 states" in str(exc.value) and "has 3" in str(exc.value)
    with pytest.raises(GameValidationError) as exc:
        plot_concavification(solve(three, "signaling"))
    assert exc.value.field == "plot"
    with pytest.raises(GameValidationError) as exc:
        plot_ternary(prosecutor)
    assert exc.value.field == "plot" and "3 states" in str(exc.value)
    with pytest.raises(GameValidationError) as exc:
        plot_ternary(solve(prosecutor, "posterior"))
    assert exc.value.field == "plot"


def test_wrong_inputs(prosecutor):
    for call in (lambda: plot_flow(prosecutor), lambda: plot_result(prosecutor),
                 lambda: plot_concavification([1, 2])):
        with pytest.raises(GameValidationError) as exc:
            call()
        assert exc.value.field == "plot"


def test_no_pyplot_state():
    """The plots never import pyplot (no global figure state; headless without a backend)."""
    code = ("import sys; from persuasion import solve; from persuasion.games import load_builtin;"
            "from persuasion.plots import plot_result;"
            "[plot_result(solve(load_builtin(n), 'posterior')) for n in "
            "('prosecutor', 'three_state', 'receiver_types')];"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_inputs_not_mutated(three):
    res = solve(three, "posterior", certify=True)
    before = (res.scheme.copy(), res.posteriors.copy(), list(res.actions))
    plot_result(res)
    assert np.array_equal(before[0], res.scheme) and np.array_equal(before[1], res.posteriors)
    assert before[2] == list(res.actions)
    assert Fraction(res.value_exact) == Fraction(7, 5)


def test_ternary_point_cell():
    # action c is a best response only at the corner z
    g = Game(["1/3", "1/3", "1/3"], [[0, 0, 1]] * 3, [[1, 0, 0], [0, 1, 0], [0, 0, 0]],
             states=["x", "y", "z"], actions=["a", "b", "c"])
    ax = plot_ternary(g, solve(g, "posterior"))
    (pt,) = by_gid(ax, "degenerate_cell")
    assert (pt.get_xdata()[0], pt.get_ydata()[0]) == pytest.approx(project((0, 0, 1)))
    assert len(by_gid(ax, "cell", Polygon)) == 2
