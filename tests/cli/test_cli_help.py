"""Help lines of every ``persuasion`` subcommand: each option has one, and states its default once.

The argparse tree is built by ``persuasion_cli.build_parser()`` (the bridge's and the training
commands are mounted on it) and walked; what a parser's formatter appends to a help line is
asked of that formatter, so ``ArgumentDefaultsHelpFormatter`` and the bridge's
:class:`persuasion_cli.argtypes.DefaultsHelpFormatter` are both covered.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

from persuasion_cli import build_parser as _build_parser


def _walk(parser, path):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, [*path, name])
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield " ".join(path), parser, action


def _options():
    return list(_walk(_build_parser(), ["persuasion"]))


def _name(action):
    return "/".join(action.option_strings) or action.dest


def test_the_walk_reaches_every_subcommand():
    commands = {path for path, _, _ in _options()}
    assert {"persuasion solve", "persuasion regret", "persuasion verify", "persuasion demo",
            "persuasion bridge evaluate", "persuasion bridge serve", "persuasion train advisor",
            "persuasion cyclealign"} <= commands


def test_every_option_has_a_help_line():
    missing = [f"{path} {_name(a)}" for path, _, a in _options() if not (a.help or "").strip()]
    assert missing == []


def test_no_default_is_stated_twice():
    doubled = []
    for path, parser, action in _options():
        own = action.help or ""
        shown = parser._get_formatter()._expand_help(action) if action.help else ""  # as printed
        appended = shown[len(own):] if shown.startswith(own) else shown
        if "(default:" in appended and re.search(r"default", own, re.IGNORECASE):
            doubled.append(f"{path} {_name(action)}: {shown!r}")
        elif len(re.findall(r"\bdefault\b", shown, re.IGNORECASE)) > 1:
            doubled.append(f"{path} {_name(action)}: {shown!r}")
    assert doubled == []


def test_bridge_help_shows_real_defaults_and_no_none():
    """As printed: informative defaults are appended by the formatter, ``None`` is not."""
    proc = subprocess.run([sys.executable, "-m", "persuasion_cli", "bridge", "evaluate", "--help"],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, COLUMNS="200"))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert re.search(r"--n N\s+test problems \(default: 60\)", text)
    assert re.search(r"--threads THREADS\s+CPU threads of torch and ct2 \(default: their choice;", text)
    assert re.search(r"--engine \{auto,ct2,torch\}\s+decoding engine .*; auto is ct2 where "
                     r"CTranslate2 is installed, else torch \(default: auto\)", text)
    assert "(default: None)" not in text and "(default: False)" not in text
