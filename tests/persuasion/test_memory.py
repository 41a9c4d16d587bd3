"""The signaling LP's memory estimate and the size limit it is checked against.

* the size formula equals the LP that is built (dense utilities) and bounds it otherwise;
* the estimate bounds the peak memory of a real solve, measured in a fresh process;
* above the limit the solve refuses before anything is built, with the estimate in the
  message; the limit comes from ``max_memory``, ``$PERSUASION_MAX_MEMORY`` or the machine;
* the command line: exit 5 with one line and an empty stdout, exit 2 for a bad limit.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from persuasion import Game, GameValidationError, ProblemTooLargeError, ReceiverTypesGame
from persuasion import memory
from persuasion.signaling_lp import action_profiles, build_signaling_lp, solve_signaling_lp


def _random_game(n, m, seed=0):
    rng = np.random.default_rng([seed, n, m])
    return Game(rng.dirichlet(np.ones(n)), rng.random((n, m)), rng.random((n, m)))


@pytest.mark.parametrize("n,m,T", [(3, 4, 1), (7, 2, 1), (4, 3, 2), (2, 3, 3)])
def test_size_formula_matches_the_built_lp(n, m, T):
    rng = np.random.default_rng(n * 100 + m * 10 + T)
    U = rng.random((T, n, m))
    lp = build_signaling_lp(rng.dirichlet(np.ones(n)), rng.random((n, m)), U,
                            np.full(T, 1 / T), action_profiles(m, T))
    size = memory.signaling_lp_size(n, m, T)
    assert (size["variables"], size["rows"], size["nonzeros"]) == (lp.n_cols, lp.n_rows, lp.nnz)
    # zero utility differences drop entries: the formula is then an upper bound
    U[:, 0, :] = 0.5
    lp = build_signaling_lp(rng.dirichlet(np.ones(n)), rng.random((n, m)), U,
                            np.full(T, 1 / T), action_profiles(m, T))
    assert lp.nnz < size["nonzeros"]


def test_estimate_bounds_the_peak_memory_of_a_real_solve():
    """One 120 x 120 solve (1.7 million non-zeros) in a fresh interpreter: its peak
    resident memory (the child's own VmHWM, read by the child at its end, so that no
    earlier child of this test process can mask it) is below the estimate, and not far
    below it (an estimate 3x too high would refuse games this machine can solve)."""
    code = textwrap.dedent("""
        import numpy as np
        from persuasion import Game
        from persuasion.signaling_lp import solve_signaling_lp
        rng = np.random.default_rng([0, 120, 120])
        g = Game(rng.dirichlet(np.ones(120)), rng.random((120, 120)), rng.random((120, 120)))
        r = solve_signaling_lp(g, check_unique=False)
        # VmHWM: this process's own peak (ru_maxrss would carry the forking parent's over exec)
        hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        print(r.details["estimated_memory_bytes"], int(hwm.split()[1]) * 1024)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    estimate, peak = map(int, proc.stdout.split())
    assert estimate == memory.estimate_signaling_memory(120, 120)
    assert peak <= estimate, (peak, estimate)
    assert peak >= estimate / 3, (peak, estimate)


def test_refusal_comes_before_the_build(monkeypatch):
    import persuasion.signaling_lp as sl

    def boom(*args, **kwargs):
        raise AssertionError("the LP was built")

    monkeypatch.setattr(sl, "build_signaling_lp", boom)
    g = _random_game(30, 30)
    with pytest.raises(ProblemTooLargeError) as info:
        solve_signaling_lp(g, max_memory=2**20)
    message = str(info.value)
    est = memory.estimate_signaling_memory(30, 30)
    assert f"{est / 2**30:.3g} GiB" in message and "above the limit of 0.000977 GiB" in message
    assert "30 states, 30 actions" in message and "27,000 non-zeros" in message
    assert "--max-memory" in message


def test_below_the_limit_it_solves_and_reports_the_estimate():
    g = _random_game(6, 5)
    est = memory.estimate_signaling_memory(6, 5)
    r = solve_signaling_lp(g, max_memory=est)  # the limit is inclusive
    assert r.details["estimated_memory_bytes"] == est
    with pytest.raises(ProblemTooLargeError):
        solve_signaling_lp(g, max_memory=est - 1)


