"""Kamenica & Gentzkow's prosecutor: solve, certify and plot
=========================================================

A judge convicts iff P(guilty) >= 1/2; the prosecutor wants a conviction whatever the
truth. With prior P(guilty) = 3/10 the optimal investigation convicts with probability
3/5: it splits the prior into the posteriors 0 (weight 2/5, acquit) and 1/2 (weight
3/5, convict).

Run (headless is fine)::

    python examples/prosecutor.py --out examples-output
"""

import argparse
from fractions import Fraction
from pathlib import Path

from persuasion import solve, solve_both
from persuasion.games import load_builtin
from persuasion.plots import plot_result

GAME = "prosecutor"  # the bundled game, persuasion/games/prosecutor.json
EXPECTED = Fraction(3, 5)


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
    concav = solve(game, "concavification")     # two states: the concave closure itself
    for result in (post, sig, concav):
        print(result.summary(), end="\n\n")
    assert post.value_exact == sig.value_exact == concav.value_exact == EXPECTED

    path = out / "prosecutor.png"
    plot_result(post, path)
    print(f"optimal value {post.value_exact} (certified); plot written to {path}")


if __name__ == "__main__":
    main()
