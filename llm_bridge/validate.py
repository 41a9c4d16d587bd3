"""Checks of configuration values shared by the bridge's settings objects; errors name the field.

Thin adapters of :mod:`persuasion.checks` (the toolkit's one checker of counts and positive
numbers) that raise the bridge's :class:`~llm_bridge.errors.ConfigError`.
"""

from __future__ import annotations

from persuasion.checks import check_int as _check_int
from persuasion.checks import check_positive as _check_positive

from .errors import ConfigError

__all__ = ["check_int", "check_positive", "config_error"]


def config_error(field: str, problem: str) -> ConfigError:
    """The bridge's error for ``field``: ``ConfigError("field: problem")``."""
    return ConfigError(f"{field}: {problem}")


def check_int(name: str, value, minimum: int = 1, *, allow_none: bool = False):
    """``value`` as an int ``>= minimum`` (or None when allowed), else ConfigError.

    >>> check_int("n", 3)
    3
    >>> check_int("n", 0)
    Traceback (most recent call last):
    ...
    llm_bridge.errors.ConfigError: n: expected a positive integer, got 0
    """
    return _check_int(value, name, minimum, allow_none=allow_none, error=config_error)


def check_positive(name: str, value) -> float:
    """``value`` as a float ``> 0`` (finite), else ConfigError."""
    return _check_positive(value, name, error=config_error)
