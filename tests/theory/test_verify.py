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
