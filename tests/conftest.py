"""Shared fixtures of the whole test suite (``tests/persuasion``, ``tests/theory``,
``tests/llm_bridge``, ``tests/cli``).

* The whole session runs offline: ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` are set
  when this file is imported, before any test imports transformers or starts a command, so
  nothing (in process or in a child process) can reach a model hub.
* Hypothesis profiles: ``persuasion`` (default: 50 examples, no deadline, so nothing
  depends on timing), ``thorough`` (500 examples) and ``ci`` (derandomised). Pick one
  with the environment variable ``HYPOTHESIS_PROFILE``.
* Textbook games with their exact optima, derived by hand (``textbook`` fixture).
* A Hypothesis strategy for random games with exact data (``game_specs`` fixture): small
  integer or rational utilities, priors from integer weights (so they are exact).

The strategies are handed out by session-scoped fixtures and drawn inside the tests with
``st.data()``, so that no test module imports this file.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from dataclasses import dataclass, field  # noqa: E402
from fractions import Fraction as F  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from persuasion import Game, ReceiverTypesGame  # noqa: E402
from persuasion.exact import format_fraction  # noqa: E402

settings.register_profile(
    "persuasion", max_examples=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", parent=settings.get_profile("persuasion"), max_examples=500)
settings.register_profile("ci", parent=settings.get_profile("persuasion"), derandomize=True,
                          database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "persuasion"))


# --------------------------------------------------------------------------- games
def prosecutor_game() -> Game:
    """Kamenica & Gentzkow's prosecutor and judge (value 3/5)."""
    return Game(["7/10", "3/10"], [[0, 1], [0, 1]], [[1, 0], [0, 1]],
                states=["innocent", "guilty"], actions=["acquit", "convict"], name="prosecutor")


def two_judges_game() -> ReceiverTypesGame:
    """The prosecutor facing a lenient judge (convicts iff P(guilty) >= 1/2) or a strict one
    (convicts iff P(guilty) >= 3/4), each with probability 1/2.

    By hand: V(p) = 0 on [0, 1/2), 1/2 on [1/2, 3/4), 1 on [3/4, 1]. The upper concave hull
    of (0, 0), (1/2, 1/2), (3/4, 1), (1, 1) is (0, 0)-(3/4, 1)-(1, 1) (slope 4/3 beats slope
    1 from the origin), so cav V(3/10) = 3/10 * 4/3 = 2/5: posteriors 0 (weight 3/5, both
    acquit) and 3/4 (weight 2/5, both convict).
    """
    return ReceiverTypesGame(["7/10", "3/10"], [[0, 1], [0, 1]],
                             [[[1, 0], [0, 1]], [[0, -3], [0, 1]]], ["1/2", "1/2"],
                             states=["innocent", "guilty"], actions=["acquit", "convict"],
                             types=["lenient", "strict"], name="two judges")


@dataclass
class Case:
    """A game with its exact optimum and (where the optimal split is unique) its signals.

    ``signals`` is a set of ``(probability, posterior, action index)`` with exact entries,
    or None when the optimal split is not unique. ``signal_actions`` optionally lists the
    acceptable actions per posterior instead (for games with duplicate actions).
    """

    game: object
    value: F
    signals: set | None = None
    signal_actions: dict | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


