"""Ill-scaled games: never a silently wrong optimum (persuasion.scaling,
persuasion.verified_lp). Every value is compared with an exact reference that shares no
float code: the brute force over bases (conftest) or two-state concavification."""

import json
import subprocess
import sys
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import persuasion.verified_lp as vl
from persuasion import Game, load_game, solve
from persuasion.concavification import solve_concavification
from persuasion.errors import IllConditionedError
from persuasion.highs import solve_lp
from persuasion.scaling import scale_game, scale_utilities
from persuasion.signaling_lp import action_profiles, build_signaling_lp, dual_feasible_basis

PROSECUTOR = {"name": "prosecutor", "states": ["innocent", "guilty"],
              "actions": ["acquit", "convict"], "prior": [0.7, 0.3],
              "sender_utility": [[0, 1], [0, 1]]}


def prosecutor_with(receiver):
    return load_game(json.dumps({**PROSECUTOR, "receiver_utility": receiver}))


def raw_float_value(g):
    """What the solver returned before rescaling: HiGHS on the game's own floats."""
    lp = build_signaling_lp(g.prior, g.sender_utility, g.receiver_utilities,
                            g.type_probabilities, action_profiles(g.n_actions, g.n_types))
    return solve_lp(lp, start_basis=dual_feasible_basis(lp, g.n_states)).objective


def game_3x3(kind: str, seed: int) -> Game:
    rng = np.random.default_rng(seed)
    V = [[str(int(x)) for x in row] for row in rng.integers(-5, 6, (3, 3))]
    U = []
    for w in range(3):
        row = []
        for _ in range(3):
            x = F(int(rng.integers(-5, 6)))
            if kind == "span":  # 1e-6 .. 5e6
                x *= F(10) ** int(rng.integers(-6, 7))
            else:  # scaled by 1e-12 and shifted by a per-state constant of about 1e6
                x = x * F(1, 10**12) + F(10**6) * (w + 1)
            row.append(str(x))
        U.append(row)
    w = [int(x) for x in rng.integers(1, 10, 3)]
    return Game([F(x, sum(w)) for x in w], V, U)


# ------------------------------------------------------------- the issue's cases
@pytest.mark.parametrize("method", ["signaling", "posterior", "concavification"])
def test_receiver_utility_below_the_smallest_double(method):
    """1e-400 is a valid rational (read exactly) that is 0.0 as a double: the judge is
    the textbook one scaled down, value 3/5 (it was reported as 1.0, status optimal)."""
    g = prosecutor_with([["1e-400", 0], [0, "1e-400"]])
    assert g.receiver_utility.tolist() == [[0.0, 0.0], [0.0, 0.0]]  # as doubles
    assert raw_float_value(g) == pytest.approx(1.0)  # the old answer
    r = solve(g, method)
    assert r.value == pytest.approx(0.6, abs=1e-15)
    assert solve(g, method, certify=True).value_exact == F(3, 5) if method != "concavification" \
        else r.value_exact == F(3, 5)


@pytest.mark.parametrize("receiver,expected", [
    ([["1e-10", 0], [0, "1e-10"]], F(3, 5)),  # differences below 1e-9
    ([["1e10", 0], [0, "1e10"]], F(3, 5)),  # above 1e9
    ([["1e-10", 0], [0, "1e10"]], None),  # both at once: reference from concavification
    ([["1e-300", "-1e-300"], ["-1e300", "1e300"]], None),
])
def test_extreme_differences_are_valid_and_solved(receiver, expected):
    g = prosecutor_with(receiver)
    exact = solve_concavification(g).value_exact
    if expected is not None:
        assert exact == expected
    for method in ("signaling", "posterior"):
        r = solve(g, method, certify=True)
        assert r.certified and r.value_exact == exact
        assert solve(g, method).value == pytest.approx(float(exact), rel=1e-12)


@pytest.mark.parametrize("kind", ["span", "shift"])
def test_3x3_ill_scaled_games_match_the_brute_force(kind, brute_force_value):
    wrong_before = 0
    for seed in range(16):  # seed 14 of "span" broke the unscaled solve
        g = game_3x3(kind, seed)
        ref = brute_force_value(g)
        for method in ("signaling", "posterior"):
            r = solve(g, method)
            assert r.value == pytest.approx(float(ref), rel=1e-12, abs=1e-12), (seed, method)
        if abs(raw_float_value(g) - float(ref)) > 1e-9:
            wrong_before += 1
    # the families do break the unscaled float solve (so this test can fail)
    assert wrong_before >= 1


def test_issue_case_spanning_magnitudes_value_is_not_above_the_optimum(brute_force_value):
    """Receiver utilities from 1e-6 to 3e6: the float value must equal the exact one."""
    U = [["3e6", "1e-6", "2"], ["1e-6", "3e6", "5e-6"], ["7e-6", "0", "3e6"]]
    g = Game(["1/3", "1/3", "1/3"], [[0, 1, 2], [2, 0, 1], [1, 2, 0]], U)
    ref = brute_force_value(g)
    assert solve(g).value == pytest.approx(float(ref), rel=1e-12)


