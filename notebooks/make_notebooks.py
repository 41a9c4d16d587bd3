"""Write the teaching notebooks of this folder from the cells below (nbformat).

The notebooks are committed without outputs (no outputs, ``execution_count`` null); this
script is their one source: edit the cells here, then run ::

    python notebooks/make_notebooks.py            # rewrite the four .ipynb files
    python notebooks/make_notebooks.py --check    # exit 1 if a committed notebook differs

``tests/docs/test_notebooks.py`` executes each notebook (nbclient) and checks that the
committed files are stripped and the same as this script writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
%matplotlib inline
from fractions import Fraction

import numpy as np

from persuasion import evaluate_scheme, solve, solve_both
from persuasion.games import load_builtin
from persuasion.plots import plot_result"""

FRACTIONS = """\
def rationals(m):
    \"\"\"A matrix or vector of Fractions as nested lists of strings (\"3/10\").\"\"\"
    return np.vectorize(str)(np.asarray(m, dtype=object)).tolist()"""

READ_SIGNALS = """\
for s in post.signals:
    posterior = ", ".join(f"{name}={p}" for name, p in zip(game.states, s.posterior_exact))
    print(f"P(signal) = {s.probability_exact}: posterior ({posterior}) -> {s.action_name}")"""


def md(text):
    return new_markdown_cell(text.strip("\n"))


def code(text):
    return new_code_cell(text.strip("\n"))


def prosecutor():
    return [
        md("""
# The prosecutor and the judge (Kamenica & Gentzkow 2011)

A defendant is *innocent* or *guilty*; the prior is P(guilty) = 3/10. The judge convicts
if and only if P(guilty) ≥ 1/2. The prosecutor wants a conviction whatever the truth and
commits, before the facts are known, to an investigation: a signaling scheme, the
probabilities P(signal | state). The judge sees the signal, updates by Bayes' rule and
acts.

Without an investigation the judge acquits (3/10 < 1/2); a fully revealing one convicts
the guilty only, with probability 3/10. The optimum does better: it is the value of the
*concave closure* of the prosecutor's value function at the prior.
"""),
        code(SETUP),
        code(FRACTIONS),
        md("""
## The game

Every matrix is indexed `[state][action]`; the bundled game is read by name, with exact
rational data.
"""),
        code("""
game = load_builtin("prosecutor")
print(game.description)
print("states", game.states, "actions", game.actions, "prior", rationals(game.prior_exact))
print("sender utility v[state][action]:", rationals(game.sender_utility_exact))
print("receiver utility u[state][action]:", rationals(game.receiver_utility_exact))"""),
        md("""
## Solve exactly, three ways

* `posterior`: the exact vertices of each best-response cell of the belief simplex, then
  the Bayes-plausibility LP over those candidate posteriors (concavification as an LP);
* `signaling`: the LP over action recommendations with obedience constraints;
* `concavification`: two states only, the upper concave hull of the value function in
  rationals.

`solve_both` runs the two LPs and raises `MethodsDisagreeError` if they differ.
"""),
        code("""
post, sig = solve_both(game, certify=True)
concav = solve(game, "concavification")
for r in (post, sig, concav):
    print(f"{r.method:16s} value {r.value_exact}  certified={r.certified}")
assert post.value_exact == sig.value_exact == concav.value_exact == Fraction(3, 5)"""),
        md("""
## Certify

`certify=True` re-solves HiGHS's optimal basis in exact rationals and checks primal
feasibility (non-negativity, Bayes plausibility, obedience) and dual feasibility, so the
optimum 3/5 is *proven*, not just computed in floating point. For the posterior LP the
dual is the supporting hyperplane of cav V at the prior: the line that touches the
closure at the prior and lies above V everywhere.
"""),
        code("""
print(post.summary())
print("supporting hyperplane (its values at the two vertices of the simplex):",
      rationals(post.details["hyperplane"]))"""),
        md("""
## Plot

Left: the value function V(p) over p = P(guilty), its concave closure, the prior and
the optimal split of the prior into posteriors (a chord of cav V). Right: the scheme as
a flow from states to signals to actions.
"""),
        code("""
fig = plot_result(post)
fig"""),
        md("""
## Read the scheme

The prior 3/10 is split into the posteriors 0 (the judge acquits) and 1/2 (the judge,
just indifferent, convicts: ties go the sender's way). Bayes plausibility fixes the
weights: 2/5 · 0 + 3/5 · 1/2 = 3/10. So the judge convicts with probability 3/5, twice
as often as under full revelation: every guilty defendant and 3/7 of the innocent ones.
"""),
        code(READ_SIGNALS),
        code("""
print("P(signal | state), [state][signal]:")
print(np.round(post.scheme, 4))
for label, scheme in {"no information": np.ones((2, 1)), "full revelation": np.eye(2),
                      "the optimum": post.scheme}.items():
    print(f"{label:16s} earns {evaluate_scheme(game, scheme).sender_value:.4g}")"""),
    ]


