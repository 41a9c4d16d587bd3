"""The command-line interface: JSON schema, exit codes, one-line errors (no tracebacks)."""

import json
import subprocess
import sys
from fractions import Fraction

import pytest

from persuasion_cli import main

PROSECUTOR = {
    "name": "prosecutor", "states": ["innocent", "guilty"], "actions": ["acquit", "convict"],
    "prior": [0.7, 0.3], "sender_utility": [[0, 1], [0, 1]],
    "receiver_utility": [[1, 0], [0, 1]],
}
THREE = {
    "name": "three", "states": ["a", "b", "c"], "actions": ["x", "y", "z"],
    "prior": ["1/2", "1/3", "1/6"], "sender_utility": [[0, 1, 2], [0, 1, 2], [0, 1, 2]],
    "receiver_utility": [[3, 0, 0], [0, 2, 1], [0, 0, 1]],
}
TYPES = {
    "name": "types", "states": ["innocent", "guilty"], "actions": ["acquit", "convict"],
    "prior": ["7/10", "3/10"], "sender_utility": [[0, 1], [0, 1]],
    "receiver_types": [
        {"name": "lenient", "probability": "1/2", "utility": [[1, 0], [0, 3]]},
        {"name": "strict", "probability": "1/2", "utility": [[3, 0], [0, 1]]},
    ],
}


def write(tmp_path, data, name="game.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("method", ["signaling", "posterior", "concavification", "both"])
def test_solve_json_schema_prosecutor(tmp_path, capsys, method):
    code, out, err = run(["solve", write(tmp_path, PROSECUTOR), "--method", method, "--json",
                          "--exact"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["method"] == method
    assert d["value"] == pytest.approx(0.6, abs=1e-12)
    assert d["value_exact"] == "3/5" and d["certified"] is True
    assert Fraction(d["value_exact"]) == Fraction(3, 5)
    sig = sorted(d["signals"], key=lambda s: s["posterior"][1])
    assert [s["action"] for s in sig] == ["acquit", "convict"]
    assert [s["probability"] for s in sig] == pytest.approx([0.4, 0.6])
    assert [s["posterior"][1] for s in sig] == pytest.approx([0.0, 0.5])
    assert len(d["scheme"]) == 2 and all(len(row) == len(d["signals"]) for row in d["scheme"])
    assert all(abs(sum(row) - 1) < 1e-12 for row in d["scheme"])
    if method == "both":
        assert d["agreement"]["difference"] < 1e-9 and d["agreement"]["exact_equal"] is True
    assert err == ""


def test_solve_without_exact_has_no_exact_value(tmp_path, capsys):
    code, out, _ = run(["solve", write(tmp_path, THREE), "--json"], capsys)
    d = json.loads(out)
    assert code == 0 and d["certified"] is False and "value_exact" not in d
    assert {"value", "method", "signals", "scheme"} <= set(d)


def test_types_game_json(tmp_path, capsys):
    code, out, err = run(["solve", write(tmp_path, TYPES), "--method", "both", "--exact", "--json"],
                         capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["types"] == ["lenient", "strict"]
    assert all(isinstance(s["action"], list) and len(s["action"]) == 2 for s in d["signals"])


def test_human_output(tmp_path, capsys):
    code, out, _ = run(["solve", write(tmp_path, PROSECUTOR), "--method", "both"], capsys)
    assert code == 0
    assert "sender value: 0.6" in out and "both methods agree" in out


@pytest.mark.parametrize("data, field", [
    ({**PROSECUTOR, "prior": [0.6, 0.3]}, "prior"),
    ({**PROSECUTOR, "prior": [1.2, -0.2]}, "prior[1]"),
    ({**PROSECUTOR, "receiver_utility": [[1, 0]]}, "receiver_utility"),
    ({**PROSECUTOR, "sender_utility": [[0, "x"], [0, 1]]}, "sender_utility[0][1]"),
    ({**PROSECUTOR, "states": ["a", "a"]}, "states"),
    ({**PROSECUTOR, "colour": "red"}, "colour"),
    ("{not json", "game.json"),
])
def test_invalid_input_one_line_exit_2(tmp_path, capsys, data, field):
    code, out, err = run(["solve", write(tmp_path, data), "--json"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert field in err


def test_missing_file_and_bad_options(tmp_path, capsys):
    code, _, err = run(["solve", str(tmp_path / "nope.json")], capsys)
    assert code == 2 and "file not found" in err
    code, _, err = run(["solve", write(tmp_path, THREE), "--method", "concavification"], capsys)
    assert code == 2 and "2 states" in err
    with pytest.raises(SystemExit) as exc:
        main(["solve", write(tmp_path, THREE), "--method", "simplex"])
    assert exc.value.code == 2
    code, _, err = run(["solve", write(tmp_path, THREE), "--max-vertices", "0",
                        "--method", "posterior"], capsys)
    assert code == 2 and "--max-vertices" in err


def test_too_large_exit_5(tmp_path, capsys):
    code, _, err = run(["solve", write(tmp_path, THREE), "--method", "posterior",
                        "--max-vertices", "2"], capsys)
    assert code == 5 and "signaling" in err


def test_console_script_subprocess(tmp_path):
    """The installed entry point: no traceback on bad input, JSON on good input."""
    bad = write(tmp_path, {**PROSECUTOR, "prior": [0.5, 0.6]}, "bad.json")
    p = subprocess.run([sys.executable, "-m", "persuasion_cli", "solve", bad],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "prior" in p.stderr
    good = write(tmp_path, PROSECUTOR)
    p = subprocess.run([sys.executable, "-m", "persuasion_cli", "solve", good, "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout)["value"] == pytest.approx(0.6)


@pytest.mark.parametrize("game, ext", [(PROSECUTOR, "png"), (THREE, "svg"), (TYPES, "pdf")])
def test_solve_plot_file(tmp_path, capsys, game, ext):
    out = tmp_path / f"plot.{ext}"
    code, stdout, err = run(["solve", write(tmp_path, game), "--method", "posterior",
                             "--plot", str(out)], capsys)
    assert code == 0, err
    assert out.stat().st_size > 5_000 and "plot written" in stdout


def test_solve_plot_bad_extension(tmp_path, capsys):
    code, out, err = run(["solve", write(tmp_path, PROSECUTOR), "--plot",
                          str(tmp_path / "x.jpg")], capsys)
    assert code == 2 and err.startswith("persuasion: error: --plot:") and "Traceback" not in err
    assert "plot: plot" not in err


def test_readme_lists_exactly_the_exit_codes():
    """The README's exit-code table and persuasion_cli.exits.EXIT_CODES are the same set."""
    import re
    from pathlib import Path

    from persuasion_cli.exits import EXIT_CODES

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = text[text.index("**Exit codes**"):]
    table = table[:table.index("\n\n", table.index("| 0 |"))]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, flags=re.M)}
    assert documented == set(EXIT_CODES)
