"""Exceptions raised by the toolkit.

Every error says *what* was wrong and *where* (the field of the game, the row of a
matrix, the option of a solver), so that a command-line user never sees a traceback
from deep inside a solver.
"""

from __future__ import annotations


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
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class ProblemTooLargeError(PersuasionError):
    """A formulation would be too large to build or enumerate within the stated limit."""


class SolverError(PersuasionError):
    """The LP solver did not return an optimal solution (this should not happen for a
    valid game: every persuasion LP is feasible and bounded)."""


class CertificationError(PersuasionError):
    """Exact certification could not be completed."""
