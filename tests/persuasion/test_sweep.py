"""Sweeps: results appended as they complete; an interrupted sweep resumes without
losing or duplicating runs; the `persuasion regret` command's JSON."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from persuasion import Game
from persuasion_cli import main
from persuasion.online.sweep import make_tasks, read_results, run_sweep, task_key

PROSECUTOR = Game(["7/10", "3/10"], [[0, 1], [0, 1]], [[1, 0], [0, 1]],
                  states=["innocent", "guilty"], actions=["acquit", "convict"], name="prosecutor")
GAME2 = Game(["1/2", "1/2"], [[1, 0], [0, 1]], [[0, 1], [1, 0]], name="opposed")


def keys_in(path):
    return [json.loads(line)["key"] for line in open(path) if line.strip()]


def test_tasks_have_stable_unique_keys():
    tasks = make_tasks([PROSECUTOR, GAME2], ["robust", "full"], 100, range(3))
    assert len({t["key"] for t in tasks}) == 12
    again = make_tasks([PROSECUTOR, GAME2], ["robust", "full"], 100, range(3))
    assert [t["key"] for t in tasks] == [t["key"] for t in again]
    assert task_key({**tasks[0], "seed": 99}) != tasks[0]["key"]


def test_sweep_runs_each_task_once_and_resumes(tmp_path):
    path = tmp_path / "runs.jsonl"
    tasks = make_tasks([PROSECUTOR, GAME2], ["robust", "full"], 500, range(3))
    first = run_sweep(tasks[:5], path, executor=ThreadPoolExecutor(2), progress=False)
    assert len(first) == 5 and len(keys_in(path)) == 5
    calls = []

    def counting(task):
        from persuasion.online.sweep import run_task
        calls.append(task["key"])
        return run_task(task)

    allrecs = run_sweep(tasks, path, executor=ThreadPoolExecutor(2), progress=False,
                        task_fn=counting)
    assert sorted(calls) == sorted(t["key"] for t in tasks[5:])  # only the missing ones
    assert len(allrecs) == len(tasks)
    assert sorted(keys_in(path)) == sorted(t["key"] for t in tasks)  # no duplicates
    # a third run does nothing
    calls.clear()
    run_sweep(tasks, path, executor=ThreadPoolExecutor(2), progress=False, task_fn=counting)
    assert calls == []


def test_truncated_last_line_is_repaired(tmp_path):
    path = tmp_path / "runs.jsonl"
    tasks = make_tasks([PROSECUTOR], ["full"], 200, range(4))
    run_sweep(tasks[:2], path, executor=ThreadPoolExecutor(1), progress=False)
    with open(path, "a") as f:  # an interrupted write: half a record, no newline
        f.write('{"key": "' + tasks[2]["key"] + '", "learner": "fu')
    recs = run_sweep(tasks, path, executor=ThreadPoolExecutor(1), progress=False)
    assert len(recs) == 4
    lines = open(path).read().splitlines()
    assert len(lines) == 4 and all(json.loads(x) for x in lines)
    assert sorted(keys_in(path)) == sorted(t["key"] for t in tasks)


@pytest.mark.slow
def test_killed_sweep_loses_and_duplicates_nothing(tmp_path):
    """Interrupt a real process-pool sweep with SIGINT after a few results, then rerun."""
    script = tmp_path / "sweep.py"
    # the slow task must be importable by the worker processes: put it in a module
    mod = tmp_path / "slowtask.py"
    mod.write_text("import time\nfrom persuasion.online.sweep import run_task\n"
                   "def slow(task):\n    time.sleep(0.4)\n    return run_task(task)\n")
    script.write_text(
        "import sys\nsys.path.insert(0, %r)\n" % str(tmp_path)
        + "from slowtask import slow\n"
        + "from persuasion import Game\nfrom persuasion.online.sweep import make_tasks, run_sweep, run_task\n"
        + "g = Game(['7/10', '3/10'], [[0, 1], [0, 1]], [[1, 0], [0, 1]], name='p')\n"
        + "tasks = make_tasks([g], ['robust'], 20000, range(int(sys.argv[2])))\n"
        + "run_sweep(tasks, sys.argv[1], max_workers=2, progress=False, "
          "task_fn=slow if sys.argv[3] == 'slow' else run_task)\n")
    path = tmp_path / "runs.jsonl"
    n = 16
    proc = subprocess.Popen([sys.executable, str(script), str(path), str(n), "slow"],
                            start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if path.exists() and len(keys_in(path)) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the hardest interruption: no cleanup at all
    proc.wait()
    done_before = keys_in(path) if path.exists() else []
    assert 3 <= len(done_before) < n
    subprocess.run([sys.executable, str(script), str(path), str(n), "fast"], check=True,
                   timeout=120)
    keys = keys_in(path)
    assert len(keys) == n and len(set(keys)) == n
    assert keys[:len(done_before)] == done_before  # nothing lost or rewritten
    assert len(read_results(path)) == n


def test_regret_cli_json_schema(tmp_path, capsys):
    game = tmp_path / "p.json"
    game.write_text(json.dumps(PROSECUTOR.to_dict()))
    out = tmp_path / "out"
    code = main(["regret", str(game), "--learner", "robust,full", "--horizon", "3000",
                 "--seeds", "3", "--out", str(out), "--json", "--workers", "2"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in ("optimal_value", "horizon", "seeds", "final_regret_mean", "final_regret_std",
                "violations", "slope", "bound", "curve"):
        assert key in d, key
    assert d["optimal_value"] == pytest.approx(0.6)
    assert d["horizon"] == 3000 and d["seeds"] == 3 and d["learner"] == "robust"
    assert d["violations"] == 0
    assert isinstance(d["bound"], float) and d["bound"] > d["final_regret_mean"]
    assert d["curve"][-1][0] == 3000 and all(len(p) == 2 for p in d["curve"])
    ts = [p[0] for p in d["curve"]]
    assert ts == sorted(ts) and ts[0] >= 1
    assert len(d["learners"]["robust"]["realised_curve_std"]) == len(d["curve"])
    assert d["learners"]["full"]["final_regret_mean"] == pytest.approx(3000 * 0.3)
    assert (out / "runs.jsonl").exists() and (out / "summary.json").exists()
    assert (out / "regret.png").stat().st_size > 10_000
    assert len(keys_in(out / "runs.jsonl")) == 6
    # rerun: resumes, nothing added
    main(["regret", str(game), "--learner", "robust,full", "--horizon", "3000",
          "--seeds", "3", "--out", str(out), "--json"])
    capsys.readouterr()
    assert len(keys_in(out / "runs.jsonl")) == 6


@pytest.mark.parametrize("argv, field", [
    (["--learner", "greedy"], "--learner"),
    (["--horizon", "0"], "--horizon"),
    (["--seeds", "0"], "--seeds"),
    (["--delta", "2"], "--delta"),
])
def test_regret_cli_bad_options(tmp_path, capsys, argv, field):
    game = tmp_path / "p.json"
    game.write_text(json.dumps(PROSECUTOR.to_dict()))
    code = main(["regret", str(game), *argv])
    err = capsys.readouterr().err
    assert code == 2 and field in err and "Traceback" not in err
