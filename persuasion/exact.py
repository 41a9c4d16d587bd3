"""Exact rational numbers: parsing, conversion and formatting.

Games keep an exact copy of their data. Numbers written as strings (``"3/10"``,
``"0.3"``, ``"1e-2"``) or as integers are read exactly. Python floats are read through
their shortest decimal representation (``0.3`` becomes ``3/10``, not the binary
fraction nearest to it), which is the number a user typed.

Limits (checked on the text, before any conversion, so that a hostile literal such as
``1e99999999`` is refused at once instead of building a number with 10^8 digits):

* at most :data:`MAX_DIGITS` digits in a literal's mantissa, numerator or denominator;
* a decimal exponent of at most :data:`MAX_EXPONENT` in absolute value;
* a magnitude of at most :data:`MAX_MAGNITUDE` (the largest double, about 1.8e308):
  results are reported as doubles. Tiny magnitudes (``"1e-400"``) are fine: they are
  kept exactly, and the solvers rescale utilities exactly before any float is formed.
"""

from __future__ import annotations

import math
import numbers
import re
import sys
from fractions import Fraction

import numpy as np

from .errors import GameValidationError

__all__ = ["to_fraction", "format_fraction", "fraction_array", "lcm_scale_to_int",
           "parse_number_text", "BadNumber", "MAX_DIGITS", "MAX_EXPONENT", "MAX_MAGNITUDE"]

#: Most digits a number's mantissa, numerator or denominator may have.
MAX_DIGITS = 1000
#: Largest absolute decimal exponent of a literal (``1e-1000`` is accepted).
MAX_EXPONENT = 1000
#: Largest magnitude of a number (the largest double).
MAX_MAGNITUDE = Fraction(sys.float_info.max)

_DECIMAL = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")
_RATIO = re.compile(r"([+-]?)(\d+)\s*/\s*([+-]?)(\d+)")


class BadNumber:
    """A number literal refused while parsing JSON, kept until its field is known.

    The JSON reader cannot tell which field a literal belongs to; it stores this marker
    and the validation of that field raises the error with the field's name.
    """

    __slots__ = ("text", "problem")

    def __init__(self, text: str, problem: str):
        self.text = text
        self.problem = problem

    def __repr__(self) -> str:
        return _short(self.text)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def parse_number_text(text: str) -> Fraction | BadNumber:
    """Parse a decimal (``"-1.5e-3"``) or ratio (``"3/10"``) literal exactly, within limits.

    Returns the :class:`~fractions.Fraction`, or a :class:`BadNumber` that says what is
    wrong (not a number, too many digits, exponent or magnitude too large, zero
    denominator). Never takes more than linear time in the length of ``text``.

    Examples
    --------
    >>> parse_number_text("3/10"), parse_number_text("1e-400") == Fraction(1, 10**400)
    (Fraction(3, 10), True)
    >>> parse_number_text("1e99999999").problem
    'has exponent 99999999, beyond the limit of ±1000'
    """
    t = text.strip()
    m = _DECIMAL.fullmatch(t)
    if m is None:
        return _parse_ratio(text, t)
    if not (m.group(2) or m.group(3)):
        return BadNumber(text, 'is not a number: expected one such as 0.3, 1e-6 or "3/10"')
    sign, whole, frac, exp = m.groups()
    frac = frac or ""
    digits = (whole + frac).lstrip("0")
    if len(digits) > MAX_DIGITS:
        return BadNumber(text, f"has more than {MAX_DIGITS} digits")
    e = 0
    if exp is not None:
        exp_digits = exp.lstrip("+-").lstrip("0")
        if len(exp_digits) > 6 or int(exp) > MAX_EXPONENT or int(exp) < -MAX_EXPONENT:
            shown = exp if len(exp_digits) <= 12 else _short(exp, 12)
            return BadNumber(text, f"has exponent {shown}, beyond the limit of "
                                   f"\u00b1{MAX_EXPONENT}")
        e = int(exp)
    mantissa = int(digits) if digits else 0
    e -= len(frac)
    if mantissa == 0:
        return Fraction(0)
    # magnitude check before building 10**e: mantissa * 10**e with |e| small enough here
    value = Fraction(mantissa * 10 ** e) if e >= 0 else Fraction(mantissa, 10 ** -e)
    return _within_magnitude(-value if sign == "-" else value, text)