# ------------------------------------------------------------- the invariances
@given(data=st.data())
def test_rescaling_invariance_exact(game_specs, data):
    """Shifting the receiver's utility per state and scaling it, and shifting/scaling the
    sender's, maps the certified optimum exactly: k * value + sum_w mu0(w) d(w)."""
    spec = data.draw(game_specs(n_states=(2, 3), n_actions=(2, 3)))
    g = spec.game()
    n = g.n_states
    shift_u = [F(data.draw(st.integers(-10**6, 10**6))) for _ in range(n)]
    k_u = F(data.draw(st.integers(1, 10**6)), data.draw(st.integers(1, 10**12)))
    shift_v = [F(data.draw(st.integers(-50, 50))) for _ in range(n)]
    k_v = F(data.draw(st.integers(1, 1000)), data.draw(st.integers(1, 1000)))
    U = [[str(g.receiver_utility_exact[w, a] * k_u + shift_u[w]) for a in range(g.n_actions)]
         for w in range(n)]
    V = [[str(g.sender_utility_exact[w, a] * k_v + shift_v[w]) for a in range(g.n_actions)]
         for w in range(n)]
    h = Game([str(p) for p in g.prior_exact], V, U)
    base = solve(g, certify=True).value_exact
    mapped = solve(h, certify=True).value_exact
    assert mapped == k_v * base + sum((p * d for p, d in zip(g.prior_exact, shift_v)), F(0))
    assert solve(h).value == pytest.approx(float(mapped), rel=1e-9, abs=1e-9)


def test_scale_utilities_is_exact():
    U = np.array([[F(10**6) + F(1, 10**12), F(10**6), F(10**6) + F(3, 10**12)],
                  [F(-5), F(7), F(1, 3)]], dtype=object)
    scaled, shift, k = scale_utilities(U)
    for w in range(2):
        for a in range(3):
            assert k * scaled[w, a] + shift[w] == U[w, a]
    assert all(0 <= scaled[w, a] < 2 for w in range(2) for a in range(3))
    assert max(scaled.flat) >= 1  # the largest range maps into [1, 2)


def test_float_data_are_rescaled_in_floats_and_exact_data_when_needed():
    rng = np.random.default_rng(0)
    g = Game(rng.dirichlet(np.ones(30)), rng.random((30, 30)), rng.random((30, 30)))
    assert not scale_game(g).exact
    assert not prosecutor_with([[1, 0], [0, 1]]).scaling.exact
    assert prosecutor_with([["1e-400", 0], [0, "1e-400"]]).scaling.exact
    assert game_3x3("shift", 0).scaling.exact


# ------------------------------------------------------------- the float-check path
@pytest.mark.parametrize("kind", ["span", "shift"])
def test_float_check_path_on_ill_scaled_games(kind, brute_force_value, monkeypatch):
    """With the exact path of small LPs switched off, the float check either passes a
    solution that is right to 1e-7 (its stated tolerance is 1e-9 of the utility ranges
    on obedience, consistency and the duality gap), or sends the LP to the exact paths."""
    monkeypatch.setattr(vl, "AUTO_EXACT_ROWS", 0)
    hows = set()
    for seed in range(12):
        g = game_3x3(kind, seed)
        ref = float(brute_force_value(g))
        for method in ("signaling", "posterior"):
            r = solve(g, method)
            hows.add(r.details["verification"]["how"])
            assert r.value == pytest.approx(ref, rel=1e-7, abs=1e-9), (seed, method)
    assert "float check" in hows


def unresolvable_game(n: int) -> Game:
    """State 0's receiver utilities span 1e-15 of the others': a float solver with
    tolerances cannot tell its strict preferences from ties."""
    rng = np.random.default_rng(n)
    U = [[str(F(int(x), 10**15)) for x in rng.integers(0, 9, n)]]
    U += [[str(int(x)) for x in row] for row in rng.integers(0, 9, (n - 1, n))]
    V = [[str(int(x)) for x in row] for row in rng.integers(0, 9, (n, n))]
    return Game([F(1, n)] * n, V, U, name="unresolvable")


def test_unresolvable_small_game_is_solved_exactly(monkeypatch, brute_force_value):
    monkeypatch.setattr(vl, "AUTO_EXACT_ROWS", 0)  # as if it were large
    g = unresolvable_game(3)
    r = solve(g)
    assert r.details["verification"]["how"] in ("exact basis", "exact re-solve")
    assert r.value == pytest.approx(float(brute_force_value(g)), rel=1e-12)


def as_if_too_large_for_exact(monkeypatch):
    """The limits of a game too large for every exact step (no exact basis check, no
    certification, no exact simplex), on a small game."""
    monkeypatch.setattr(vl, "AUTO_EXACT_ROWS", 0)
    monkeypatch.setattr(vl, "MAX_CERTIFY_BASIS", 0)
    monkeypatch.setattr(vl, "MAX_EXACT_ROWS", 0)


def test_unresolvable_large_game_is_refused(monkeypatch):
    as_if_too_large_for_exact(monkeypatch)
    with pytest.raises(IllConditionedError, match="ill-conditioned.*finest preference"):
        solve(unresolvable_game(4))
    # a well-conditioned game under the same limits is answered (float check)
    r = solve(game_3x3("span", 1))
    assert r.details["verification"]["how"] == "float check"


def test_cli_refuses_an_ill_conditioned_large_game_with_exit_7(tmp_path, monkeypatch, capsys):
    from persuasion_cli import main

    as_if_too_large_for_exact(monkeypatch)
    path = tmp_path / "g.json"
    path.write_text(json.dumps(unresolvable_game(4).to_dict()))
    code = main(["solve", str(path), "--json"])
    out = capsys.readouterr()
    assert code == 7
    assert out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "ill-conditioned" in lines[0]


def test_cli_refuses_a_real_ill_conditioned_game_with_exit_7(tmp_path):
    """26 states and actions (676 rows, above the exact simplex's 600), state 0's
    preferences at 1e-16 of the range: HiGHS's basis fails its exact certificate, and no
    answer is given rather than an untrustworthy one."""
    path = tmp_path / "g.json"
    path.write_text(json.dumps(unresolvable_game(26).to_dict()))
    proc = subprocess.run([sys.executable, "-m", "persuasion_cli", "solve", str(path), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "ill-conditioned" in lines[0] and "finest preference" in lines[0]
