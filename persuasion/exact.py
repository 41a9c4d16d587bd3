"""Exact rational numbers: parsing, conversion and formatting.

Games keep an exact copy of their data. Numbers written as strings (``"3/10"``,
``"0.3"``, ``"1e-2"``) or as integers are read exactly. Python floats are read through
their shortest decimal representation (``0.3`` becomes ``3/10``, not the binary
fraction nearest to it), which is the number a user typed.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

__all__ = ["to_fraction", "format_fraction", "fraction_array", "lcm_scale_to_int"]


def to_fraction(value, field: str = "value") -> Fraction:
    """Convert one number to an exact :class:`~fractions.Fraction`.

    Parameters
    ----------
    value : int, float, str, Fraction, numpy scalar
        ``"3/10"``, ``"0.3"``, ``3``, ``0.3`` and ``Fraction(3, 10)`` all give 3/10.
    field : str
        Name used in the error message.

    Raises
    ------
    GameValidationError
        For booleans, non-numeric strings, NaN and infinities.
    """
    from .errors import GameValidationError

    if isinstance(value, (bool, np.bool_)):
        raise GameValidationError(field, f"expected a number, got the boolean {value!r}")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (numbers.Integral, np.integer)):
        return Fraction(int(value))
    if isinstance(value, (numbers.Real, np.floating)):
        x = float(value)
        if not math.isfinite(x):
            raise GameValidationError(field, f"expected a finite number, got {x!r}")
        return Fraction(repr(x))
    if isinstance(value, str):
        text = value.strip()
        try:
            frac = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise GameValidationError(
                field, f"expected a number such as 0.3 or \"3/10\", got {value!r}"
            ) from None
        return frac
    if hasattr(value, "p") and hasattr(value, "q"):  # python-flint fmpq
        return Fraction(int(value.p), int(value.q))
    raise GameValidationError(
        field, f"expected a number, got {type(value).__name__} {value!r}"
    )


def fraction_array(values, field: str) -> np.ndarray:
    """Object array of Fractions with the same shape as a nested list/array of numbers."""
    arr = np.asarray(values, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    for idx in np.ndindex(arr.shape):
        index_text = "".join(f"[{i}]" for i in idx)
        out[idx] = to_fraction(arr[idx], f"{field}{index_text}")
    return out


def format_fraction(value) -> str:
    """``Fraction(3, 5)`` -> ``"3/5"``; integers without a denominator (``"1"``)."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def lcm_scale_to_int(row) -> list[int]:
    """Scale a vector of Fractions by the positive LCM of its denominators.

    The result is a list of Python integers with the same sign pattern and the same
    direction, so ``row @ mu >= 0`` holds iff ``scaled @ mu >= 0``.
    """
    den = 1
    for v in row:
        den = math.lcm(den, Fraction(v).denominator)
    ints = [int(Fraction(v) * den) for v in row]
    g = 0
    for v in ints:
        g = math.gcd(g, v)
    if g > 1:
        ints = [v // g for v in ints]
    return ints
