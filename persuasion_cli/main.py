"""The ``persuasion`` parser, the dispatch of every command, and the console script.

Each command lives in a module of its own that adds its parser (``add_*_command``) and
handles it (``*_command(args) -> exit code``): :mod:`.solve`, :mod:`.regret`, :mod:`.verify`,
:mod:`.demo`, :mod:`.bridge` (``bridge evaluate``, ``bridge serve``), :mod:`.train_advisor`,
:mod:`.cyclealign` and :mod:`.models` (``models list``, ``models install``). Errors the
toolkit raises on purpose become one line on stderr and an exit code of :mod:`.exits`;
anything else is a bug, reported in one line with exit 70 (the traceback with
``PERSUASION_TRACEBACK=1``).
"""

from __future__ import annotations

import argparse
import os
import sys

from persuasion import __version__
from persuasion.errors import printable

from .argtypes import apply_sandbox_option
from .bridge import add_bridge_commands
from .console import guard_stdout
from .cyclealign import add_cyclealign_command
from .demo import add_demo_command
from .exits import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_INVALID, exit_for
from .explore import add_explore_command
from .models import add_models_command
from .regret import add_regret_command
from .solve import add_solve_command
from .train_advisor import add_advisor_command
from .verify import add_verify_command

__all__ = ["build_parser", "main", "console_main"]

#: Commands whose libraries report bad input (a model folder, a file) as a plain ValueError.
_LLM_COMMANDS = ("bridge", "train", "cyclealign", "models")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other invalid input
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole ``persuasion`` argparse tree; every leaf sets ``func``, its handler."""
    p = _Parser(prog="persuasion", description="Exact Bayesian persuasion: solve games, "
                "certify optima, plot value functions and schemes.")
    p.add_argument("--version", action="version", version=f"persuasion {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_solve_command(sub)
    add_regret_command(sub)
    add_verify_command(sub)
    add_demo_command(sub)
    add_bridge_commands(sub)
    t = sub.add_parser("train", help="train the small white-box model (the Advisor)")
    add_advisor_command(t.add_subparsers(dest="train_command", required=True, parser_class=_Parser))
    add_cyclealign_command(sub)
    add_models_command(sub)
    add_explore_command(sub)
    return p


def main(argv=None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit code."""
    args = build_parser().parse_args(argv)
    apply_sandbox_option(args)
    try:
        return args.func(args)
    except Exception as exc:
        mapped = exit_for(exc, value_errors=args.command in _LLM_COMMANDS)
        if mapped is None:
            raise
        code, message = mapped
        _error(message)
        return code


def _error(message) -> None:
    print(f"persuasion: error: {printable(str(message), limit=2000)}", file=sys.stderr)


def console_main() -> None:
    """The ``persuasion`` console script: :func:`main` with a protected standard output,
    one-line messages for interrupts and internal errors, and quiet broken pipes."""
    guard_stdout()
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
