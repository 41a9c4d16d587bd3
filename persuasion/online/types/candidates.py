"""The finite candidate set of schemes against receivers of unknown type, and benchmarks.

Candidate schemes (the discretisation of Castiglioni et al. 2020). For a type
distribution ``q`` let ``OPT(q)`` be the optimum of the receiver-types signaling LP
(:mod:`persuasion.signaling_lp`). The candidates are the LP optima for every ``q`` on
the grid ``{q in Delta(types) : q_theta in {0, 1/g, ..., 1}}`` (which contains the
``T`` vertices, i.e. each type's own optimum), plus full revelation and no
information, with duplicates dropped (schemes inducing the same posteriors with the
same probabilities are the same). ``utilities[j, theta]`` is the exact expected
sender utility of candidate ``j`` against type ``theta`` alone.

Also here: :func:`hindsight_optimum`, the best fixed scheme over ALL schemes for a
sequence of types, and the helpers that turn LP optima into schemes (shared with the
follow-the-leader learner, which builds its candidates one optimum at a time).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np

from ...checks import check_int
from ...errors import GameValidationError, ProblemTooLargeError
from ...game import Game, ReceiverTypesGame
from ...scheme import evaluate_scheme
from ...solve import solve

__all__ = ["candidate_schemes", "type_grid", "scheme_type_table", "hindsight_optimum",
           "DEFAULT_GRID", "MAX_GRID_POINTS"]

#: Default grid resolution ``g`` of the candidate type distributions.
DEFAULT_GRID = 8
#: Ceiling on the number of grid points (one LP each).
MAX_GRID_POINTS = 10_000


# ----------------------------------------------------------------------- helpers
def as_types_game(game) -> ReceiverTypesGame:
    """A :class:`ReceiverTypesGame` (a one-receiver :class:`Game` becomes one type)."""
    if isinstance(game, ReceiverTypesGame):
        return game
    if isinstance(game, Game):
        return ReceiverTypesGame(list(game.prior_exact), game.sender_utility_exact,
                                 [game.receiver_utility_exact], [1], states=game.states,
                                 actions=game.actions, types=game.type_names, name=game.name,
                                 description=game.description, tol=game.tol)
    raise GameValidationError("game", f"expected a Game or ReceiverTypesGame, got "
                                      f"{type(game).__name__}")


def single_type_games(game) -> list[Game]:
    """One single-receiver :class:`Game` per type (same prior and sender utility)."""
    return [Game(list(game.prior_exact), game.sender_utility_exact,
                 game.receiver_utilities_exact[t], states=game.states, actions=game.actions,
                 name=f"{game.name} [{game.type_names[t]}]", tol=game.tol)
            for t in range(game.n_types)]


def with_types(game, q) -> ReceiverTypesGame:
    """``game`` with the type distribution ``q``."""
    return game.with_data(type_probabilities=list(q))


def format_distribution(q) -> str:
    """``(1/2, 1/2)``: a type distribution in a candidate's name."""
    return "(" + ", ".join(str(x) for x in q) + ")"


def type_grid(n_types: int, grid: int) -> list[tuple[Fraction, ...]]:
    """All type distributions whose coordinates are multiples of ``1/grid`` (exact).

    ``C(grid + T - 1, T - 1)`` points, in lexicographic order of the bar positions; the
    ``T`` vertices (one type for sure) are always among them.

    >>> [tuple(str(x) for x in q) for q in type_grid(2, 2)]
    [('0', '1'), ('1/2', '1/2'), ('1', '0')]
    """
    T = check_int(n_types, "n_types")
    g = check_int(grid, "grid")
    count = math.comb(g + T - 1, T - 1)
    if count > MAX_GRID_POINTS:
        raise ProblemTooLargeError(
            f"the type grid with g={g} and T={T} types has {count} points (one LP each), "
            f"above {MAX_GRID_POINTS}; use a smaller grid")
    out = []
    for bars in itertools.combinations(range(g + T - 1), T - 1):
        edges = (-1,) + bars + (g + T - 1,)
        out.append(tuple(Fraction(edges[i + 1] - edges[i] - 1, g) for i in range(T)))
    return out


# ------------------------------------------------------------- schemes as signals
def signal_key(signals) -> tuple:
    """Canonical, hashable form of a list of ``(probability, posterior)`` (rounded)."""
    return tuple(sorted((tuple(round(float(x), 12) for x in post), round(float(p), 12))
                        for p, post in signals))


def merge_signals(signals) -> list:
    """Drop null signals and merge signals with the same posterior (same behaviour)."""
    merged: dict = {}
    for p, post in signals:
        if p <= 0:
            continue
        key = tuple(round(float(x), 12) for x in post)
        if key in merged:
            merged[key] = (merged[key][0] + p, merged[key][1])
        else:
            merged[key] = (p, tuple(post))
    return [merged[k] for k in sorted(merged)]


