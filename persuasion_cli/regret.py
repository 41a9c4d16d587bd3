"""``persuasion regret GAME``: online learners with an unknown prior, their regret against the
exact optimum over seeds, the robust learner's bound, a figure (:mod:`theory.regret`)."""

from __future__ import annotations

import json
import sys

from persuasion.errors import GameValidationError
from persuasion.game import load_game
from persuasion.online.executors import check_workers, parse_executor
from theory.regret import RegretAnalysis, regret_analysis

from .console import prints_to_stderr

__all__ = ["add_regret_command", "regret_command", "check_executor_options"]

#: The library's argument names -> the options that set them.
_OPTION_OF = {"learners": "--learner", "executor": "--executor", "workers": "--workers"}


def add_regret_command(sub) -> None:
    """Add ``regret`` to ``persuasion``'s subparsers."""
    r = sub.add_parser("regret", help="simulate online learners with an unknown prior and "
                                      "measure their regret against the exact optimum")
    r.add_argument("game", help="path to the game's JSON file (its prior is the true one)")
    r.add_argument("--learner", default="robust",
                   help="robust, plugin, explore-commit, full or none; several separated by "
                        "commas (default robust)")
    r.add_argument("--horizon", type=int, default=10000, help="rounds T (default 10000)")
    r.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    r.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    r.add_argument("--delta", type=float, default=0.05,
                   help="robust learner's failure probability (default 0.05)")
    r.add_argument("--growth", type=float, default=2.0,
                   help="epoch growth factor of the re-solve schedule (default 2)")
    r.add_argument("--workers", type=int, default=None,
                   help="parallel processes of the local, dask:local and ray:local executors "
                        "(default: one per CPU core, at most one per run; refused with a running "
                        "cluster, dask:tcp://HOST:PORT or ray:ADDRESS, whose size is its own)")
    r.add_argument("--executor", metavar="SPEC", default="local",
                   help="where the runs execute: local (processes here), dask:local (a Dask "
                        "cluster on this machine), dask:tcp://HOST:PORT (a running Dask "
                        "scheduler), ray:local or ray:ADDRESS; dask and ray are optional "
                        "extras, and every executor gives the same numbers (default local)")
    r.add_argument("--plot", metavar="FILE", help="save the regret figure (png, pdf, svg)")
    r.add_argument("--out", metavar="DIR",
                   help="folder for runs.jsonl (appended as runs finish; a rerun resumes), "
                        "summary.json and regret.png")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=regret_command)


def _check_options(args) -> None:
    for name in ("horizon", "seeds"):
        if getattr(args, name) < 1:
            raise GameValidationError(f"--{name}", "must be a positive integer")
    if not 0 < args.delta < 1:
        raise GameValidationError("--delta", "must be in (0, 1)")
    if args.growth <= 1:
        raise GameValidationError("--growth", "must be > 1")
    check_executor_options(args)


def check_executor_options(args) -> None:
    """``--workers`` and ``--executor`` of ``regret`` and ``verify``, before any run starts:
    one error naming the option (a bad count, a bad spec or a missing extra, a count for a
    running cluster)."""
    if args.workers is not None and args.workers < 1:
        raise GameValidationError("--workers", "must be a positive integer")
    try:
        spec = parse_executor(args.executor)
    except GameValidationError as exc:
        raise GameValidationError("--executor", exc.problem) from None
    try:
        check_workers(spec, args.workers)
    except GameValidationError as exc:
        raise GameValidationError("--workers", exc.problem) from None


def _print_table(summary: RegretAnalysis, args) -> None:
    print(f"game {summary.game}: OPT = {summary.optimal_value:.10g}, T = {args.horizon}, "
          f"{args.seeds} seeds")
    if summary.bound is not None:
        print(f"robust learner's regret bound at T (prob >= {1 - args.delta:g}): {summary.bound:.6g}")
    print(f"{'learner':<16}{'pseudo-regret':>16}{'± sd':>12}{'realised':>14}{'violations':>12}"
          f"{'slope':>8}{'LPs':>6}")
    for name, s in summary.learners.items():
        slope = f"{s.slope:.3f}" if s.slope is not None else "-"
        print(f"{name:<16}{s.final_regret_mean:>16.6g}{s.final_regret_std:>12.4g}"
              f"{s.final_realised_mean:>14.6g}{s.violations:>12d}{slope:>8}"
              f"{s.n_solves_mean:>6.0f}")
    if summary.plot is not None:
        print(f"plot written to {summary.plot}", file=sys.stderr)


def regret_command(args) -> int:
    """Run ``persuasion regret``; returns the exit code (0)."""
    game = load_game(args.game)
    learners = [x.strip() for x in args.learner.split(",") if x.strip()]
    _check_options(args)
    seeds = list(range(args.seed, args.seed + args.seeds))
    try:
        with prints_to_stderr():  # stdout holds the result only
            summary = regret_analysis(game, learners, horizon=args.horizon, seeds=seeds,
                                      out_dir=args.out, delta=args.delta, growth=args.growth,
                                      workers=args.workers, executor=args.executor,
                                      progress=not args.no_progress and not args.json,
                                      plot_path=args.plot)
    except GameValidationError as exc:  # the library names its argument, the user the option
        if exc.field in _OPTION_OF:
            raise GameValidationError(_OPTION_OF[exc.field], exc.problem) from None
        raise
    if args.json:
        print(json.dumps(summary.to_dict()))
    else:
        _print_table(summary, args)
    return 0