def three_state():
    return [
        md("""
# A stock analyst's ratings (three states)

A broker's analyst rates a stock that will *fall*, stay *flat* or *rise* (prior 1/2,
3/10, 1/5). The investor *sells*, *holds* or *buys*: he wants to sell if it falls, hold if
it stays flat and buy if it rises. The broker earns 0, 1 or 2 on sell, hold or buy,
whatever the stock does. The analyst commits to a rating scheme in advance.

With no information the investor sells (value 0); telling the truth earns 7/10. The
optimum, 7/5, needs three ratings, and only one of them ("sell") tells the truth.
"""),
        code(SETUP),
        code(FRACTIONS),
        md("## The game"),
        code("""
game = load_builtin("three_state")
print(game.description)
print("states", game.states, "actions", game.actions, "prior", rationals(game.prior_exact))
print("sender utility v[state][action]:", rationals(game.sender_utility_exact))
print("receiver utility u[state][action]:", rationals(game.receiver_utility_exact))"""),
        md("""
## Solve exactly and certify

With three states the belief simplex is a triangle, split into the investor's three
best-response cells. The posterior LP enumerates the cells' exact vertices and picks a
Bayes-plausible distribution over them; the signaling LP recommends actions subject to
obedience. Both are certified in rationals and must agree.
"""),
        code("""
post, sig = solve_both(game, certify=True)
for r in (post, sig):
    print(f"{r.method:10s} value {r.value_exact}  certified={r.certified}")
assert post.value_exact == sig.value_exact == Fraction(7, 5)
print(post.summary())"""),
        md("""
## Plot

Left: the simplex of beliefs, coloured by the investor's best response, with the prior
(star) and the optimal posteriors (area proportional to probability). Every posterior
lies on the boundary of a cell: the investor is just willing to take the action the
analyst wants. Right: the scheme as a flow graph.
"""),
        code("""
fig = plot_result(post)
fig"""),
        md("""
## Read the scheme

"sell" is sent only when the stock surely falls; "hold" mixes *flat* with some *falls*;
"buy" is sent as often as the investor still (just) prefers buying, pooling all *rises*
with parts of *falls* and *flat*.
"""),
        code(READ_SIGNALS),
        code("""
for label, scheme in {"no information": np.ones((3, 1)), "full revelation": np.eye(3),
                      "the optimum": post.scheme}.items():
    print(f"{label:16s} earns {evaluate_scheme(game, scheme).sender_value:.4g}")"""),
    ]


def receiver_types():
    return [
        md("""
# The prosecutor facing an unknown judge (receiver types)

The judge is *lenient* (convicts iff P(guilty) ≥ 1/5) or *strict* (iff P(guilty) ≥ 1/2),
with probability 1/2 each; the prosecutor commits to one public investigation before
knowing which judge sits. A signal now induces one action per type (an action profile),
and the value is the average over the types.
"""),
        code(SETUP),
        code(FRACTIONS),
        md("## The game"),
        code("""
game = load_builtin("receiver_types")
print(game.description)
for name, prob, u in zip(game.type_names, game.type_probabilities_exact,
                         game.receiver_utilities_exact):
    print(f"{name}: probability {prob}, u[state][action] = {rationals(u)}")"""),
        md("""
## Solve exactly and certify

Both LPs handle receiver types: the signals are action profiles (one action per type),
so there are m^T of them, here 2² = 4.
"""),
        code("""
post, sig = solve_both(game, certify=True)
concav = solve(game, "concavification")
for r in (post, sig, concav):
    print(f"{r.method:16s} value {r.value_exact}  certified={r.certified}")
assert post.value_exact == sig.value_exact == concav.value_exact == Fraction(2, 3)"""),
        md("""
## Each judge alone, and what their optima earn against the mixture

Alone, the lenient judge convicts without information (value 1) and the strict one needs
the textbook split (value 3/5). Neither optimum is right for the mixture.
"""),
        code("""
from persuasion import Game


def alone(t):
    return Game(list(game.prior_exact), game.sender_utility_exact,
                np.asarray(game.receiver_utilities_exact[t]), states=game.states,
                actions=game.actions, name=game.type_names[t])


single = {name: solve(alone(t), "signaling", certify=True)
          for t, name in enumerate(game.type_names)}
for name, r in single.items():
    print(f"{name} judge alone: optimal value {r.value_exact}")
for label, scheme in {"revealing nothing": np.ones((2, 1)),
                      "the strict judge's optimum": single["strict"].scheme,
                      "the optimum against the mixture": post.scheme}.items():
    print(f"against the mixture, {label} earns {evaluate_scheme(game, scheme).sender_value:.4g}")"""),
        md("""
## Plot

The value function is now the average over the types: it jumps at 1/5 (the lenient
judge starts convicting) and at 1/2 (the strict one does). Its concave closure at the
prior gives 2/3.
"""),
        code("""
fig = plot_result(post)
fig"""),
        md("""
## Read the scheme

Posterior 1/5 (weight 2/3): only the lenient judge convicts; posterior 1/2 (weight
1/3): both convict. Value 2/3 · 1/2 + 1/3 · 1 = 2/3, more than the textbook split's 3/5:
the prosecutor gives up the strict judge more often to keep the lenient one convicting.
"""),
        code(READ_SIGNALS),
    ]


