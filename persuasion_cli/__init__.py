"""The ``persuasion`` command line: the top floor of the toolkit.

It imports the libraries (:mod:`persuasion`, :mod:`theory`, :mod:`llm_bridge`) and none of
them imports it. One module per command (see :mod:`persuasion_cli.main`); the exit codes are
defined once, in :mod:`persuasion_cli.exits`. Library functions take typed arguments; only
this package sees argparse namespaces.

Standard output carries only what a command prints on purpose (with ``--json``, exactly one
JSON object): :func:`console_main` points file descriptor 1 at standard error for the life of
the process (:func:`persuasion_cli.console.guard_stdout`), so that C libraries (HiGHS's
banner) cannot write into it. ``python -m persuasion_cli`` is the console script.
"""

from .main import build_parser, console_main, main

__all__ = ["build_parser", "console_main", "main"]