def _textbook() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    cases["prosecutor"] = Case(
        prosecutor_game(), F(3, 5),
        signals={(F(2, 5), (F(1), F(0)), 0), (F(3, 5), (F(1, 2), F(1, 2)), 1)})

    # Sender utility == receiver utility: full revelation is optimal and the value is
    # E_w max_a u(w, a) = 1/2*3 + 1/3*2 + 1/6*2 = 5/2. Each state has a different unique
    # best action, so any pooling strictly loses: the optimal split is unique.
    u = [[3, 0, 1], [0, 2, 1], [1, 0, 2]]
    cases["no_conflict"] = Case(
        Game(["1/2", "1/3", "1/6"], u, u), F(5, 2),
        signals={(F(1, 2), (1, 0, 0), 0), (F(1, 3), (0, 1, 0), 1), (F(1, 6), (0, 0, 1), 2)})

    # At the prior (1/2, 1/4, 1/4) the receiver takes a0 (payoffs 1, 1/2, 1/2) and a0 is
    # the sender's favourite in every state, so revealing nothing reaches the upper bound
    # E_w max_a v(w, a) = 1/2*2 + 1/4*3 + 1/4*1 = 2. Every signal of an optimal scheme
    # induces a0 (the posterior LP returns a split into vertices of the a0 cell, which is
    # equivalent to revealing nothing; the split is not unique).
    cases["default_is_favourite"] = Case(
        Game(["1/2", "1/4", "1/4"], [[2, 0, 1], [3, 1, 0], [1, 0, 0]],
             [[2, 0, 0], [0, 2, 0], [0, 0, 2]]), F(2),
        extra={"only_action": 0})

    # The sender's payoff depends on the state only: every scheme gives E[f(w)] =
    # 7/10*1 + 3/10*4 = 19/10, so every obedient scheme is optimal (not unique).
    cases["sender_indifferent"] = Case(
        Game(["7/10", "3/10"], [[1, 1], [4, 4]], [[1, 0], [0, 1]]), F(19, 10))

    # Degenerate: for the receiver a0 and a1 are the same action (column [1, 0]) and so
    # are a2 and a3 (column [0, 1]); for the sender a0 < a1 (0 < 1) and a2 == a3 (2).
    # By hand: V(p) = 1 on [0, 1/2) (the tie a0/a1 goes to a1) and 2 on [1/2, 1], so
    # cav V(3/10) = 2/5*1 + 3/5*2 = 8/5 with posteriors 0 and 1/2.
    # What is found: the value 8/5 and the split {0: 2/5, 1/2: 3/5} by every method;
    # a0 is never used (sender-preferred tie-breaking between identical receiver columns).
    # What is not found: which of the twins a2/a3 is recommended at 1/2. The signaling
    # LP may return either (or a mix) and reports unique=False; the posterior LP keeps one
    # label per posterior (the first of equal value, a2) and so cannot see the tie (it
    # reports unique=None).
    cases["degenerate"] = Case(
        Game(["7/10", "3/10"], [[0, 1, 2, 2], [0, 1, 2, 2]], [[1, 1, 0, 0], [0, 0, 1, 1]]),
        F(8, 5),
        signal_actions={(F(2, 5), (F(1), F(0))): {1}, (F(3, 5), (F(1, 2), F(1, 2))): {2, 3}})

    # One state: the receiver is indifferent between a0 and a1 (payoff 2) and the sender
    # gets 5 from a1: value 5 (sender-preferred tie).
    cases["one_state"] = Case(Game([1], [[1, 5, 3]], [[2, 2, 1]]), F(5),
                              signals={(F(1), (F(1),), 1)})

    # One action: nothing to persuade; value = 1/4*2 + 3/4*6 = 5.
    cases["one_action"] = Case(Game(["1/4", "3/4"], [[2], [6]], [[0], [0]]), F(5))

    # Three states, derived by hand. The receiver takes b iff 2 p2 >= p0 + p1, i.e.
    # p2 >= 1/3. The sender gets 1 (w0), 2 (w1), 0 (w2) from b and 0 from a. Pooling
    # masses x0 of w0 and x1 of w1 with all of w2 (1/6) keeps b obedient iff
    # x0 + x1 <= 2/6; w1 is worth more per unit, so x1 = 1/3, x0 = 0: value 2 * 1/3 = 2/3,
    # posteriors (1, 0, 0) -> a (weight 1/2) and (0, 2/3, 1/3) -> b (weight 1/2).
    cases["three_state"] = Case(
        Game(["1/2", "1/3", "1/6"], [[0, 1], [0, 2], [0, 0]], [[0, -1], [0, -1], [0, 2]]),
        F(2, 3),
        signals={(F(1, 2), (1, 0, 0), 0), (F(1, 2), (0, F(2, 3), F(1, 3)), 1)})

    # A receiver-types game (see two_judges_game): value 2/5.
    cases["two_judges"] = Case(
        two_judges_game(), F(2, 5),
        signals={(F(3, 5), (F(1), F(0)), (0, 0)), (F(2, 5), (F(1, 4), F(3, 4)), (1, 1))})
    return cases


@pytest.fixture(scope="session")
def textbook() -> dict[str, Case]:
    """Name -> :class:`Case` of every textbook fixture."""
    return _textbook()


@pytest.fixture
def prosecutor() -> Game:
    return prosecutor_game()


@pytest.fixture
def two_judges() -> ReceiverTypesGame:
    return two_judges_game()