def _parse_ratio(text: str, t: str) -> Fraction | BadNumber:
    m = _RATIO.fullmatch(t)
    if m is None:
        return BadNumber(text, 'is not a number: expected one such as 0.3, 1e-6 or "3/10"')
    sign1, num, sign2, den = m.groups()
    for part in (num, den):
        if len(part.lstrip("0")) > MAX_DIGITS:
            return BadNumber(text, f"has more than {MAX_DIGITS} digits")
    if int(den) == 0:
        return BadNumber(text, "is not a number: its denominator is zero")
    neg = (sign1 == "-") != (sign2 == "-")
    return _within_magnitude(Fraction(-int(num) if neg else int(num), int(den)), text)


_TOO_LARGE = ("is too large: numbers must be at most 1.8e308 in absolute value (the largest "
              "double); rescale the data")


def _surely_within(value: Fraction) -> bool:
    """``|value| < 2**1023 <= MAX_MAGNITUDE`` from the bit lengths alone (no comparison
    of fractions): ``|p/q| < 2**bits(p) / 2**(bits(q) - 1)``."""
    return value.numerator.bit_length() - value.denominator.bit_length() <= 1022


def _within_magnitude(value: Fraction, text) -> Fraction | BadNumber:
    if not _surely_within(value) and abs(value) > MAX_MAGNITUDE:
        return BadNumber(str(text), _TOO_LARGE)
    return value


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
        For booleans, non-numeric strings, NaN and infinities, and numbers beyond the
        limits of the module docstring.
    """
    if isinstance(value, (bool, np.bool_)):
        raise GameValidationError(field, f"expected a number, got the boolean {value!r}")
    if isinstance(value, BadNumber):
        raise GameValidationError(field, f"{value!r} {value.problem}")
    if isinstance(value, Fraction):
        if not _surely_within(value) and abs(value) > MAX_MAGNITUDE:
            raise GameValidationError(field, f"{_fraction_text(value)} {_TOO_LARGE}")
        return value
    elif isinstance(value, (numbers.Integral, np.integer)):
        v = int(value)
        if abs(v) > MAX_MAGNITUDE:
            shown = str(v) if v.bit_length() < 200 else f"an integer of {v.bit_length()} bits"
            raise GameValidationError(field, f"{shown} {_TOO_LARGE}")
        return Fraction(v)
    elif isinstance(value, (numbers.Real, np.floating)):
        x = float(value)
        if not math.isfinite(x):
            raise GameValidationError(field, f"expected a finite number, got {x!r}")
        return Fraction(repr(x))
    elif isinstance(value, str):
        if len(value) > 3 * MAX_DIGITS + 20:
            raise GameValidationError(field, f"{_short(value)!r} is too long for a number "
                                             f"(at most {MAX_DIGITS} digits)")
        checked = parse_number_text(value)
        if isinstance(checked, BadNumber):
            raise GameValidationError(field, f"{_short(value)!r} {checked.problem}")
        return checked
    elif hasattr(value, "p") and hasattr(value, "q"):  # python-flint fmpq
        return to_fraction(Fraction(int(value.p), int(value.q)), field)
    raise GameValidationError(
        field, f"expected a number, got {type(value).__name__} {value!r}"
    )


def _fraction_text(value: Fraction) -> str:
    n, d = value.numerator, value.denominator
    if max(n.bit_length(), d.bit_length()) > 200:
        return f"a fraction with {len(str(abs(n)))}-digit numerator"
    return format_fraction(value)


def fraction_array(values, field: str) -> np.ndarray:
    """Object array of Fractions with the same shape as a nested list/array of numbers."""
    arr = np.asarray(values, dtype=object)
    flat = arr.reshape(-1)
    out = np.empty(flat.shape, dtype=object)
    for k, v in enumerate(flat.tolist()):
        if type(v) is Fraction and _surely_within(v):  # from the file reader: checked
            out[k] = v
            continue
        try:
            out[k] = to_fraction(v, field)
        except GameValidationError:  # again, with the entry's index in the field's name
            idx = np.unravel_index(k, arr.shape) if arr.shape else ()
            to_fraction(v, field + "".join(f"[{i}]" for i in idx))
            raise
    return out.reshape(arr.shape)


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
