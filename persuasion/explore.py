"""What the interactive explorer shows: one JSON-ready view of a game, from the exact solvers.

``persuasion explore`` (:mod:`persuasion_cli.explore`) serves a page on which a teacher
moves the prior or edits a utility; every change is sent here and answered by
:func:`explore_view`, a dictionary the page draws:

* ``values``: the optimal value ``V*`` (exact fraction and float), and the sender's value
  under *full revelation* and under *no information*, both computed exactly and
  independently of the LPs (:func:`baseline_values`: the receiver's sender-preferred best
  response at each point-mass posterior, and at the prior);
* ``signals`` and ``flow``: the optimal scheme -- each signal's probability, posterior
  and induced action, and ``P(signal | state)`` for every state (any number of states);
* two states: ``curve``, the value function ``V(p)`` over ``p = P(second state)``
  sampled on a grid, its exact linear ``pieces`` and ``breakpoints``, the vertices of
  ``cav V`` (:func:`persuasion.concavification.value_function`) and the optimal split;
* three states: ``cells``, the receiver's best-response cells (for receiver types, the
  cells of the action profiles) as polygons with exact vertices in barycentric
  coordinates (:func:`persuasion.vertices.polytope_vertices`), ordered around the cell.

The solver: two states by exact concavification, cross-checked against the certified
signaling LP (``check``); more states by the signaling LP certified in rationals. The
input goes through the validation of a game file -- :func:`view_from_json` parses the
text with :func:`persuasion.game_json.parse_game_json` (the limits of
:func:`persuasion.game.load_game`) and builds the game with
:func:`persuasion.game.game_from_dict` -- so a bad field gets the same one-line error
naming it. Games beyond :data:`LIMITS` (a teaching tool answers in milliseconds) are
refused with a :class:`~persuasion.errors.GameValidationError` naming the field.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np

from .errors import GameValidationError, ProblemTooLargeError
from .exact import format_fraction
from .game import ReceiverTypesGame, game_from_dict
from .game_json import parse_game_json
from .signaling_lp import action_profiles
from .solve import solve
from .vertices import polytope_vertices

__all__ = ["explore_view", "view_from_json", "baseline_values", "LIMITS", "MAX_DIGITS",
           "CURVE_POINTS"]

#: Largest game the explorer solves (per request): states, actions, receiver types and
#: action profiles (``actions ** types``, the signals of a receiver-types game).
LIMITS = {"states": 8, "actions": 8, "receiver_types": 4, "profiles": 64}
#: Most digits in the numerator or denominator of any number of the game (a teaching game
#: has small numbers; long ones make every exact step slow and the page unreadable).
MAX_DIGITS = 40
#: Grid points of the sampled value function ``V(p)`` (two states).
CURVE_POINTS = 201


def _num(x) -> dict:
    """An exact number as ``{"exact": "3/5", "float": 0.6}`` (``exact`` is ``None`` for a
    fraction too long to write out)."""
    x = Fraction(x)
    if max(abs(x.numerator), x.denominator).bit_length() > 10_000:  # about 3000 digits
        return {"exact": None, "float": float(x)}
    return {"exact": format_fraction(x), "float": float(x)}


def _game_numbers(game):
    """``(field, Fraction)`` for every number of the game, named as the file names them."""
    for i, p in enumerate(game.prior_exact):
        yield f"prior[{i}]", p
    for (i, j), x in np.ndenumerate(game.sender_utility_exact):
        yield f"sender_utility[{i}][{j}]", x
    for t in range(game.n_types):
        types = isinstance(game, ReceiverTypesGame)
        pre = f"receiver_types[{t}].utility" if types else "receiver_utility"
        for (i, j), x in np.ndenumerate(game.receiver_utilities_exact[t]):
            yield f"{pre}[{i}][{j}]", x
        if types:
            yield f"receiver_types[{t}].probability", game.type_probabilities_exact[t]


def _check_limits(game) -> None:
    n, m, t = game.n_states, game.n_actions, game.n_types
    for field, count, what in (("states", n, "states"), ("actions", m, "actions"),
                               ("receiver_types", t, "receiver types")):
        if count > LIMITS[field]:  # a size limit: exit 5 on the command line, as elsewhere
            raise ProblemTooLargeError(
                f"{field}: {count} {what}; the explorer solves games of at most "
                f"{LIMITS[field]} {what} (use persuasion solve for larger games)")
    if m ** t > LIMITS["profiles"]:
        raise ProblemTooLargeError(
            f"receiver_types: {m}^{t} = {m ** t} action profiles; the explorer solves "
            f"games of at most {LIMITS['profiles']} (use persuasion solve)")
    for field, x in _game_numbers(game):
        digits = max(len(str(abs(x.numerator))), len(str(x.denominator)))
        if digits > MAX_DIGITS:
            raise GameValidationError(
                field, f"a number with {digits} digits; the explorer takes numbers of at most "
                       f"{MAX_DIGITS} digits (use persuasion solve for others)")


def _sender_choice(game, mu) -> tuple[tuple, Fraction]:
    """The action profile the receiver types choose at posterior ``mu`` (exact; ties go
    the sender's way, then to the lower index) and the sender's expected utility there."""
    V, U = game.sender_utility_exact, game.receiver_utilities_exact
    n, m = game.n_states, game.n_actions
    sender = [sum((mu[w] * V[w, a] for w in range(n)), Fraction(0)) for a in range(m)]
    profile, total = [], Fraction(0)
    for t in range(game.n_types):
        rec = [sum((mu[w] * U[t][w, a] for w in range(n)), Fraction(0)) for a in range(m)]
        top = max(rec)
        a = max((a for a in range(m) if rec[a] == top), key=lambda a: (sender[a], -a))
        profile.append(a)
        total += game.type_probabilities_exact[t] * sender[a]
    return tuple(profile), total


def baseline_values(game) -> dict:
    """The sender's exact value under full revelation and under no information.

    Computed from the game alone, without an LP: under *full revelation* the receiver
    learns the state ``w`` (posterior the point mass on ``w``) and each type plays its
    best response there; under *no information* each type best-responds to the prior.
    Ties between best responses go the sender's way, as in every solver here.

    Parameters
    ----------
    game : Game or ReceiverTypesGame

    Returns
    -------
    dict
        ``{"full_revelation": Fraction, "no_information": Fraction,
        "full_revelation_actions": [profile per state], "no_information_action": profile}``.

    Examples
    --------
    >>> from persuasion.games import load_builtin
    >>> b = baseline_values(load_builtin("prosecutor"))
    >>> str(b["full_revelation"]), str(b["no_information"])
    ('3/10', '0')
    """
    n = game.n_states
    full, full_actions = Fraction(0), []
    for w in range(n):
        point = [Fraction(int(i == w)) for i in range(n)]
        profile, value = _sender_choice(game, point)
        full += game.prior_exact[w] * value
        full_actions.append(profile)
    none_profile, none_value = _sender_choice(game, list(game.prior_exact))
    return {"full_revelation": full, "no_information": none_value,
            "full_revelation_actions": full_actions, "no_information_action": none_profile}


def _label(game, profile) -> str:
    return "/".join(game.actions[int(a)] for a in profile)


def _profile_of(action) -> tuple:
    return tuple(int(a) for a in action) if isinstance(action, tuple) else (int(action),)


def _posterior_value(game, profile, exact, approx) -> dict:
    """The sender's expected utility at a posterior when the types play ``profile``."""
    V, rho = game.sender_utility_exact, game.type_probabilities_exact
    if exact is not None:
        return _num(sum((rho[t] * sum((exact[w] * V[w, a] for w in range(game.n_states)),
                                      Fraction(0)) for t, a in enumerate(profile)), Fraction(0)))
    Vf = game.sender_utility
    return {"exact": None, "float": float(sum(game.type_probabilities[t] * (approx @ Vf[:, a])
                                              for t, a in enumerate(profile)))}


def _signals(game, result) -> list[dict]:
    """The scheme's signals of positive probability, exact when the result is."""
    out = []
    for sig in result.signals:
        if sig.probability_exact is not None:
            if sig.probability_exact == 0:
                continue
            prob, post = sig.probability_exact, sig.posterior_exact
            entry = {"probability": _num(prob), "posterior": [_num(p) for p in post]}
        else:
            if sig.probability <= 0:
                continue
            entry = {"probability": {"exact": None, "float": float(sig.probability)},
                     "posterior": [{"exact": None, "float": float(p)} for p in sig.posterior]}
        profile = _profile_of(sig.action)
        if sig.posterior_exact is not None:  # the sender-preferred best response, as the
            profile = _sender_choice(game, list(sig.posterior_exact))[0]  # baselines use
        entry.update(action=_label(game, profile), profile=list(profile))
        entry["value"] = _posterior_value(game, profile, sig.posterior_exact, sig.posterior)
        out.append(entry)
    return out


def _flow(game, signals) -> list[dict]:
    """``P(signal | state)`` for each state of positive prior and each signal it sends."""
    links = []
    for i in range(game.n_states):
        prior = game.prior_exact[i]
        if prior == 0:
            continue
        for k, sig in enumerate(signals):
            if sig["probability"]["exact"] is not None:
                cond = (Fraction(sig["probability"]["exact"])
                        * Fraction(sig["posterior"][i]["exact"]) / prior)
                if cond == 0:
                    continue
                entry = _num(cond)
            else:
                cond = sig["probability"]["float"] * sig["posterior"][i]["float"] / float(prior)
                if cond <= 1e-12:
                    continue
                entry = {"exact": None, "float": cond}
            links.append({"state": i, "signal": k, "probability": entry})
    return links


def _profile_value(game, profile, p: Fraction) -> Fraction:
    """Sender's expected utility at belief ``p = P(second state)`` when the types play
    ``profile``."""
    V = game.sender_utility_exact
    return sum((game.type_probabilities_exact[t] * ((1 - p) * V[0, a] + p * V[1, a])
                for t, a in enumerate(profile)), Fraction(0))


def _two_state_view(game, vf) -> dict:
    """``V`` (grid, pieces, breakpoints) and ``cav V`` of a two-state game."""
    pieces = [{"lo": _num(lo), "hi": _num(hi), "action": _label(game, prof),
               "profile": list(prof), "v_lo": _num(_profile_value(game, prof, lo)),
               "v_hi": _num(_profile_value(game, prof, hi))}
              for lo, hi, prof in vf.pieces]
    breakpoints = [{"p": _num(p), "value": _num(v), "action": _label(game, prof),
                    "profile": list(prof)}
                   for p, v, prof in zip(vf.breakpoints, vf.values, vf.profiles)]
    # the grid's values exactly (ties decided on the exact utilities, as everywhere here)
    curve = [[k / (CURVE_POINTS - 1),
              float(_sender_choice(game, [1 - Fraction(k, CURVE_POINTS - 1),
                                          Fraction(k, CURVE_POINTS - 1)])[1])]
             for k in range(CURVE_POINTS)]
    return {"curve": curve, "pieces": pieces,
            "breakpoints": breakpoints,
            "hull": [{"p": _num(p), "value": _num(v)} for p, v in vf.hull]}


def _project(mu) -> tuple[float, float]:
    """Barycentric projection (state 0 at (0, 0), state 1 at (1, 0), state 2 on top)."""
    return float(mu[1]) + 0.5 * float(mu[2]), math.sqrt(3) / 2 * float(mu[2])


def _cells(game) -> list[dict]:
    """Non-empty best-response cells of a three-state game, vertices ordered around the
    cell's centre (so that they draw as a polygon)."""
    U = game.receiver_utilities_exact
    n, m = game.n_states, game.n_actions
    out = []
    for index, prof in enumerate(action_profiles(m, game.n_types)):
        prof = tuple(int(a) for a in prof)
        rows = [[U[t][w, a] - U[t][w, b] for w in range(n)]
                for t, a in enumerate(prof) for b in range(m) if b != a]
        verts = list(dict.fromkeys(polytope_vertices(n, rows)))
        if not verts:
            continue
        pts = [_project(v) for v in verts]
        cx, cy = sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)
        order = sorted(range(len(verts)),
                       key=lambda k: math.atan2(pts[k][1] - cy, pts[k][0] - cx))
        out.append({"profile": list(prof), "index": index, "action": _label(game, prof),
                    "vertices": [[_num(x) for x in verts[k]] for k in order]})
    return out


