"""Mounts the training commands on ``persuasion``: ``train advisor`` and ``cyclealign``.

Only argparse-level code is imported when the parser is built.
"""

from __future__ import annotations


def add_training_commands(sub) -> None:
    """Add ``train`` (with ``advisor``) and ``cyclealign`` to ``persuasion``'s subparsers."""
    t = sub.add_parser("train", help="train the small white-box model (the Advisor)")
    tsub = t.add_subparsers(dest="train_command", required=True, parser_class=type(t))
    try:
        from .cli_advisor import add_advisor_command
    except ImportError:  # pragma: no cover
        add_advisor_command = None
    if add_advisor_command is not None:
        add_advisor_command(tsub)
    try:
        from .cli_cyclealign import add_cyclealign_command
    except ImportError:  # pragma: no cover
        return
    add_cyclealign_command(sub)
