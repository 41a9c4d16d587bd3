"""The bundled teaching games, their recorded exact optima, and the example scripts."""

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from persuasion import solve, solve_both
from persuasion.errors import GameValidationError
from persuasion.games import builtin_games, load_builtin

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GAMES = ROOT / "persuasion" / "games"
NAMES = ["prosecutor", "receiver_types", "three_state"]

# Recorded exact optima: value, and per signal (probability, posterior, action).
OPTIMA = {
    "prosecutor": (Fraction(3, 5), [
        (Fraction(2, 5), (Fraction(1), Fraction(0)), "acquit"),
        (Fraction(3, 5), (Fraction(1, 2), Fraction(1, 2)), "convict"),
    ]),
    "three_state": (Fraction(7, 5), [
        (Fraction(3, 20), (Fraction(1), Fraction(0), Fraction(0)), "sell"),
        (Fraction(3, 10), (Fraction(1, 3), Fraction(2, 3), Fraction(0)), "hold"),
        (Fraction(11, 20), (Fraction(5, 11), Fraction(2, 11), Fraction(4, 11)), "buy"),
    ]),
    "receiver_types": (Fraction(2, 3), [
        (Fraction(2, 3), (Fraction(4, 5), Fraction(1, 5)), ("convict", "acquit")),
        (Fraction(1, 3), (Fraction(1, 2), Fraction(1, 2)), ("convict", "convict")),
    ]),
}


def test_builtin_games_listed():
    assert builtin_games() == NAMES
    assert sorted(p.stem for p in GAMES.glob("*.json")) == NAMES


def test_examples_hold_no_copy_of_the_games():
    """One copy of each game, the package data; the scripts load it by name."""
    assert not list(EXAMPLES.glob("*.json"))
    for name in NAMES:
        script = (EXAMPLES / f"{name}.py").read_text()
        assert "load_builtin(GAME)" in script and f'GAME = "{name}"' in script


@pytest.mark.parametrize("name", NAMES)
def test_game_files_are_valid(name):
    data = json.loads((GAMES / f"{name}.json").read_text())
    assert isinstance(data["description"], str) and "\n" not in data["description"]
    game = load_builtin(name)
    assert game.description == data["description"]
    assert load_builtin(name + ".json").to_dict() == game.to_dict()


def test_prosecutor_is_the_textbook_fixture():
    g = load_builtin("prosecutor")
    assert g.states == ("innocent", "guilty") and g.actions == ("acquit", "convict")
    assert g.prior_exact == (Fraction(7, 10), Fraction(3, 10))
    assert g.sender_utility_exact.tolist() == [[0, 1], [0, 1]]
    assert g.receiver_utility_exact.tolist() == [[1, 0], [0, 1]]


def test_unknown_builtin():
    with pytest.raises(GameValidationError) as exc:
        load_builtin("no_such_game")
    assert exc.value.field == "game" and "prosecutor" in str(exc.value)


@pytest.mark.parametrize("name", NAMES)
def test_recorded_exact_optimum(name):
    value, signals = OPTIMA[name]
    game = load_builtin(name)
    post, sig = solve_both(game, certify=True)
    for res in (post, sig):
        assert res.certified and res.value_exact == value
        got = sorted((s.probability_exact, s.posterior_exact, s.action_name) for s in res.signals)
        assert got == sorted(signals)
    if game.n_states == 2:
        assert solve(game, "concavification").value_exact == value


def test_three_state_is_non_trivial():
    """Neither full revelation nor no information is optimal."""
    import numpy as np

    from persuasion import evaluate_scheme

    g = load_builtin("three_state")
    assert evaluate_scheme(g, np.eye(3)).sender_value == pytest.approx(0.7)
    assert evaluate_scheme(g, np.ones((3, 1))).sender_value == pytest.approx(0.0)
    assert OPTIMA["three_state"][0] > Fraction(7, 10)


def test_types_optimum_differs_from_each_type_alone():
    import numpy as np

    from persuasion import Game, evaluate_scheme

    g = load_builtin("receiver_types")
    alone = {}
    for t, name in enumerate(g.type_names):
        single = Game(list(g.prior_exact), g.sender_utility_exact,
                      np.asarray(g.receiver_utilities_exact[t]), states=g.states, actions=g.actions)
        alone[name] = solve(single, "posterior", certify=True)
    assert alone["lenient"].value_exact == 1 and alone["strict"].value_exact == Fraction(3, 5)
    value = OPTIMA["receiver_types"][0]
    assert value not in (alone["lenient"].value_exact, alone["strict"].value_exact)
    # the single-type optima earn less against the mixture
    assert evaluate_scheme(g, np.ones((2, 1))).sender_value == pytest.approx(0.5)
    assert evaluate_scheme(g, alone["strict"].scheme).sender_value == pytest.approx(0.6)


def run_script(name, cwd, *args):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", NAMES)
def test_example_script_runs(name, tmp_path):
    out = tmp_path / "plots"
    proc = run_script(name, tmp_path, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    png = out / f"{name}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    value = OPTIMA[name][0]
    assert f"optimal value {value} (certified)" in proc.stdout
    assert "method: posterior" in proc.stdout and "method: signaling" in proc.stdout


def test_example_default_output_folder(tmp_path):
    proc = run_script("prosecutor", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "examples-output" / "prosecutor.png").is_file()
