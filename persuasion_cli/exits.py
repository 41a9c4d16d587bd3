"""The exit codes of the ``persuasion`` command, defined once, and the one mapping from the
toolkit's exceptions to them.

====  ==================================================================================
code  meaning
====  ==================================================================================
0     success
1     ``verify`` found a failing check
2     invalid input or option (one line on stderr naming the field)
3     ``--exact`` was asked for and certification failed
4     ``--method both`` found the two methods disagreeing
5     the problem exceeds a size limit (the line gives the estimate and the limit)
6     a receiver (LLM API) failed after its retries, or its endpoint does not answer
      (checked before any model is loaded; the line names the option and the URL)
7     the game is numerically ill-conditioned and too large for the exact re-solve (no
      answer is given rather than an untrustworthy one)
70    an internal error (a bug: one line, and the traceback with ``PERSUASION_TRACEBACK=1``)
130   interrupted
====  ==================================================================================
"""

from __future__ import annotations

from llm_bridge.errors import BridgeError, ReceiverError
from persuasion.errors import (CertificationError, IllConditionedError, PersuasionError,
                               ProblemTooLargeError)

__all__ = ["EXIT_OK", "EXIT_CHECK_FAILED", "EXIT_INVALID", "EXIT_NOT_CERTIFIED", "EXIT_DISAGREE",
           "EXIT_TOO_LARGE", "EXIT_RECEIVER", "EXIT_ILL_CONDITIONED", "EXIT_INTERNAL",
           "EXIT_INTERRUPTED", "EXIT_CODES", "exit_for"]

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_INVALID = 2
EXIT_NOT_CERTIFIED = 3
EXIT_DISAGREE = 4
EXIT_TOO_LARGE = 5
EXIT_RECEIVER = 6
EXIT_ILL_CONDITIONED = 7
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

#: Every exit code the command can return (the README's table lists exactly these).
EXIT_CODES = frozenset({EXIT_OK, EXIT_CHECK_FAILED, EXIT_INVALID, EXIT_NOT_CERTIFIED,
                        EXIT_DISAGREE, EXIT_TOO_LARGE, EXIT_RECEIVER, EXIT_ILL_CONDITIONED,
                        EXIT_INTERNAL, EXIT_INTERRUPTED})


def exit_for(exc: BaseException, *, value_errors: bool = False) -> tuple[int, str] | None:
    """``(exit code, one-line message)`` for an exception the toolkit raises on purpose, or
    ``None`` for anything else (a bug: the caller reports it as an internal error).

    ``value_errors``: a plain ``ValueError`` counts as invalid input too (the LLM commands,
    whose libraries report a bad model folder or file that way).
    """
    if isinstance(exc, ProblemTooLargeError):
        return EXIT_TOO_LARGE, str(exc)
    if isinstance(exc, IllConditionedError):
        return EXIT_ILL_CONDITIONED, str(exc)
    if isinstance(exc, CertificationError):
        return EXIT_NOT_CERTIFIED, f"exact certification failed: {exc}"
    if isinstance(exc, ReceiverError):
        return EXIT_RECEIVER, str(exc)
    if isinstance(exc, (PersuasionError, BridgeError)):
        return EXIT_INVALID, str(exc)
    if value_errors and isinstance(exc, ValueError):
        return EXIT_INVALID, str(exc)
    return None