def scheme_from_signals(game, signals) -> np.ndarray:
    """``scheme[w][k] = p_k posterior_k(w) / mu(w)`` (exactly when the data are Fractions);
    zero-prior states send signal 0."""
    prior = game.prior_exact
    n, k = game.n_states, len(signals)
    exact = all(isinstance(p, Fraction) for p, _ in signals)
    out = np.zeros((n, k))
    for w in range(n):
        if prior[w] == 0:
            out[w, 0] = 1.0
            continue
        if exact:
            out[w] = [float(p * post[w] / prior[w]) for p, post in signals]
        else:
            row = np.array([float(p) * float(post[w]) for p, post in signals]) / float(prior[w])
            out[w] = row / row.sum()
    return out


def optimal_signals(game_q, certify: bool) -> list:
    """Signals ``(probability, posterior)`` of the types-LP optimum, exact when certified."""
    res = solve(game_q, "signaling", certify=certify, check_unique=False)
    if res.certified and res.signals_exact is not None:
        return merge_signals(res.signals_exact)
    return merge_signals(zip(res.signal_probabilities, res.posteriors))


def _full_revelation_signals(game) -> list:
    n = game.n_states
    return [(p, tuple(Fraction(int(i == w)) for i in range(n)))
            for w, p in enumerate(game.prior_exact)]


def scheme_type_table(game, scheme, *, tol: float | None = None,
                      type_games: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What ``scheme`` earns against each type alone, and what each type does.

    Returns ``(values, actions)``: ``values[theta]`` is the sender's exact expected
    utility when the receiver is of type ``theta`` for sure
    (:func:`persuasion.scheme.evaluate_scheme` on the single-type game, sender-preferred
    ties); ``actions[k, theta]`` the action type ``theta`` takes at signal ``k`` (``-1``
    for a signal of probability 0).
    """
    G = as_types_game(game)
    games = single_type_games(G) if type_games is None else type_games
    values = np.empty(G.n_types)
    actions = None
    for t, g in enumerate(games):
        ev = evaluate_scheme(g, scheme, tie_breaking="sender", tol=tol)
        values[t] = ev.sender_value
        col = np.array([a[0] for a in ev.actions], dtype=np.int64)
        if actions is None:
            actions = np.empty((col.size, G.n_types), dtype=np.int64)
        actions[:, t] = col
    return values, actions


def candidate_schemes(game, grid: int = DEFAULT_GRID, *, certify: bool = True,
                      include_full: bool = True, include_none: bool = True):
    """The finite candidate set of schemes, and their utility against each type.

    Steps (the discretisation of Castiglioni et al. 2020):

    1. no information and full revelation (when asked), in that order;
    2. for every ``q`` of :func:`type_grid` (``T`` types, resolution ``grid``), the
       optimal public scheme of the types LP with type distribution ``q``
       (``persuasion.solve(game.with_data(type_probabilities=q), "signaling")``,
       certified so that the scheme is rebuilt from exact posteriors and ties land
       exactly on the indifference boundaries);
    3. drop duplicates: schemes are compared by their signals (posterior and
       probability, null signals dropped and equal posteriors merged); the first name
       is kept;
    4. ``utilities[j, theta]`` by :func:`scheme_type_table`.

    Parameters
    ----------
    game : ReceiverTypesGame or Game
        Its type distribution is not used.
    grid : int
        Resolution ``g``: coordinates of ``q`` are multiples of ``1/g``.
    certify : bool
        Certify each LP (exact schemes); a failed certification falls back to the float
        optimum.

    Returns
    -------
    candidates : list of (ndarray, str)
        ``(scheme [state][signal], name)``.
    utilities : ndarray, shape (K, T)
    """
    G = as_types_game(game)
    points = type_grid(G.n_types, grid)
    named = []
    if include_none:
        named.append(([(Fraction(1), tuple(G.prior_exact))], "no information"))
    if include_full:
        named.append((merge_signals(_full_revelation_signals(G)), "full revelation"))
    for q in points:
        named.append((optimal_signals(with_types(G, q), certify),
                      f"optimal for q={format_distribution(q)}"))
    seen = set()
    candidates = []
    games = single_type_games(G)
    rows = []
    for signals, name in named:
        key = signal_key(signals)
        if key in seen:
            continue
        seen.add(key)
        scheme = scheme_from_signals(G, signals)
        candidates.append((scheme, name))
        rows.append(scheme_type_table(G, scheme, type_games=games)[0])
    return candidates, np.array(rows)


def hindsight_optimum(game, type_counts, *, certify: bool = True):
    """The best fixed scheme in hindsight for a sequence with these type counts.

    ``sum_t U(sigma; theta_t) = t * sum_theta rho_hat(theta) U(sigma; theta)`` with
    ``rho_hat = counts / t`` (exact Fractions), so the best fixed scheme over ALL
    schemes is the types-LP optimum for ``rho_hat`` and its total is ``t * OPT(rho_hat)``.

    Returns the :class:`~persuasion.result.PersuasionResult` (``value`` per round;
    ``value_exact`` when certified).
    """
    G = as_types_game(game)
    counts = [int(c) for c in np.asarray(type_counts).ravel()]
    if len(counts) != G.n_types or min(counts) < 0 or sum(counts) == 0:
        raise GameValidationError("type_counts", f"expected {G.n_types} non-negative counts "
                                                 f"with a positive sum, got {counts}")
    total = sum(counts)
    rho_hat = [Fraction(c, total) for c in counts]
    return solve(with_types(G, rho_hat), "signaling", certify=certify, check_unique=False)
