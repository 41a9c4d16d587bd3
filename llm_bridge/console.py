"""Where the bridge's commands write: the result on stdout, everything else on stderr.

``persuasion bridge evaluate --json`` (and ``train advisor``, ``cyclealign``) must print exactly
one JSON object on stdout, so that ``json.loads(stdout)`` works. Progress bars (tqdm) and
Python warnings already go to stderr; :func:`prints_to_stderr` sends every other Python-level
write to ``sys.stdout`` made while a command works (a library's ``print``, e.g. peft's
parameter counts) to stderr as well. The command prints its result after the block, on the
stdout it had before.

Output that C libraries write straight to file descriptor 1 (HiGHS's banner) is not seen by
Python; ``persuasion.cli.main`` points descriptor 1 at stderr for that.
"""

from __future__ import annotations

import contextlib
import sys

__all__ = ["prints_to_stderr"]


@contextlib.contextmanager
def prints_to_stderr():
    """Within the block, ``sys.stdout`` is ``sys.stderr``; yields the stdout of before.

    Examples
    --------
    >>> import io
    >>> from contextlib import redirect_stderr
    >>> err = io.StringIO()
    >>> with redirect_stderr(err):
    ...     with prints_to_stderr() as out:
    ...         print("progress")
    ...     print("result", file=out)
    result
    >>> err.getvalue()
    'progress\\n'
    """
    before = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        yield before
