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

Modules, one plot each: :mod:`~persuasion.plots.concavification`,
:mod:`~persuasion.plots.ternary`, :mod:`~persuasion.plots.flow`,
:mod:`~persuasion.plots.figure` (:func:`plot_result`), and
:mod:`~persuasion.plots.common` (what they share). matplotlib and networkx are imported
inside the drawing functions, not at import time: the command line imports
:func:`plot_result` at start-up, and most commands draw nothing. (Regret curves are drawn
by :mod:`persuasion.online.analysis`.)
"""


from .common import HULL_COLOUR
from .concavification import plot_concavification
from .figure import SAVE_FORMATS, plot_result
from .flow import plot_flow
from .ternary import plot_ternary

__all__ = ["plot_concavification", "plot_ternary", "plot_flow", "plot_result",
           "SAVE_FORMATS", "HULL_COLOUR"]
