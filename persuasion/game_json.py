"""Reading a game file within limits and parsing its JSON exactly.

The reader has limits, so that a hostile file is refused in well under a second with a
message naming the field: files of at most :data:`MAX_FILE_BYTES` (regular files or
standard input), nesting at most :data:`MAX_JSON_DEPTH` deep, no duplicate keys in an
object, the digit and exponent limits of :mod:`persuasion.exact`. The game itself is
built from the parsed data by :func:`persuasion.game.game_from_dict`.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

import numpy as np

from .errors import GameValidationError
from .exact import BadNumber, parse_number_text

__all__ = ["MAX_FILE_BYTES", "MAX_JSON_DEPTH", "read_game_source", "parse_game_json"]

#: Largest game file read (bytes).
MAX_FILE_BYTES = 256 * 2**20
#: Deepest nesting of JSON arrays and objects in a game file (a receiver-types game
#: needs 5: the game, the type list, a type, its matrix, a row).
MAX_JSON_DEPTH = 16


def read_game_source(source) -> tuple[str, str]:
    """``(text, origin)`` of a game given as a file path (``"-"`` for standard input) or
    as JSON text; ``origin`` names it in errors (the path, ``<stdin>`` or ``game``)."""
    origin = "game"
    if source == "-":
        origin = "<stdin>"
        text = _read_limited(sys.stdin.buffer, origin)
    elif isinstance(source, Path) or (isinstance(source, str)
                                      and not source.lstrip().startswith(("{", "["))):
        origin = str(source)
        text = _read_file(origin)
    elif isinstance(source, str):
        text = source
    else:
        raise GameValidationError("game", f"expected a path, JSON text or dict, got {type(source).__name__}")
    return text, origin


def _read_file(path: str) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise GameValidationError(path, "file not found") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise GameValidationError(path, f"cannot open the file ({exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise GameValidationError(path, "is not a regular file (use - to read standard "
                                            "input)")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return _read_limited(fh, path)
    finally:
        os.close(fd)


def _read_limited(fh, origin: str) -> str:
    try:
        data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise GameValidationError(origin, f"cannot read the file ({exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise GameValidationError(origin, f"is larger than {MAX_FILE_BYTES // 2**20} MiB, the "
                                          "limit of a game file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GameValidationError(origin, f"cannot read the file: it is not UTF-8 text "
                                          f"(byte {exc.start})") from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def _json_depth(text: str) -> int:
    """Deepest nesting of arrays and objects in JSON ``text`` (strings skipped), in linear
    time and without recursion."""
    bare = _JSON_STRING.sub("", text)
    if not bare:
        return 0
    b = np.frombuffer(bare.encode("utf-8", "replace"), dtype=np.uint8)
    step = np.isin(b, (91, 123)).astype(np.int64) - np.isin(b, (93, 125))
    return int(np.cumsum(step).max(initial=0))


def _no_duplicate_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise GameValidationError(key, "duplicate key: the JSON object gives it twice "
                                           "(which one is meant is ambiguous)")
        obj[key] = value
    return obj


def _json_constant(name: str):
    return BadNumber(name, "is not a finite number")


def parse_game_json(text: str, origin: str = "game"):
    """Parse a game file's JSON text exactly and within the limits of :func:`load_game`.

    Numbers become :class:`~fractions.Fraction` (or a marker that the validation of their
    field refuses with the field's name), duplicate keys are refused.
    """
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise GameValidationError(origin, f"JSON nested {depth} levels deep; a game file needs "
                                          f"at most 5 (limit {MAX_JSON_DEPTH})")
    try:
        return json.loads(text, parse_float=parse_number_text, parse_int=parse_number_text,
                          parse_constant=_json_constant, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise GameValidationError(
            origin, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise GameValidationError(origin, "JSON nested too deeply") from None
