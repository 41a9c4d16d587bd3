"""The game model: finite Bayesian persuasion (Kamenica & Gentzkow 2011).

A sender (she) commits to a signaling scheme, observes the state of the world, sends a
signal; a receiver (he) updates his belief and takes an action. States Omega (``n``),
actions A (``m``), a common prior ``mu0`` over states, sender utility ``v[state][action]``
and receiver utility ``u[state][action]``. **Every matrix is indexed [state][action].**

Two game classes share one interface:

* :class:`Game` -- one receiver whose utility the sender knows;
* :class:`ReceiverTypesGame` -- the receiver's utility matrix (his *type*) is drawn from
  a known finite distribution independently of the state; the sender commits to one
  public scheme (Castiglioni et al. 2020; Xu 2020).

Internally a :class:`Game` is a receiver-types game with one type, so every solver
handles both. Each game keeps exact rational copies of its data (``*_exact``) for
certification: numbers given as strings (``"3/10"``) or integers are exact, floats
are read through their shortest decimal representation.

Validation errors are :class:`~persuasion.errors.GameValidationError` and name the
field and the problem (``"prior: entries sum to 1.1, expected 1 within 1e-09"``).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import sys
from fractions import Fraction
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import GameValidationError
from .exact import BadNumber, format_fraction, fraction_array, parse_number_text, to_fraction
from .scaling import GameScaling, scale_game

__all__ = ["Game", "ReceiverTypesGame", "load_game", "game_from_dict", "DEFAULT_TOL",
           "MAX_FILE_BYTES", "MAX_JSON_DEPTH", "MAX_NAME_LENGTH"]

#: Default numerical tolerance: prior sums, obedience checks, agreement of methods.
DEFAULT_TOL = 1e-9
#: Largest game file read (bytes).
MAX_FILE_BYTES = 256 * 2**20
#: Deepest nesting of JSON arrays and objects in a game file (a receiver-types game
#: needs 5: the game, the type list, a type, its matrix, a row).
MAX_JSON_DEPTH = 16
#: Longest state, action, type or game name (characters).
MAX_NAME_LENGTH = 200

_GAME_KEYS = {
    "name",
    "description",
    "states",
    "actions",
    "prior",
    "sender_utility",
    "receiver_utility",
    "receiver_types",
}
_TYPE_KEYS = {"name", "probability", "utility"}


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _names(values, count: int | None, field: str, default_prefix: str) -> tuple[str, ...]:
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


def _check_description(value) -> None:
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


class _Numbers:
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
            self.float = _readonly(arr.astype(float))
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
            self._exact = _readonly(exact)
            self.float = _readonly(exact.astype(float))
        else:
            raise GameValidationError(field, f"expected numbers, got dtype {arr.dtype}")

    @property
    def shape(self):
        return self.float.shape

    @property
    def exact(self) -> np.ndarray:
        if self._exact is None:
            self._exact = _readonly(fraction_array(self._source, self.field))
            self._source = None
        return self._exact


def _check_shape(nums: _Numbers, shape: tuple[int, ...], field: str, what: str) -> None:
    if nums.shape != shape:
        raise GameValidationError(field, f"expected shape {shape} ({what}), got {nums.shape}")


def _distribution(values, field: str, tol: float, what: str) -> tuple[np.ndarray, tuple[Fraction, ...]]:
    """Validate a probability vector; return (float array, exact tuple normalised to sum 1)."""
    nums = _Numbers(values, field, 1)
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
    return _readonly(np.array([float(p) for p in exact_t])), exact_t


class _GameBase:
    """Shared data and behaviour of :class:`Game` and :class:`ReceiverTypesGame`."""

    def _init_common(self, prior, sender_utility, states, actions, name, tol, description):
        if not (isinstance(tol, (int, float)) and not isinstance(tol, bool)
                and math.isfinite(tol) and 0 <= tol < 1):
            raise GameValidationError("tol", f"expected a number in [0, 1), got {tol!r}")
        self.tol = float(tol)
        if name is not None:
            check_name(name, "name")
        _check_description(description)
        self.description = description
        self._v = _Numbers(sender_utility, "sender_utility", 2)
        n, m = self._v.shape
        if n == 0:
            raise GameValidationError("sender_utility", "has no rows: a game needs at least one state")
        if m == 0:
            raise GameValidationError("sender_utility", "has no columns: a game needs at least one action")
        self.states = _names(states, n, "states", "s")
        self.actions = _names(actions, m, "actions", "a")
        self.prior, self.prior_exact = _distribution(prior, "prior", self.tol, "state")
        if len(self.prior) != n:
            raise GameValidationError(
                "prior", f"has {len(self.prior)} entries but there are {n} states "
                "(rows of sender_utility)"
            )
        self.name = name if name is not None else "game"

    # ----------------------------------------------------------------- shape
    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def n_actions(self) -> int:
        return len(self.actions)

    @property
    def n_types(self) -> int:
        return len(self.type_names)

    @property
    def sender_utility(self) -> np.ndarray:
        """Sender utility ``v[state][action]`` (read-only float array)."""
        return self._v.float

    @property
    def sender_utility_exact(self) -> np.ndarray:
        """Sender utility as an object array of Fractions."""
        return self._v.exact

    @property
    def receiver_utilities(self) -> np.ndarray:
        """Receiver utilities ``u[type][state][action]`` (read-only float array)."""
        return self._u_float

    @cached_property
    def receiver_utilities_exact(self) -> np.ndarray:
        out = np.empty((self.n_types, self.n_states, self.n_actions), dtype=object)
        for t, nums in enumerate(self._u):
            out[t] = nums.exact
        return _readonly(out)

    @cached_property
    def scaling(self) -> GameScaling:
        """The utilities rescaled exactly to ``[0, 2)`` per state and type
        (:mod:`persuasion.scaling`): what the solvers and best-response decisions use."""
        return scale_game(self)

    # ------------------------------------------------------------ behaviour
    def best_responses(self, posterior, type_index: int = 0, tol: float | None = None) -> np.ndarray:
        """Indices of the receiver's best responses at ``posterior`` (within ``tol``).

        Decided on the rescaled utilities (:attr:`scaling`), so ``tol`` is relative to the
        receiver's utility range and a game given in tiny or shifted units is decided
        correctly.
        """
        tol = self.tol if tol is None else tol
        mu = np.asarray(posterior, dtype=float)
        payoff = mu @ self.scaling.receivers[type_index]
        return np.flatnonzero(payoff >= payoff.max() - tol)

    def to_dict(self, exact: bool = True) -> dict:
        """A JSON-ready dictionary in the file format of :func:`load_game`."""
        def num(x):
            return format_fraction(x) if exact else float(x)

        def mat(a):
            return [[num(x) for x in row] for row in a]

        d = {"name": self.name}
        if self.description:
            d["description"] = self.description
        d.update({
            "states": list(self.states),
            "actions": list(self.actions),
            "prior": [num(p) for p in (self.prior_exact if exact else self.prior)],
            "sender_utility": mat(self.sender_utility_exact if exact else self.sender_utility),
        })
        self._receiver_to_dict(d, num, mat, exact)
        return d

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, states={list(self.states)}, "
                f"actions={list(self.actions)}, types={self.n_types})")


class Game(_GameBase):
    """A finite Bayesian persuasion game with one receiver.

    Parameters
    ----------
    prior : array_like, shape (n,)
        Prior over states; non-negative, sums to 1 within ``tol`` (then normalised exactly).
    sender_utility : array_like, shape (n, m)
        ``v[state][action]``.
    receiver_utility : array_like, shape (n, m)
        ``u[state][action]``.
    states, actions : sequence of str, optional
        Unique names; default ``s0, s1, ...`` and ``a0, a1, ...``.
    name, description : str, optional
    tol : float
        Numerical tolerance of the game (prior sum, best-response ties in float checks).

    Numbers may be ints, floats, Fractions or strings such as ``"3/10"``.

    Examples
    --------
    >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]],
    ...          states=["innocent", "guilty"], actions=["acquit", "convict"])
    >>> g.n_states, g.n_actions
    (2, 2)
    """

    def __init__(self, prior, sender_utility, receiver_utility, *, states=None, actions=None,
                 name=None, description=None, tol: float = DEFAULT_TOL):
        self._init_common(prior, sender_utility, states, actions, name, tol, description)
        u = _Numbers(receiver_utility, "receiver_utility", 2)
        _check_shape(u, (self.n_states, self.n_actions), "receiver_utility",
                     "one row per state, one column per action")
        self._u = [u]
        self._u_float = _readonly(u.float[None, :, :].copy())
        self.type_names = ("receiver",)
        self.type_probabilities = _readonly(np.ones(1))
        self.type_probabilities_exact = (Fraction(1),)

    @property
    def receiver_utility(self) -> np.ndarray:
        """Receiver utility ``u[state][action]`` (read-only float array)."""
        return self._u_float[0]

    @property
    def receiver_utility_exact(self) -> np.ndarray:
        return self.receiver_utilities_exact[0]

    def _receiver_to_dict(self, d, num, mat, exact):
        d["receiver_utility"] = mat(self.receiver_utility_exact if exact else self.receiver_utility)

    def with_data(self, **changes) -> "Game":
        """A copy with some constructor arguments replaced (exact data carried over)."""
        kw = dict(prior=list(self.prior_exact), sender_utility=self.sender_utility_exact,
                  receiver_utility=self.receiver_utility_exact, states=self.states,
                  actions=self.actions, name=self.name, description=self.description, tol=self.tol)
        kw.update(changes)
        return Game(**kw)


class ReceiverTypesGame(_GameBase):
    """Bayesian persuasion of a receiver whose type is private (Castiglioni et al. 2020).

    The receiver's utility matrix is ``receiver_utilities[t]`` with probability
    ``type_probabilities[t]``, independently of the state. The sender commits to one
    public scheme; each type best-responds to the common posterior.

    Parameters
    ----------
    prior, sender_utility : as in :class:`Game`
    receiver_utilities : array_like, shape (T, n, m)
    type_probabilities : array_like, shape (T,)
    types : sequence of str, optional
        Type names, default ``t0, t1, ...``.
    """

    def __init__(self, prior, sender_utility, receiver_utilities, type_probabilities, *,
                 states=None, actions=None, types=None, name=None, description=None,
                 tol: float = DEFAULT_TOL):
        self._init_common(prior, sender_utility, states, actions, name, tol, description)
        if isinstance(receiver_utilities, (str, bytes)) or not hasattr(receiver_utilities, "__len__"):
            raise GameValidationError("receiver_types", "expected a list of utility matrices")
        if len(receiver_utilities) == 0:
            raise GameValidationError("receiver_types", "is empty: expected at least one type")
        self._u = []
        for t, mat in enumerate(receiver_utilities):
            field = f"receiver_types[{t}].utility"
            nums = _Numbers(mat, field, 2)
            _check_shape(nums, (self.n_states, self.n_actions), field,
                         "one row per state, one column per action")
            self._u.append(nums)
        self._u_float = _readonly(np.stack([nums.float for nums in self._u]))
        self.type_names = _names(types, len(self._u), "receiver_types names", "t")
        probs, probs_exact = _distribution(type_probabilities, "receiver_types probabilities",
                                           self.tol, "type")
        if len(probs) != len(self._u):
            raise GameValidationError(
                "receiver_types probabilities",
                f"has {len(probs)} entries but there are {len(self._u)} types")
        self.type_probabilities = probs
        self.type_probabilities_exact = probs_exact

    def with_data(self, **changes) -> "ReceiverTypesGame":
        """A copy with some constructor arguments replaced (exact data carried over)."""
        kw = dict(prior=list(self.prior_exact), sender_utility=self.sender_utility_exact,
                  receiver_utilities=list(self.receiver_utilities_exact),
                  type_probabilities=list(self.type_probabilities_exact), states=self.states,
                  actions=self.actions, types=self.type_names, name=self.name,
                  description=self.description, tol=self.tol)
        kw.update(changes)
        return ReceiverTypesGame(**kw)

    def _receiver_to_dict(self, d, num, mat, exact):
        util = self.receiver_utilities_exact if exact else self.receiver_utilities
        probs = self.type_probabilities_exact if exact else self.type_probabilities
        d["receiver_types"] = [
            {"name": nm, "probability": num(p), "utility": mat(util[t])}
            for t, (nm, p) in enumerate(zip(self.type_names, probs))
        ]


def game_from_dict(data: dict, *, tol: float = DEFAULT_TOL):
    """Build a :class:`Game` or :class:`ReceiverTypesGame` from the JSON file format.

    Required keys: ``states``, ``actions``, ``prior``, ``sender_utility`` and exactly one of
    ``receiver_utility`` (one receiver) or ``receiver_types`` (a list of
    ``{"name", "probability", "utility"}``). Optional: ``name``, ``description``.
    Unknown keys are an error (they are usually typos).
    """
    if not isinstance(data, dict):
        raise GameValidationError("game", f"expected a JSON object at the top level, got {type(data).__name__}")
    unknown = sorted(set(data) - _GAME_KEYS)
    if unknown:
        raise GameValidationError(
            unknown[0], f"unknown key (allowed: {', '.join(sorted(_GAME_KEYS))})")
    for key in ("states", "actions", "prior", "sender_utility"):
        if key not in data:
            raise GameValidationError(key, "missing (required)")
    has_u, has_types = "receiver_utility" in data, "receiver_types" in data
    if has_u == has_types:
        raise GameValidationError(
            "receiver_utility", "give exactly one of 'receiver_utility' (one receiver) "
            "or 'receiver_types' (a distribution over receiver types)")
    common = dict(states=data["states"], actions=data["actions"], name=data.get("name"),
                  description=data.get("description"), tol=tol)
    states, actions = data["states"], data["actions"]
    if not isinstance(states, list):
        raise GameValidationError("states", f"expected a list of names, got {states!r}")
    if not isinstance(actions, list):
        raise GameValidationError("actions", f"expected a list of names, got {actions!r}")
    if has_u:
        return Game(data["prior"], data["sender_utility"], data["receiver_utility"], **common)
    types = data["receiver_types"]
    if not isinstance(types, list) or not types:
        raise GameValidationError("receiver_types", "expected a non-empty list of types")
    names, probs, utils = [], [], []
    for t, entry in enumerate(types):
        if not isinstance(entry, dict):
            raise GameValidationError(f"receiver_types[{t}]", "expected an object with name, probability, utility")
        unknown = sorted(set(entry) - _TYPE_KEYS)
        if unknown:
            raise GameValidationError(f"receiver_types[{t}].{unknown[0]}",
                                      "unknown key (allowed: name, probability, utility)")
        for key in ("probability", "utility"):
            if key not in entry:
                raise GameValidationError(f"receiver_types[{t}].{key}", "missing (required)")
        name = check_name(entry.get("name", f"t{t}"), f"receiver_types[{t}].name")
        if name in names:
            raise GameValidationError(f"receiver_types[{t}].name",
                                      f"duplicate type name {name!r} (also at position "
                                      f"{names.index(name)})")
        prob = to_fraction(entry["probability"], f"receiver_types[{t}].probability")
        if prob < 0:
            raise GameValidationError(f"receiver_types[{t}].probability",
                                      f"probability {float(prob):g} is negative")
        names.append(name)
        probs.append(prob)
        utils.append(entry["utility"])
    return ReceiverTypesGame(data["prior"], data["sender_utility"], utils, probs, types=names, **common)


def load_game(source, *, tol: float = DEFAULT_TOL):
    """Load a game from a JSON file path (``"-"`` for standard input), a JSON string, or a
    dictionary.

    Decimal numbers in the file are read exactly (``0.3`` is 3/10); strings such as
    ``"3/10"`` are rationals. The reader has limits, so that a hostile file is refused in
    well under a second with a message naming the field: files of at most
    :data:`MAX_FILE_BYTES`, nesting at most :data:`MAX_JSON_DEPTH` deep, no duplicate
    keys in an object, the digit and exponent limits of :mod:`persuasion.exact`.

    Raises
    ------
    GameValidationError
        Unreadable file, invalid JSON (with line and column), or an invalid game.
    """
    if isinstance(source, dict):
        return game_from_dict(source, tol=tol)
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
    return game_from_dict(parse_game_json(text, origin), tol=tol)


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
