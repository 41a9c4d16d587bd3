"""Command-line interface: ``persuasion solve``, ``regret``, ``verify``, ``demo``, and the
LLM bridge's ``bridge``, ``train`` and ``cyclealign`` (:mod:`llm_bridge.cli`).

The interface is used by scripts and by the project's own checks: keep it stable.

Exit codes: 0 success; 1 ``verify`` found a failing check; 2 invalid input or option (one
line on stderr naming the field); 3 ``--exact`` was asked for and certification failed;
4 ``--method both`` found the two methods disagreeing; 5 the problem exceeds a size limit;
6 a receiver (LLM API) failed after its retries, or its endpoint does not answer (checked
before any model is loaded); 7 the game is numerically ill-conditioned and too large for
the exact re-solve (no answer is given rather than an untrustworthy one); 70 an internal
error (a bug: one line, and the traceback with ``PERSUASION_TRACEBACK=1``); 130
interrupted.

Standard output carries only what the command prints on purpose (with ``--json``, exactly
one JSON object): :func:`console_main` points file descriptor 1 at standard error for the
life of the process, so that C libraries (HiGHS's banner) cannot write into it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys

from . import __version__
from .errors import (CertificationError, GameValidationError, IllConditionedError,
                     PersuasionError, ProblemTooLargeError, printable)

EXIT_INVALID = 2
EXIT_NOT_CERTIFIED = 3
EXIT_DISAGREE = 4
EXIT_TOO_LARGE = 5
EXIT_ILL_CONDITIONED = 7
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other invalid input
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="persuasion", description="Exact Bayesian persuasion: solve games, "
                "certify optima, plot value functions and schemes.")
    p.add_argument("--version", action="version", version=f"persuasion {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

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
                   help="parallel processes (default: one per CPU core, at most one per run)")
    r.add_argument("--plot", metavar="FILE", help="save the regret figure (png, pdf, svg)")
    r.add_argument("--out", metavar="DIR",
                   help="folder for runs.jsonl (appended as runs finish; a rerun resumes), "
                        "summary.json and regret.png")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")

    v = sub.add_parser("verify", help="run the theory checks (solver agreement, robust LP, "
                                      "regret bound, rate) and write a report")
    v.add_argument("--out", default="verify-report", help="report folder (default verify-report)")
    v.add_argument("--games", type=int, default=100, help="random games per check (default 100)")
    v.add_argument("--horizon", type=int, default=100000, help="rounds per run (default 1e5; the slope check is "
                                                       "asymptotic and needs T >= 1e4)")
    v.add_argument("--seeds", type=int, default=5, help="seeds per fixed game (default 5)")
    v.add_argument("--delta", type=float, default=0.05,
                   help="robust learner's failure probability (default 0.05)")
    v.add_argument("--seed", type=int, default=0, help="seed of the random games (default 0)")
    v.add_argument("--json", action="store_true",
                   help="print one JSON object (the checks) instead of the table")

    d = sub.add_parser("demo", help="solve the bundled teaching games and write plots and "
                                    "a summary")
    d.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    d.add_argument("--quiet", action="store_true", help="print only the summary path")
    d.add_argument("--no-llm", action="store_true",
                   help="skip the LLM-bridge part (it needs the llm extra and a few minutes)")
    from llm_bridge.cli import add_commands

    add_commands(sub)
    return p


def _solve_command(args) -> int:
    from .game import DEFAULT_TOL, load_game
    from .solve import MethodsDisagreeError, solve, solve_both

    game = load_game(args.game, tol=DEFAULT_TOL if args.tol is None else args.tol)
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
        from .plots import plot_result

        try:
            plot_result(result, args.plot)
        except GameValidationError as exc:
            raise GameValidationError("--plot", exc.problem) from None
        except (ValueError, OSError) as exc:  # from matplotlib or the file system
            raise GameValidationError("--plot", str(exc).splitlines()[0]) from None
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


def main(argv=None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command in ("bridge", "train", "cyclealign"):
        from llm_bridge.cli import run

        return run(args)
    try:
        if args.command == "solve":
            return _solve_command(args)
        if args.command == "regret":
            from .online.report import regret_command

            return regret_command(args)
        if args.command == "verify":
            from theory.verify import run_verification

            for name in ("games", "horizon", "seeds"):
                if getattr(args, name) < 1:
                    raise GameValidationError(f"--{name}", "must be a positive integer")
            if not 0 < args.delta < 1:
                raise GameValidationError("--delta", "must be in (0, 1)")
            checks = run_verification(args.out, n_games=args.games, horizon=args.horizon,
                                      seeds=args.seeds, delta=args.delta, seed=args.seed,
                                      verbose=not args.json)
            passed = all(c.passed for c in checks)
            if args.json:
                from dataclasses import asdict

                print(json.dumps({"passed": passed, "checks": [asdict(c) for c in checks],
                                  "report": str(os.path.join(args.out, "report.md"))}))
            return 0 if passed else 1
        if args.command == "demo":
            from .demo import run_demo

            path = run_demo(args.out, verbose=not args.quiet, llm=not args.no_llm)
            if args.quiet:
                print(path)
            return 0
    except ProblemTooLargeError as exc:
        _error(exc)
        return EXIT_TOO_LARGE
    except IllConditionedError as exc:
        _error(exc)
        return EXIT_ILL_CONDITIONED
    except CertificationError as exc:
        _error(f"exact certification failed: {exc}")
        return EXIT_NOT_CERTIFIED
    except PersuasionError as exc:
        _error(exc)
        return EXIT_INVALID
    parser.error(f"unknown command {args.command!r}")
    return EXIT_INVALID


def _error(message) -> None:
    print(f"persuasion: error: {printable(str(message), limit=2000)}", file=sys.stderr)


def _guard_stdout() -> None:
    """Keep standard output for what we print: file descriptor 1 is pointed at standard
    error for the rest of the process, and ``sys.stdout`` writes to a duplicate of the
    original descriptor 1. Text that cannot be encoded is escaped, never an error."""
    try:
        sys.stdout.flush()
        real = os.dup(1)
        os.dup2(2, 1)
    except (OSError, AttributeError, ValueError):  # no usable descriptors: leave as is
        return
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    sys.stdout = io.TextIOWrapper(io.FileIO(real, "w"), encoding=encoding,
                                  errors="backslashreplace", line_buffering=True)
    try:
        sys.stderr.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError):
        pass


def console_main() -> None:
    """The ``persuasion`` console script: :func:`main` with a protected standard output,
    one-line messages for interrupts and internal errors, and quiet broken pipes."""
    _guard_stdout()
    try:
        code = main()
        sys.stdout.flush()
    except KeyboardInterrupt:
        print("persuasion: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): not an error of ours
        code = 0
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line (the traceback on request)
        if os.environ.get("PERSUASION_TRACEBACK"):
            raise
        _error(f"internal error ({type(exc).__name__}: {exc}); please report it (set "
               f"PERSUASION_TRACEBACK=1 for the traceback)")
        code = EXIT_INTERNAL
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError, ValueError):
        try:  # silence the flush at exit too
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    console_main()
