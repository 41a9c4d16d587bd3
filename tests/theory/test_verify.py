"""`persuasion verify`: every check passes on a reduced run, and the report is written."""

import json

from persuasion_cli import main


def test_verify_reduced_run_passes_and_writes_report(tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["verify", "--out", str(out), "--games", "12", "--horizon", "20000",
                 "--seeds", "2"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    results = json.loads((out / "results.json").read_text())
    names = [c["name"] for c in results["checks"]]
    assert len(names) == 7 and all(c["passed"] for c in results["checks"])
    report = (out / "report.md").read_text()
    assert report.count("| PASS |") == 7
    assert sorted(p.name for p in out.glob("regret_*.png")) == [
        "regret_prosecutor.png", "regret_random-4x4.png", "regret_stock-analyst.png"]
    assert "FAIL" not in printed


def test_verify_bad_option(capsys):
    assert main(["verify", "--games", "0"]) == 2
    assert "--games" in capsys.readouterr().err


def test_verify_regret_runs_on_dask_give_the_same_report(tmp_path, capsys):
    """``--executor dask:local``: the regret runs are one sweep on a local Dask cluster; every
    check's figure is the same as in local processes, and the runs file resumes (a rerun
    computes no run: the file does not grow)."""
    import pytest

    pytest.importorskip("distributed", reason="the dask extra is not installed")
    args = ["--games", "4", "--horizon", "20000", "--seeds", "2"]
    figures = {}
    for spec in ("local", "dask:local"):
        out = tmp_path / spec.replace(":", "-")
        assert main(["verify", "--out", str(out), *args, "--executor", spec, "--workers", "2"]) == 0
        figures[spec] = [c["figure"] for c in json.loads((out / "results.json").read_text())["checks"]]
    assert figures["local"] == figures["dask:local"]
    runs = tmp_path / "local" / "regret_runs.jsonl"
    size = runs.stat().st_size
    assert main(["verify", "--out", str(tmp_path / "local"), *args]) == 0
    assert runs.stat().st_size == size
    capsys.readouterr()


def test_verify_bad_executor_is_one_line(capsys):
    assert main(["verify", "--executor", "nonsense"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("persuasion: error: --executor:")


def test_verify_refuses_workers_for_a_running_cluster(tmp_path, capsys):
    """``--workers`` with a running cluster would be ignored (its size is its own): one line,
    before any check runs (no report folder)."""
    import pytest

    pytest.importorskip("distributed", reason="the dask extra is not installed")
    out = tmp_path / "report"
    assert main(["verify", "--out", str(out), "--executor", "dask:tcp://127.0.0.1:8786",
                 "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("persuasion: error: --workers: "), err
    assert "dask:tcp://127.0.0.1:8786 is a running cluster whose size is its own" in err[0]
    assert not out.exists()
