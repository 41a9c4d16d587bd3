"""argparse value types whose errors name the option (``--n: expected an integer >= 1, got '0'``)."""

from __future__ import annotations

__all__ = ["int_at_least", "positive_int", "positive_float"]


def int_at_least(name: str, minimum: int):
    """An integer ``>= minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{name}: expected an integer, got {text!r}") from None
        if value < minimum:
            raise ValueError(f"{name}: expected an integer >= {minimum}, got {text!r}")
        return value

    parse.__name__ = name  # argparse names the type in its message
    return parse


def positive_int(name: str):
    """An integer ``>= 1``."""
    return int_at_least(name, 1)


def positive_float(name: str):
    """A number ``> 0``."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name}: expected a number, got {text!r}") from None
        if not value > 0:
            raise ValueError(f"{name}: expected a positive number, got {text!r}")
        return value

    parse.__name__ = name
    return parse
