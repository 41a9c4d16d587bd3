"""Validation of a game's data fields: names, numeric arrays (with exact copies) and
probability vectors.

Every check raises :class:`~persuasion.errors.GameValidationError` naming the field and
the problem; the game classes of :mod:`persuasion.game` are built from these.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .errors import GameValidationError
from .exact import fraction_array

__all__ = ["MAX_NAME_LENGTH", "Numbers", "check_name", "check_names", "check_description",
           "check_shape", "check_distribution", "readonly"]

#: Longest state, action, type or game name (characters).
MAX_NAME_LENGTH = 200


def readonly(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def check_names(values, count: int | None, field: str, default_prefix: str) -> tuple[str, ...]:
    """Validate a list of unique, non-empty names (or make default ones)."""
    if values is None:
        if count is None:
            raise GameValidationError(field, "missing")
        return tuple(f"{default_prefix}{i}" for i in range(count))
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise GameValidationError(field, f"expected a list of names, got {values!r}")
    values = list(values)
    if len(values) == 0:
        raise GameValidationError(field, "is empty: a game needs at least one")
    seen: dict[str, int] = {}
    for i, v in enumerate(values):
        check_name(v, f"{field}[{i}]")
        if v in seen:
            raise GameValidationError(
                field, f"duplicate name {v!r} at positions {seen[v]} and {i}"
            )
        seen[v] = i
    if count is not None and len(values) != count:
        raise GameValidationError(
            field, f"has {len(values)} names but the matrices have {count}"
        )
    return tuple(values)


def check_name(value, field: str) -> str:
    """A name is a non-empty string of printable characters (no control characters,
    newlines, terminal escape codes or lone surrogates), at most :data:`MAX_NAME_LENGTH`
    long: names are echoed on terminals and written into plots and JSON."""
    if not isinstance(value, str) or not value.strip():
        raise GameValidationError(field, f"expected a non-empty string, got {value!r}")
    if len(value) > MAX_NAME_LENGTH:
        raise GameValidationError(field, f"is {len(value)} characters long; names may have at "
                                         f"most {MAX_NAME_LENGTH}")
    if not value.isprintable():
        bad = next(ch for ch in value if not ch.isprintable())
        raise GameValidationError(field, f"{value!r} contains the non-printable character "
                                         f"{bad!r}; names must be printable text")
    return value


def check_description(value) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise GameValidationError("description", f"expected a string, got {value!r}")
    bad = [ch for ch in value if not (ch.isprintable() or ch in "\n\t")]
    if bad:
        raise GameValidationError("description", f"contains the non-printable character "
                                                 f"{bad[0]!r} (only text, newlines and tabs)")


def _reject_booleans(values, field: str) -> None:
    """Booleans mixed with numbers would silently become 1 and 0 in a numeric array."""
    try:
        obj = np.array(values, dtype=object)
    except (ValueError, TypeError, RuntimeError, RecursionError):
        return  # ragged or too deep: reported by the caller
    for idx, x in np.ndenumerate(obj):
        if isinstance(x, (bool, np.bool_)):
            where = "".join(f"[{i}]" for i in idx)
            raise GameValidationError(f"{field}{where}", f"expected a number, got the boolean {x!r}")


class Numbers:
    """A validated numeric array with a float view and a lazily built exact view."""

    def __init__(self, values, field: str, ndim: int):
        self.field = field
        # True when the float view loses nothing a float solver could use: the data were
        # floats, or integers of at most 2^53 (see persuasion.scaling)
        self.floats_suffice = False
        if isinstance(values, (str, bytes)) or values is None:
            raise GameValidationError(field, f"expected an array of numbers, got {values!r}")
        if not isinstance(values, np.ndarray):
            _reject_booleans(values, field)
        try:
            arr = np.array(values)  # copy: the caller's input is never mutated or aliased
        except ValueError as exc:
            if "maximum supported dimension" in str(exc):  # numpy's nesting limit (64)
                raise GameValidationError(field, f"expected a {ndim}-dimensional array of "
                                                 "numbers, got deeper nesting") from None
            raise GameValidationError(
                field, "rows have different lengths (a ragged array)"
            ) from None
        except (TypeError, RuntimeError, RecursionError, OverflowError):
            raise GameValidationError(field, f"expected a {ndim}-dimensional array of numbers"
                                      ) from None
        if arr.dtype == object:
            # Fractions, or mixed Python objects: also catches ragged nesting.
            if arr.ndim != ndim or any(isinstance(x, (list, tuple, np.ndarray)) for x in arr.flat):
                raise GameValidationError(
                    field, f"expected a {ndim}-dimensional array of numbers "
                    "(rows of equal length)"
                )
        if arr.ndim != ndim:
            raise GameValidationError(
                field, f"expected a {ndim}-dimensional array, got {arr.ndim} dimension(s) "
                f"(shape {arr.shape})"
            )
        if arr.dtype.kind == "b":
            raise GameValidationError(field, "expected numbers, got booleans")
        if arr.dtype.kind in "iuf":
            self.float = readonly(arr.astype(float))
            bad = ~np.isfinite(self.float)
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                where = "".join(f"[{i}]" for i in idx)
                raise GameValidationError(f"{field}{where}", f"expected a finite number, got {arr[idx]!r}")
            self._source = arr
            self._exact = None
            self.floats_suffice = (arr.dtype.kind == "f"
                                   or not arr.size or int(np.abs(arr).max()) <= 2**53)
        elif arr.dtype.kind in "UOS":
            exact = fraction_array(arr, field)
            self._exact = readonly(exact)
            self.float = readonly(exact.astype(float))
        else:
            raise GameValidationError(field, f"expected numbers, got dtype {arr.dtype}")

    @property
    def shape(self):
        return self.float.shape

    @property
    def exact(self) -> np.ndarray:
        if self._exact is None:
            self._exact = readonly(fraction_array(self._source, self.field))
            self._source = None
        return self._exact


def check_shape(nums: Numbers, shape: tuple[int, ...], field: str, what: str) -> None:
    if nums.shape != shape:
        raise GameValidationError(field, f"expected shape {shape} ({what}), got {nums.shape}")


def check_distribution(values, field: str, tol: float, what: str) -> tuple[np.ndarray, tuple[Fraction, ...]]:
    """Validate a probability vector; return (float array, exact tuple normalised to sum 1)."""
    nums = Numbers(values, field, 1)
    if nums.shape[0] == 0:
        raise GameValidationError(field, f"is empty: expected one probability per {what}")
    exact = nums.exact
    for i, p in enumerate(exact):
        if p < 0:
            raise GameValidationError(f"{field}[{i}]", f"probability {float(p):g} is negative")
    total = sum(exact, Fraction(0))
    if abs(total - 1) > Fraction(repr(float(tol))):
        raise GameValidationError(
            field, f"entries sum to {float(total):.12g}, expected 1 within {tol:g}"
        )
    if total != 1:  # within tolerance: normalise exactly
        exact = np.array([p / total for p in exact], dtype=object)
    exact_t = tuple(exact)
    return readonly(np.array([float(p) for p in exact_t])), exact_t
