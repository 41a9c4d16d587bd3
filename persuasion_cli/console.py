"""Where the commands write: the result on stdout, everything else on stderr.

Every command's ``--json`` must print exactly one JSON object on stdout, so that
``json.loads(stdout)`` works. Two guards keep it so:

* :func:`guard_stdout` (the console script calls it first) points file descriptor 1 at
  stderr for the life of the process, so that C libraries (HiGHS's banner) cannot write into
  it, and gives ``sys.stdout`` a duplicate of the original descriptor 1;
* :func:`prints_to_stderr` sends every Python-level write to ``sys.stdout`` made while a
  command works (a library's ``print``, e.g. peft's parameter counts) to stderr as well;
  the command prints its result after the block, on the stdout it had before. Progress bars
  (tqdm) and Python warnings already go to stderr.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

__all__ = ["prints_to_stderr", "guard_stdout", "set_torch_threads"]


def guard_stdout() -> None:
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


def set_torch_threads(threads: int | None) -> None:
    """``torch.set_num_threads(threads)`` when a number is given (``--threads``); torch is
    imported here, when an LLM command runs, never when the parser is built."""
    if threads:
        import torch  # heavy optional dependency: only for the LLM commands that need it

        torch.set_num_threads(threads)