def regret():
    return [
        md("""
# Regret of online learners on the prosecutor

Now the prosecutor does **not** know the prior. Each round she commits to a scheme, the
state is drawn, the judge responds to the signal; she sees the state afterwards and
learns the prior. Her *pseudo-regret* after T rounds is
$R_T = \\sum_t (\\mathrm{OPT} - U(\\sigma_t; \\mu))$, measured against the exact optimum
3/5.

`theory.regret.regret_analysis` runs learners over seeds, aggregates, and computes the
robust learner's high-probability regret bound (derived in `docs/theory.md`). A small
horizon and three seeds keep this notebook to seconds; `persuasion regret` runs the same
at full size.
"""),
        code("""
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from persuasion.games import load_builtin
from persuasion.online import LEARNERS
from theory.regret import regret_analysis

print("learners:", ", ".join(LEARNERS))"""),
        md("""
* `robust`: solves a robust LP over a confidence ball around the empirical prior, so
  its recommendations stay obedient for every prior in the ball (Zu, Iyer & Xu 2021);
* `plugin`: plugs the empirical prior into the exact LP;
* `explore-commit`: reveals everything for a while, then commits to the plug-in optimum;
* `full` and `none`: full revelation and no information, the two fixed baselines.
"""),
        code("""
game = load_builtin("prosecutor")
learners = ["robust", "plugin", "explore-commit", "full", "none"]
res = regret_analysis(game, learners, horizon=5000, seeds=range(3), workers=1,
                      progress=False)
print(f"OPT = {res.optimal_value}, horizon {res.horizon}, {res.seeds} seeds")
for name, r in res.learners.items():
    bound = f"{r.bound:.0f}" if r.bound is not None else "-"
    slope = f"{r.slope:.2f}" if r.slope is not None else "-"
    print(f"{name:15s} regret {r.final_regret_mean:8.1f} ± {r.final_regret_std:6.1f}  "
          f"log-log slope {slope}  obedience violations {r.violations:5d}  bound {bound}")"""),
        md("""
## The curves

Mean pseudo-regret over the seeds on log-log axes (the table above gives the spread),
with the robust learner's high-probability bound dashed. A slope of 1 is linear regret.
"""),
        code("""
fig, ax = plt.subplots(figsize=(7, 4.5))
for name, r in res.learners.items():
    t, mean = np.asarray(r.curve).T
    ax.plot(t, mean, label=name)
t, b = np.asarray(res.bound_curve).T
ax.plot(t, b, "k--", label="robust: bound")
ax.set(xscale="log", yscale="log", xlabel="round t", ylabel="pseudo-regret",
       title=f"{game.name}: T={res.horizon}, {res.seeds} seeds")
ax.legend()
plt.show()"""),
        md("""
## Comparing the learners

* `full` and `none` have linear regret by construction: 3/5 − 3/10 and 3/5 − 0 per
  round.
* `plugin` and `explore-commit` aim at the right scheme but sit on a knife edge: the
  optimum leaves the judge exactly indifferent at posterior 1/2, so whenever the estimate
  of P(guilty) is too high their recommendation to convict is *disobeyed* (the
  obedience violations above) and the round earns nothing. On the runs where that keeps
  happening the regret grows linearly: plugin's log-log slope is about 1 and it ends
  worse than full revelation; explore-commit's spread over the seeds is as large as its
  mean (some seeds commit on the right side of the edge, others do not).
* `robust` gives up a margin that shrinks with the confidence radius, so it stays
  obedient and its regret grows sublinearly (slope well below 1), under the bound.
"""),
        code("""
robust = res.learners["robust"]
assert robust.violations == 0 and robust.final_regret_mean <= robust.bound
assert robust.final_regret_mean < res.learners["full"].final_regret_mean
assert res.learners["plugin"].violations > 0 and res.learners["explore-commit"].violations > 0
assert res.learners["plugin"].final_regret_mean > res.learners["full"].final_regret_mean"""),
    ]


NOTEBOOKS = {"prosecutor": prosecutor, "three_state": three_state,
             "receiver_types": receiver_types, "regret": regret}


def build(name):
    """The notebook ``name`` (no outputs, no execution counts)."""
    nb = new_notebook(cells=NOTEBOOKS[name]())
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name}-{i:02d}"  # stable ids: the files do not change on rewrite
    return nb


def text(name):
    """The file content of notebook ``name``."""
    return nbformat.writes(build(name)) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if a committed notebook differs")
    args = parser.parse_args(argv)
    stale = []
    for name in NOTEBOOKS:
        path = HERE / f"{name}.ipynb"
        new = text(name)
        if args.check:
            if not path.is_file() or path.read_text() != new:
                stale.append(path.name)
        else:
            path.write_text(new)
            print(f"wrote {path}")
    if stale:
        print("out of date (run python notebooks/make_notebooks.py): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