def test_receiver_types_count_every_action_profile():
    g = ReceiverTypesGame([0.5, 0.5], [[1, 0, 0], [0, 1, 0]],
                          [[[1, 0, 0], [0, 1, 0]], [[0, 1, 0], [1, 0, 0]]], [0.5, 0.5])
    est = memory.estimate_signaling_memory(2, 3, 2)
    assert memory.signaling_lp_size(2, 3, 2)["signals"] == 9
    with pytest.raises(ProblemTooLargeError, match="2 receiver types"):
        solve_signaling_lp(g, max_memory=est - 1)


def test_limit_sources(monkeypatch):
    monkeypatch.delenv(memory.MEMORY_ENV, raising=False)
    limit, source = memory.memory_limit()
    usable = memory.usable_memory()
    assert usable and usable > 2**28
    assert limit == pytest.approx(memory.DEFAULT_MEMORY_FRACTION * usable)
    assert "of this machine's" in source
    monkeypatch.setenv(memory.MEMORY_ENV, "1.5")
    assert memory.memory_limit() == (1.5 * 2**30, "$PERSUASION_MAX_MEMORY")
    assert memory.memory_limit(1000)[0] == 1000  # the argument wins
    for bad in ("abc", "0", "-2", "inf", "nan"):
        monkeypatch.setenv(memory.MEMORY_ENV, bad)
        with pytest.raises(GameValidationError, match="PERSUASION_MAX_MEMORY: must be a positive"):
            memory.memory_limit()
    for bad in (0, -1.0, "2", True):
        with pytest.raises(GameValidationError, match="max_memory"):
            memory.memory_limit(bad)


def _cli(*args, env_extra=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if k != memory.MEMORY_ENV}
    env.update(MPLBACKEND="Agg", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "persuasion_cli", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def game_file(tmp_path):
    n = m = 12
    rng = np.random.default_rng(3)
    path = tmp_path / "g.json"
    path.write_text(json.dumps({
        "states": [f"w{i}" for i in range(n)], "actions": [f"a{i}" for i in range(m)],
        "prior": [f"1/{n}"] * n, "sender_utility": rng.integers(0, 9, (n, m)).tolist(),
        "receiver_utility": rng.integers(0, 9, (n, m)).tolist()}))
    return str(path)


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
@pytest.mark.parametrize("method", ["signaling", "both"])
def test_cli_refuses_above_the_limit_with_exit_5(game_file, json_flag, method):
    proc = _cli("solve", game_file, "--method", method, "--max-memory", "0.0001", *json_flag)
    assert proc.returncode == 5, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("persuasion: error: the signaling LP")
    assert re.search(r"needs about [\d.]+ GiB, above the limit of 0\.0001 GiB", lines[0])


def test_cli_solves_below_the_limit_and_env_limit(game_file, one_json_object):
    out = one_json_object(_cli("solve", game_file, "--max-memory", "4", "--json"))
    assert out["details"]["estimated_memory_bytes"] == memory.estimate_signaling_memory(12, 12)
    proc = _cli("solve", game_file, env_extra={memory.MEMORY_ENV: "0.0001"})
    assert proc.returncode == 5 and "($PERSUASION_MAX_MEMORY)" in proc.stderr


@pytest.mark.parametrize("args,env,message", [
    (["--max-memory", "-1"], None, "--max-memory: must be a positive number of GiB"),
    (["--max-memory", "inf"], None, "--max-memory: must be a positive number of GiB"),
    (["--max-memory", "x"], None, "--max-memory: invalid float value"),
    (["--max-memory", "1", "--method", "posterior"], None, "applies only to --method"),
    ([], {memory.MEMORY_ENV: "lots"}, "PERSUASION_MAX_MEMORY: must be a positive number"),
])
def test_cli_bad_limits_exit_2(game_file, args, env, message):
    proc = _cli("solve", game_file, *args, env_extra=env)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""
