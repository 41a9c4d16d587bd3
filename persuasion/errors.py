"""Exceptions raised by the toolkit.

Every error says *what* was wrong and *where* (the field of the game, the row of a
matrix, the option of a solver), so that a command-line user never sees a traceback
from deep inside a solver.
"""

from __future__ import annotations

#: Longest field name or problem text an error keeps (longer ones are cut with "...").
MAX_MESSAGE_PART = 300


def printable(text, limit: int = MAX_MESSAGE_PART) -> str:
    """``text`` safe to echo on a terminal: every character that is not printable
    (control characters such as NUL, newline or ESC, lone surrogates, format
    characters) is written as its escape (``\\x1b``, ``\\n``, ``\\ud800``), and text
    longer than ``limit`` characters is cut.

    >>> printable("a\\x1b[31mb\\nc")
    'a\\\\x1b[31mb\\\\nc'
    """
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text)} characters)"
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape",
                                                         "backslashreplace").decode("ascii")
                   for ch in text)


class PersuasionError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class GameValidationError(PersuasionError, ValueError):
    """A game (from Python or from a JSON file) is malformed.

    Attributes
    ----------
    field : str
        The field of the game that is wrong, e.g. ``"prior"`` or
        ``"receiver_utility[2][1]"``.
    problem : str
        What is wrong with it.
    """

    def __init__(self, field: str, problem: str):
        self.field = printable(field)
        self.problem = printable(problem)
        super().__init__(f"{self.field}: {self.problem}")


class ProblemTooLargeError(PersuasionError):
    """A formulation would be too large to build or enumerate within the stated limit."""


class SolverError(PersuasionError):
    """The LP solver did not return an optimal solution (this should not happen for a
    valid game: every persuasion LP is feasible and bounded)."""


class CertificationError(PersuasionError):
    """Exact certification could not be completed."""


class IllConditionedError(PersuasionError):
    """The float solution of a valid game could not be verified, and the game is too large
    for the exact re-solve: the answer would not be trustworthy, so none is given."""
