"""The prosecutor facing an unknown judge (receiver types): solve, certify and plot
================================================================================

The judge is lenient (convicts iff P(guilty) >= 1/5) or strict (iff P(guilty) >= 1/2),
with probability 1/2 each, and the prosecutor commits to one investigation before
knowing which. Alone, the lenient judge convicts without information (value 1) and the
strict one needs the textbook split (value 3/5); against the mixture, revealing nothing
earns 1/2 and the textbook split 3/5, while the optimum, posteriors 1/5 (weight 2/3) and
1/2 (weight 1/3), earns 2/3.

Run (headless is fine)::

    python examples/receiver_types.py --out examples-output
"""

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np

from persuasion import evaluate_scheme, solve, solve_both
from persuasion.games import load_builtin
from persuasion.plots import plot_result

GAME = "receiver_types"  # the bundled game, persuasion/games/receiver_types.json
EXPECTED = Fraction(2, 3)


def main(argv=None):
    # the gallery (sphinx-gallery) runs this file with __doc__ = ""
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", default="examples-output", help="output folder "
                        "(default: ./examples-output)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    game = load_builtin(GAME)
    post, sig = solve_both(game, certify=True)  # the two exact LPs, checked to agree
    concav = solve(game, "concavification")
    for result in (post, sig, concav):
        print(result.summary(), end="\n\n")
    assert post.value_exact == sig.value_exact == concav.value_exact == EXPECTED

    # each type alone, and what some schemes earn against the mixture of types
    alone = {name: solve(game_for_type(game, t), "signaling", certify=True)
             for t, name in enumerate(game.type_names)}
    for name, r in alone.items():
        print(f"{name} judge alone: optimal value {r.value_exact}")
    schemes = {"revealing nothing": np.ones((game.n_states, 1)),
               "the strict judge's optimum": alone["strict"].scheme,
               "the optimum against the mixture": post.scheme}
    for label, scheme in schemes.items():
        earned = evaluate_scheme(game, scheme).sender_value
        print(f"against the mixture, {label} earns {earned:.4g}")

    path = out / "receiver_types.png"
    plot_result(post, path)
    print(f"optimal value {post.value_exact} (certified); plot written to {path}")


def game_for_type(game, t):
    """The one-receiver game against type ``t`` alone."""
    from persuasion import Game

    return Game(list(game.prior_exact), game.sender_utility_exact,
                np.asarray(game.receiver_utilities_exact[t]), states=game.states,
                actions=game.actions, name=f"{game.name}: {game.type_names[t]} only")


if __name__ == "__main__":
    main()
