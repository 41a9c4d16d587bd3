"""persuasion: exact solvers, learners and LLM bridges for Bayesian persuasion.

>>> from persuasion import Game, solve
>>> g = Game(["7/10", "3/10"], [[0, 1], [0, 1]], [[1, 0], [0, 1]],
...          states=["innocent", "guilty"], actions=["acquit", "convict"])
>>> r = solve(g, "posterior", certify=True)
>>> str(r.value_exact)
'3/5'
"""

from .errors import (CertificationError, GameValidationError, PersuasionError,
                     ProblemTooLargeError, SolverError)
from .game import DEFAULT_TOL, Game, ReceiverTypesGame, game_from_dict, load_game
from .result import PersuasionResult, Signal
from .scheme import evaluate_scheme
from .solve import METHODS, MethodsDisagreeError, solve, solve_both

__version__ = "0.1.0"

__all__ = [
    "Game", "ReceiverTypesGame", "load_game", "game_from_dict", "solve", "solve_both",
    "evaluate_scheme", "PersuasionResult", "Signal", "METHODS", "DEFAULT_TOL",
    "PersuasionError", "GameValidationError", "ProblemTooLargeError", "SolverError",
    "CertificationError", "MethodsDisagreeError", "__version__",
]