def explore_view(game_or_dict) -> dict:
    """The explorer's view of a game: values, optimal scheme, flow and geometry.

    Parameters
    ----------
    game_or_dict : dict, Game or ReceiverTypesGame
        A game, or its dictionary in the file format (validated by
        :func:`persuasion.game.game_from_dict`; text from a visitor goes through
        :func:`view_from_json`).

    Returns
    -------
    dict
        JSON-ready: ``game`` (the validated game, exact, in the file format), ``n_states``,
        ``support`` (``"full"`` for two or three states, ``"values"`` beyond: value,
        scheme and flow only, said in ``note``), ``method``, ``certified``, ``values``
        (``optimal``, ``full_revelation``, ``no_information``: each ``{"exact", "float"}``),
        ``signals``, ``flow``, ``seconds``; two states also ``curve``, ``pieces``,
        ``breakpoints``, ``hull``, ``check``; three states ``cells``.

    Raises
    ------
    GameValidationError
        An invalid game (the field and the problem), or one beyond :data:`LIMITS`.

    Examples
    --------
    >>> from persuasion.games import load_builtin
    >>> v = explore_view(load_builtin("prosecutor"))
    >>> v["values"]["optimal"]["exact"], v["values"]["full_revelation"]["exact"]
    ('3/5', '3/10')
    >>> [s["action"] for s in v["signals"]]
    ['acquit', 'convict']
    """
    t0 = time.perf_counter()
    game = game_from_dict(game_or_dict) if isinstance(game_or_dict, dict) else game_or_dict
    if not hasattr(game, "receiver_utilities_exact"):
        raise GameValidationError("game", f"expected a game or its dictionary, got "
                                          f"{type(game_or_dict).__name__}")
    _check_limits(game)
    n = game.n_states
    view = {"game": game.to_dict(exact=True), "n_states": n, "n_types": game.n_types,
            "support": "full" if n in (2, 3) else "values"}
    if n not in (2, 3):
        view["note"] = (f"{n} state{'s' if n != 1 else ''}: the explorer draws the belief "
                        f"space for 2 or 3 states only; value, scheme and flow are shown")
    certified = solve(game, "signaling", certify=True)
    if n == 2:
        result = solve(game, "concavification")
        vf = result.details["_value_function"]
        view.update(_two_state_view(game, vf))
        view["check"] = {"method": "signaling", "certified": bool(certified.certified),
                         "value": _num(certified.value_exact) if certified.certified
                         else {"exact": None, "float": float(certified.value)},
                         "agree": bool(certified.certified
                                       and certified.value_exact == result.value_exact)}
        if certified.certified and certified.value_exact != result.value_exact:
            raise GameValidationError(  # a bug, or a game the float LP misjudges
                "game", f"concavification ({result.value_exact}) and the certified signaling "
                        f"LP ({certified.value_exact}) disagree")
    else:
        result = certified
        if n == 3:
            view["cells"] = _cells(game)
    base = baseline_values(game)
    optimal = (_num(result.value_exact) if result.value_exact is not None
               else {"exact": None, "float": float(result.value)})
    signals = _signals(game, result)
    view.update({
        "method": result.method, "certified": bool(result.certified),
        "values": {"optimal": optimal, "full_revelation": _num(base["full_revelation"]),
                   "no_information": _num(base["no_information"])},
        "baseline_actions": {
            "full_revelation": [_label(game, p) for p in base["full_revelation_actions"]],
            "no_information": _label(game, base["no_information_action"])},
        "signals": signals, "flow": _flow(game, signals),
    })
    view["seconds"] = time.perf_counter() - t0
    return view


def view_from_json(text: str) -> dict:
    """:func:`explore_view` of a game given as JSON text, read exactly as a game file is
    (:func:`persuasion.game_json.parse_game_json`: depth, duplicate-key and number limits;
    then :func:`persuasion.game.game_from_dict`).

    Raises
    ------
    GameValidationError
        Invalid JSON (line and column), an invalid field, or a game beyond :data:`LIMITS`.

    Examples
    --------
    >>> view_from_json('{"states": ["a", "b"], "actions": ["x"], "prior": [1, 1], '
    ...                '"sender_utility": [[0], [1]], "receiver_utility": [[0], [0]]}')
    Traceback (most recent call last):
    ...
    persuasion.errors.GameValidationError: prior: entries sum to 2, expected 1 within 1e-09
    """
    if not isinstance(text, str):
        raise GameValidationError("game", f"expected JSON text, got {type(text).__name__}")
    return explore_view(game_from_dict(parse_game_json(text, "game")))
