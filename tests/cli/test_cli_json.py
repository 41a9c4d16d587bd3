"""``persuasion regret --json`` as a user runs it: a real process whose stdout is one JSON object.

Each learner's entry carries ``bound``: the robust learner's high-probability regret bound at
the horizon (checked against :func:`theory.bounds.robust_regret_bound` computed here), null for
learners without a derived bound and for games with receiver types.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GAMES = Path(__file__).resolve().parents[2] / "persuasion" / "games"


def _regret(*args, timeout=120):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "persuasion_cli", "regret", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_regret_json_is_one_object_with_a_bound_per_learner(one_json_object):
    from persuasion.game import load_game
    from theory.bounds import robust_regret_bound

    proc = _regret(str(GAMES / "prosecutor.json"), "--learner", "robust,plugin,full",
                   "--horizon", "300", "--seeds", "2", "--workers", "1", "--json")
    s = one_json_object(proc)
    assert list(s["learners"]) == ["robust", "plugin", "full"]
    for name, entry in s["learners"].items():
        assert "bound" in entry, name
    robust = s["learners"]["robust"]
    expected = robust_regret_bound(load_game(GAMES / "prosecutor.json"), 300, delta=0.05,
                                   growth=2.0).high_probability[-1]
    assert robust["bound"] == pytest.approx(float(expected), rel=1e-9)
    assert robust["bound"] == s["bound"] == s["bound_curve"][-1][1]
    assert robust["final_regret_mean"] <= robust["bound"]  # the bound holds on these runs
    assert s["learners"]["plugin"]["bound"] is None and s["learners"]["full"]["bound"] is None
    # the full-revelation learner's regret is exactly T * (OPT - V_F) = 300 * (3/5 - 3/10)
    assert s["learners"]["full"]["final_regret_mean"] == pytest.approx(90.0)


def test_regret_json_bound_is_null_for_receiver_types(one_json_object):
    proc = _regret(str(GAMES / "receiver_types.json"), "--learner", "robust,full",
                   "--horizon", "200", "--seeds", "1", "--workers", "1", "--json")
    s = one_json_object(proc)
    assert s["bound"] is None
    assert {name: e["bound"] for name, e in s["learners"].items()} == {"robust": None, "full": None}


# ------------------------------------------------------------ solve and verify
def _cli(*args, timeout=300, stdin=None):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "persuasion_cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("method", ["signaling", "posterior", "concavification", "both"])
@pytest.mark.parametrize("exact", [False, True])
def test_solve_json_is_the_whole_stdout(method, exact, one_json_object):
    args = ["solve", str(GAMES / "prosecutor.json"), "--method", method, "--json"]
    s = one_json_object(_cli(*args, *(["--exact"] if exact else [])))
    assert s["value"] == pytest.approx(0.6)
    assert s["certified"] is (exact or method == "concavification")


def test_solve_json_from_standard_input(one_json_object):
    text = (GAMES / "three_state.json").read_text()
    s = one_json_object(_cli("solve", "-", "--json", stdin=text))
    assert s["value"] == pytest.approx(1.4)


def test_installed_console_script_json(one_json_object):
    """The `persuasion` script pip installed (console_main, with the stdout guard)."""
    import shutil

    exe = shutil.which("persuasion", path=os.path.dirname(sys.executable)) or shutil.which(
        "persuasion")
    if exe is None:
        pytest.skip("the persuasion console script is not installed in this environment")
    proc = subprocess.run([exe, "solve", str(GAMES / "receiver_types.json"), "--json",
                           "--method", "both", "--exact"], capture_output=True, text=True,
                          timeout=300)
    assert one_json_object(proc)["value_exact"] == "2/3"


def test_verify_json_is_the_whole_stdout(tmp_path):
    """A short verify run (its slope check needs T >= 1e4, so it may report a failing
    check, exit 1): stdout is still exactly one JSON object with every check."""
    proc = _cli("verify", "--games", "3", "--horizon", "3000", "--seeds", "1",
                "--out", str(tmp_path / "report"), "--json")
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    s = json.loads(proc.stdout)
    assert isinstance(s["passed"], bool) and (proc.returncode == 0) == s["passed"]
    assert len(s["checks"]) >= 5
    assert all({"name", "figure", "passed"} <= set(c) for c in s["checks"])
    assert (tmp_path / "report" / "report.md").exists()


def test_highs_prints_nothing_on_stdout_in_a_fresh_interpreter():
    """highspy 1.16 writes a banner to file descriptor 1 at its first Highs(); the library
    silences it (and nothing else) without the CLI's guard."""
    code = ("from persuasion import load_game, solve\n"
            f"g = load_game({str(GAMES / 'three_state.json')!r})\n"
            "for m in ('signaling', 'posterior', 'signaling'):\n"
            "    solve(g, m, certify=True)\n"
            "import highspy; highspy.Highs()\n"
            "print('done')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done\n"
