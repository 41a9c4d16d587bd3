"""The one checker of integer and positive-number settings, for every layer of the toolkit.

Library functions (horizons, grid sizes, confidence radii), the bridge's settings objects,
the server's request fields and the command line's option types all check their counts
here, so every such error reads the same: ``"horizon: expected a positive integer, got 0"``.
The error class is the caller's: :class:`~persuasion.errors.GameValidationError` by default,
any ``error(field, problem)`` callable otherwise (the bridge passes one that builds its
``ConfigError``).
"""

from __future__ import annotations

import math
import numbers
import operator

from .errors import GameValidationError

__all__ = ["integer_problem", "check_int", "positive_number_problem", "check_positive"]


def _wanted(minimum: int | None) -> str:
    if minimum is None:
        return "an integer"
    if minimum == 1:
        return "a positive integer"
    if minimum == 0:
        return "a non-negative integer"
    return f"an integer >= {minimum}"


def integer_problem(value, minimum: int | None = 1, maximum: int | None = None) -> str | None:
    """``None`` when ``value`` is an integer (Python or numpy, never a bool) in
    ``[minimum, maximum]`` (either end may be None); otherwise what is wrong with it.

    >>> integer_problem(3) is None
    True
    >>> integer_problem(0)
    'expected a positive integer, got 0'
    >>> integer_problem(2.0, 0)
    'expected a non-negative integer, got 2.0'
    >>> integer_problem(9, 2, 8)
    'expected an integer in [2, 8], got 9'
    """
    wanted = _wanted(minimum) if maximum is None else f"an integer in [{minimum}, {maximum}]"
    if isinstance(value, bool):
        return f"expected {wanted}, got {value!r}"
    try:
        v = operator.index(value)
    except TypeError:
        return f"expected {wanted}, got {value!r}"
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        return f"expected {wanted}, got {v}"
    return None


def _raise(error, field: str, problem: str):
    raise (error or GameValidationError)(field, problem)


def check_int(value, field: str, minimum: int | None = 1, *, maximum: int | None = None,
              allow_none: bool = False, error=None) -> int | None:
    """``value`` as a Python int if :func:`integer_problem` finds nothing wrong with it
    (``None`` passes when ``allow_none``); else ``error(field, problem)`` is raised
    (default :class:`GameValidationError`).

    >>> check_int(5, "horizon")
    5
    >>> check_int(0, "horizon")
    Traceback (most recent call last):
    ...
    persuasion.errors.GameValidationError: horizon: expected a positive integer, got 0
    """
    if allow_none and value is None:
        return None
    problem = integer_problem(value, minimum, maximum)
    if problem is not None:
        _raise(error, field, problem)
    return int(value)


def positive_number_problem(value) -> str | None:
    """``None`` when ``value`` is a finite real number ``> 0`` (never a bool); else the problem.

    >>> positive_number_problem(0.5) is None
    True
    >>> positive_number_problem(float("inf"))
    'expected a positive finite number, got inf'
    """
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or not value > 0):
        return f"expected a positive finite number, got {value!r}"
    return None


def check_positive(value, field: str, *, error=None) -> float:
    """``value`` as a float if it is a positive finite number; else ``error(field, problem)``."""
    problem = positive_number_problem(value)
    if problem is not None:
        _raise(error, field, problem)
    return float(value)
