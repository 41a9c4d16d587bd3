"""``python -m persuasion_cli ...``: the ``persuasion`` console script."""

from .main import console_main

console_main()
