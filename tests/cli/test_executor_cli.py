"""``persuasion regret --executor``, run as a real process: one-line errors with exit code 2
for bad specs, a missing optional package and unreachable schedulers; the same runs on a
Dask cluster as in local processes, with a progress bar. Loopback only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from persuasion import Game

PROSECUTOR = Game(["7/10", "3/10"], [[0, 1], [0, 1]], [[1, 0], [0, 1]], name="prosecutor")


@pytest.fixture
def game(tmp_path):
    path = tmp_path / "prosecutor.json"
    path.write_text(json.dumps(PROSECUTOR.to_dict()))
    return path


def regret(game, *argv, env=None, timeout=120):
    """``persuasion regret GAME ...`` as a process; returns (exit code, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "persuasion_cli", "regret", str(game),
                        "--horizon", "300", "--seeds", "2", *argv],
                       capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})})
    return p.returncode, p.stdout, p.stderr


def assert_one_line_error(code, out, err, *says, option="--executor"):
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"persuasion: error: {option}: "), err
    for text in says:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize("spec, says", [
    ("bogus", "'bogus' is not an executor (expected local, dask:local, dask:tcp://HOST:PORT, "
              "ray:local or ray:ADDRESS)"),
    ("local:2", "is not an executor"),
    ("dask:tcp://127.0.0.1", "the address is not HOST:PORT"),
    ("ray:", "is not an executor"),
])
def test_bad_spec(game, spec, says):
    assert_one_line_error(*regret(game, "--executor", spec), says)


def test_missing_optional_package(game, tmp_path):
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    # a package named distributed that fails to import stands in for a missing one
    stub = tmp_path / "stub" / "distributed"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named "
                                      "'distributed'\", name='distributed')\n")
    code, out, err = regret(game, "--executor", "dask:local", "--out", str(tmp_path / "o"),
                            env={"PYTHONPATH": str(stub.parent)})
    assert_one_line_error(code, out, err, "dask:local needs the optional package distributed "
                                          "(pip install 'persuasion[dask]')")
    assert not (tmp_path / "o").exists()  # refused before anything ran


def _free_port():
    with socket.socket() as s:  # a free port: nobody listens there once it is closed
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler(game, tmp_path):
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    port = _free_port()
    out = tmp_path / "out"
    assert_one_line_error(*regret(game, "--executor", f"dask:tcp://127.0.0.1:{port}",
                                  "--out", str(out)),
                          f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert not out.exists()  # no empty results folder left behind


def test_workers_refused_for_a_running_cluster(game, tmp_path):
    """--workers cannot size a cluster that is already running: refused in one line before
    anything connects, not silently ignored; the library refuses the same (field workers)."""
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    from persuasion.errors import GameValidationError
    from persuasion.online.sweep import make_tasks, run_sweep

    spec = f"dask:tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "out"
    assert_one_line_error(*regret(game, "--executor", spec, "--workers", "2", "--out", str(out)),
                          f"{spec} is a running cluster whose size is its own",
                          "local, dask:local and ray:local only", option="--workers")
    assert not out.exists()
    tasks = make_tasks([PROSECUTOR], ["robust"], 50, [0], {})
    with pytest.raises(GameValidationError) as info:
        run_sweep(tasks, out / "runs.jsonl", executor=spec, max_workers=2, progress=False)
    assert info.value.field == "workers"
    assert not out.exists()


def test_silent_scheduler_times_out(game):
    """A port that accepts connections and never answers: an error after the connect
    timeout (5 s), not a hang."""
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        port = s.getsockname()[1]
        t0 = time.perf_counter()
        code, out, err = regret(game, "--executor", f"dask:tcp://127.0.0.1:{port}", timeout=60)
        seconds = time.perf_counter() - t0
    assert_one_line_error(code, out, err, f"tcp://127.0.0.1:{port}",
                          "no Dask scheduler answered within 5 s")
    assert 4 < seconds < 40


def _runs(path):
    recs = [json.loads(line) for line in open(path) if line.strip()]
    return {r["key"]: json.dumps({k: v for k, v in r.items() if k != "seconds"}, sort_keys=True)
            for r in recs}


def test_dask_local_gives_the_local_numbers(game, tmp_path):
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    code, out, err = regret(game, "--learner", "robust,plugin", "--out", str(tmp_path / "a"),
                            "--json", "--workers", "2")
    assert code == 0, err
    local = json.loads(out)
    code, out, err = regret(game, "--learner", "robust,plugin", "--out", str(tmp_path / "b"),
                            "--executor", "dask:local", "--workers", "2")
    assert code == 0, err
    assert "runs (dask:local)" in err and "/4" in err  # the progress bar, on stderr
    assert out.startswith("game prosecutor: OPT = 0.6, T = 300, 2 seeds")
    a, b = _runs(tmp_path / "a" / "runs.jsonl"), _runs(tmp_path / "b" / "runs.jsonl")
    assert len(a) == 4 and a == b
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    for name in ("robust", "plugin"):
        for field in ("final_regret_mean", "final_regret_std", "violations", "curve", "bound"):
            assert summary["learners"][name][field] == local["learners"][name][field]


def test_workers_must_be_positive(game):
    code, out, err = regret(game, "--workers", "0")
    assert code == 2 and out == "" and "--workers: must be a positive integer" in err
    assert len(err.strip().splitlines()) == 1
