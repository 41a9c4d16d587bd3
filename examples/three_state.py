"""A stock analyst's ratings (three states): solve, certify and plot
=================================================================

The broker earns 0, 1 or 2 when the investor sells, holds or buys; the investor wants
to sell if the stock falls, hold if it stays flat and buy if it rises. Telling nothing
makes him sell (value 0); telling the truth earns 7/10; the optimal rating scheme earns
7/5 with three ratings: "sell" only when the stock surely falls, "hold" for a mix of
flat and falls, and "buy" as often as the investor still (just) prefers buying.

Run (headless is fine)::

    python examples/three_state.py --out examples-output
"""

import argparse
from fractions import Fraction
from pathlib import Path

from persuasion import solve_both
from persuasion.games import load_builtin
from persuasion.plots import plot_result

GAME = "three_state"  # the bundled game, persuasion/games/three_state.json
EXPECTED = Fraction(7, 5)


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
    for result in (post, sig):
        print(result.summary(), end="\n\n")
    assert post.value_exact == sig.value_exact == EXPECTED

    path = out / "three_state.png"
    plot_result(post, path)
    print(f"optimal value {post.value_exact} (certified); plot written to {path}")


if __name__ == "__main__":
    main()