# ------------------------------------------------------------------ random games
@dataclass(frozen=True)
class GameSpec:
    """Exact data of a random game; ``repr`` is a Python expression that rebuilds it."""

    prior: tuple
    V: tuple  # n x m
    U: tuple  # T x n x m
    rho: tuple  # T
    as_types: bool = False

    @property
    def n(self) -> int:
        return len(self.prior)

    @property
    def m(self) -> int:
        return len(self.V[0])

    @property
    def T(self) -> int:
        return len(self.U)

    def game(self):
        if self.T == 1 and not self.as_types:
            return Game(list(self.prior), [list(r) for r in self.V],
                        [list(r) for r in self.U[0]])
        return ReceiverTypesGame(list(self.prior), [list(r) for r in self.V],
                                 [[list(r) for r in u] for u in self.U], list(self.rho))

    def __repr__(self) -> str:
        def s(x):
            if isinstance(x, tuple):
                return "[" + ", ".join(s(v) for v in x) + "]"
            return repr(format_fraction(x))
        if self.T == 1 and not self.as_types:
            return f"Game({s(self.prior)}, {s(self.V)}, {s(self.U[0])})"
        return f"ReceiverTypesGame({s(self.prior)}, {s(self.V)}, {s(self.U)}, {s(self.rho)})"


def _entries(rational: bool):
    ints = st.integers(-3, 3).map(F)
    if not rational:
        return ints
    return st.one_of(ints, st.fractions(min_value=-3, max_value=3, max_denominator=4))


@st.composite
def _game_specs(draw, n_states=(2, 4), n_actions=(2, 4), n_types=(1, 1), rational=True,
                zero_prior=True, as_types=False):
    n = draw(st.integers(*n_states))
    m = draw(st.integers(*n_actions))
    T = draw(st.integers(*n_types))
    weights = draw(st.lists(st.integers(0 if zero_prior else 1, 4), min_size=n, max_size=n))
    if sum(weights) == 0:
        weights[0] = 1
    prior = tuple(F(w, sum(weights)) for w in weights)
    entry = _entries(rational)

    def matrix():
        return tuple(tuple(draw(entry) for _ in range(m)) for _ in range(n))

    V = matrix()
    U = tuple(matrix() for _ in range(T))
    tw = draw(st.lists(st.integers(1, 3), min_size=T, max_size=T))
    rho = tuple(F(w, sum(tw)) for w in tw)
    return GameSpec(prior, V, U, rho, as_types=as_types)


@pytest.fixture(scope="session")
def game_specs():
    """``game_specs(**limits)`` -> a Hypothesis strategy of :class:`GameSpec`.

    Keywords: ``n_states=(lo, hi)``, ``n_actions=(lo, hi)``, ``n_types=(lo, hi)``,
    ``rational`` (also draw fractions with denominators up to 4), ``zero_prior`` (allow
    states of prior probability 0), ``as_types`` (build a ReceiverTypesGame even for T=1).
    """
    return _game_specs


# ------------------------------------------------------------- exact references
def _brute_force_value(g) -> F:
    """max over n-subsets of candidate posteriors solving Bayes plausibility with tau >= 0
    (a basic optimal solution uses at most n posteriors): no simplex at all."""
    import itertools

    import flint

    from persuasion.posterior_lp import candidate_posteriors

    posts, _, values, _ = candidate_posteriors(g)
    n = g.n_states
    best = None
    for subset in itertools.combinations(range(len(posts)), n):
        M = flint.fmpq_mat(n, n)
        for c, k in enumerate(subset):
            for i in range(n):
                M[i, c] = flint.fmpq(posts[k][i].numerator, posts[k][i].denominator)
        rhs = flint.fmpq_mat(n, 1, [flint.fmpq(p.numerator, p.denominator)
                                    for p in g.prior_exact])
        try:
            tau = M.solve(rhs)
        except ZeroDivisionError:
            continue
        tau = [F(int(tau[c, 0].p), int(tau[c, 0].q)) for c in range(n)]
        if min(tau) < 0:
            continue
        v = sum((t * values[k] for t, k in zip(tau, subset)), F(0))
        best = v if best is None or v > best else best
    return best


@pytest.fixture(scope="session")
def brute_force_value():
    """The exact optimum by brute force over the bases of the posterior LP (no simplex,
    no HiGHS): an independent reference for small games."""
    return _brute_force_value


def _one_json_object(proc) -> dict:
    """A finished process's whole stdout parsed as one JSON object (the assertion shows
    what else was there)."""
    import json

    assert proc.returncode == 0, proc.stderr[-3000:]
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError:
        others = [line for line in proc.stdout.splitlines() if not line.startswith("{")]
        pytest.fail(f"stdout is not one JSON object; other lines on stdout: {others[:5]}")
    assert isinstance(out, dict)
    return out


@pytest.fixture(scope="session")
def one_json_object():
    """``one_json_object(proc)``: the command's stdout must be exactly one JSON object."""
    return _one_json_object
