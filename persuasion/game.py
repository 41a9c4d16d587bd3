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

Modules: this one holds the two game classes and their constructors from the file
format (:func:`game_from_dict`, :func:`load_game`); the checks of the data fields are in
:mod:`persuasion.game_fields`, reading and parsing a game file within limits in
:mod:`persuasion.game_json`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cached_property

import numpy as np

from .errors import GameValidationError
from .exact import format_fraction, to_fraction
from .game_fields import (MAX_NAME_LENGTH, Numbers, check_description, check_distribution,
                          check_name, check_names, check_shape, readonly)
from .game_json import MAX_FILE_BYTES, MAX_JSON_DEPTH, parse_game_json, read_game_source
from .scaling import GameScaling, scale_game

__all__ = ["Game", "ReceiverTypesGame", "load_game", "game_from_dict", "DEFAULT_TOL",
           "MAX_FILE_BYTES", "MAX_JSON_DEPTH", "MAX_NAME_LENGTH"]

#: Default numerical tolerance: prior sums, obedience checks, agreement of methods.
DEFAULT_TOL = 1e-9

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


class _GameBase:
    """Shared data and behaviour of :class:`Game` and :class:`ReceiverTypesGame`."""

    def _init_common(self, prior, sender_utility, states, actions, name, tol, description):
        if not (isinstance(tol, (int, float)) and not isinstance(tol, bool)
                and math.isfinite(tol) and 0 <= tol < 1):
            raise GameValidationError("tol", f"expected a number in [0, 1), got {tol!r}")
        self.tol = float(tol)
        if name is not None:
            check_name(name, "name")
        check_description(description)
        self.description = description
        self._v = Numbers(sender_utility, "sender_utility", 2)
        n, m = self._v.shape
        if n == 0:
            raise GameValidationError("sender_utility", "has no rows: a game needs at least one state")
        if m == 0:
            raise GameValidationError("sender_utility", "has no columns: a game needs at least one action")
        self.states = check_names(states, n, "states", "s")
        self.actions = check_names(actions, m, "actions", "a")
        self.prior, self.prior_exact = check_distribution(prior, "prior", self.tol, "state")
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
        return readonly(out)

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

    Notes
    -----
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
        u = Numbers(receiver_utility, "receiver_utility", 2)
        check_shape(u, (self.n_states, self.n_actions), "receiver_utility",
                     "one row per state, one column per action")
        self._u = [u]
        self._u_float = readonly(u.float[None, :, :].copy())
        self.type_names = ("receiver",)
        self.type_probabilities = readonly(np.ones(1))
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
            nums = Numbers(mat, field, 2)
            check_shape(nums, (self.n_states, self.n_actions), field,
                         "one row per state, one column per action")
            self._u.append(nums)
        self._u_float = readonly(np.stack([nums.float for nums in self._u]))
        self.type_names = check_names(types, len(self._u), "receiver_types names", "t")
        probs, probs_exact = check_distribution(type_probabilities, "receiver_types probabilities",
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
    text, origin = read_game_source(source)
    return game_from_dict(parse_game_json(text, origin), tol=tol)
