"""``persuasion solve GAME``: solve one game file by a chosen method, optionally certify,
plot, and print a summary or one JSON object (:meth:`persuasion.PersuasionResult.to_dict`,
plus ``agreement`` for ``--method both``)."""

from __future__ import annotations

import json
import sys

from persuasion.errors import GameValidationError
from persuasion.game import DEFAULT_TOL, load_game
from persuasion.plots import plot_result
from persuasion.solve import MethodsDisagreeError, solve, solve_both

from .exits import EXIT_DISAGREE, EXIT_NOT_CERTIFIED

__all__ = ["add_solve_command", "solve_command"]


def add_solve_command(sub) -> None:
    """Add ``solve`` to ``persuasion``'s subparsers."""
    s = sub.add_parser("solve", help="solve a game given as a JSON file")
    s.add_argument("game", help="path to the game's JSON file (- for standard input)")
    s.add_argument("--method", default="signaling",
                   choices=["signaling", "posterior", "concavification", "both"],
                   help="signaling LP (default; scales), LP over posteriors (exact cell "
                        "vertices), concavification (two states), or both LPs checked "
                        "against each other")
    s.add_argument("--exact", action="store_true",
                   help="certify the optimum in exact rational arithmetic")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--plot", metavar="FILE", help="save a plot (png, pdf or svg)")
    s.add_argument("--tol", type=float, default=None,
                   help="numerical tolerance of the game (default 1e-9)")
    s.add_argument("--max-vertices", type=int, default=None,
                   help="limit of the posterior LP's vertex enumeration (default 5000)")
    s.add_argument("--max-memory", type=float, default=None, metavar="GIB",
                   help="refuse (exit 5) a signaling LP (signaling or both) whose estimated peak memory is above "
                        "GIB gibibytes (default $PERSUASION_MAX_MEMORY, else 80%% of this "
                        "machine's memory)")
    s.set_defaults(func=solve_command)


def _solver_options(args) -> dict:
    opts = {}
    if args.max_vertices is not None:
        if args.max_vertices <= 0:
            raise GameValidationError("--max-vertices", "must be a positive integer")
        if args.method not in ("posterior", "both"):
            raise GameValidationError("--max-vertices", "applies only to --method posterior or both")
        opts["max_vertices"] = args.max_vertices
    if args.max_memory is not None:
        if not 0 < args.max_memory < float("inf"):
            raise GameValidationError("--max-memory", "must be a positive number of GiB")
        if args.method not in ("signaling", "both"):
            raise GameValidationError("--max-memory", "applies only to --method signaling or both")
        opts["max_memory"] = args.max_memory * 2**30
    return opts


def _plot(result, path) -> None:
    try:
        plot_result(result, path)
    except GameValidationError as exc:
        raise GameValidationError("--plot", exc.problem) from None
    except (ValueError, OSError) as exc:  # from matplotlib or the file system
        raise GameValidationError("--plot", str(exc).splitlines()[0]) from None


def solve_command(args) -> int:
    """Run ``persuasion solve``; returns the exit code."""
    game = load_game(args.game, tol=DEFAULT_TOL if args.tol is None else args.tol)
    opts = _solver_options(args)
    extra = {}
    if args.method == "both":
        try:
            result, other = solve_both(game, certify=args.exact, **opts)
        except MethodsDisagreeError as exc:
            print(f"persuasion: error: methods disagree: {exc}", file=sys.stderr)
            return EXIT_DISAGREE
        extra["agreement"] = {
            "posterior": result.value, "signaling": other.value,
            "difference": abs(result.value - other.value),
        }
        if args.exact:
            extra["agreement"]["exact_equal"] = bool(
                result.certified and other.certified and result.value_exact == other.value_exact)
    else:
        result = solve(game, args.method, certify=args.exact, **opts)
    if args.plot:
        _plot(result, args.plot)
    if args.json:
        out = result.to_dict()
        out.update(extra)
        if args.method == "both":
            out["method"] = "both"
        print(json.dumps(out))
    else:
        print(f"game: {game.name}  ({game.n_states} states, {game.n_actions} actions"
              + (f", {game.n_types} receiver types" if game.n_types > 1 else "") + ")")
        print(result.summary())
        if "agreement" in extra:
            a = extra["agreement"]
            print(f"both methods agree: posterior {a['posterior']:.12g}, signaling "
                  f"{a['signaling']:.12g} (difference {a['difference']:.2g})")
        if args.plot:
            print(f"plot written to {args.plot}")
    if args.exact and not result.certified:
        print(f"persuasion: error: exact certification failed: {result.message}", file=sys.stderr)
        return EXIT_NOT_CERTIFIED
    return 0
