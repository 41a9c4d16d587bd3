"""Checks of configuration values shared by the bridge's settings objects; errors name the field."""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

__all__ = ["check_int", "check_positive"]


def check_int(name: str, value, minimum: int = 1, *, allow_none: bool = False):
    """``value`` as an int ``>= minimum`` (or None when allowed), else ConfigError.

    >>> check_int("n", 3)
    3
    >>> check_int("n", 0)
    Traceback (most recent call last):
    ...
    llm_bridge.errors.ConfigError: n: expected a positive integer, got 0
    """
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        want = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"{name}: expected {want}, got {value!r}")
    return int(value)


def check_positive(name: str, value) -> float:
    """``value`` as a float ``> 0``, else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
        raise ConfigError(f"{name}: expected a positive number, got {value!r}")
    return float(value)
