"""Hostile game files: every one ends in a documented exit code with one line on stderr
that names the field, nothing on stdout, no traceback, and no hang.

Two layers: the cases a user reported, each run as a real process (``python -m
persuasion_cli solve FILE --json``), and a Hypothesis fuzz of mutated game files run
through :func:`persuasion_cli.main` in-process (many more cases than processes allow)."""

import json
import os
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persuasion_cli import main

BASE = {"name": "p", "states": ["innocent", "guilty"], "actions": ["acquit", "convict"],
        "prior": [0.7, 0.3], "sender_utility": [[0, 1], [0, 1]],
        "receiver_utility": [[1, 0], [0, 1]]}
BASE_TEXT = json.dumps(BASE)
DOCUMENTED_EXITS = {0, 2, 3, 4, 5, 7}


def with_receiver(text: str) -> str:
    return BASE_TEXT.replace('"receiver_utility": [[1, 0], [0, 1]]', f'"receiver_utility": {text}')


HOSTILE = {
    # id: (file text, the field the message must name, words in the message)
    "huge-literal": (with_receiver("[[1e400, 0], [0, 1]]"), "receiver_utility[0][0]", "too large"),
    "huge-negative": (with_receiver("[[-1e309, 0], [0, 1]]"), "receiver_utility[0][0]", "too large"),
    "4400-digits": (with_receiver("[[%s, 0], [0, 1]]" % ("7" * 4400)), "receiver_utility[0][0]",
                    "digits"),
    "exponent-bomb": (with_receiver("[[1e99999999, 0], [0, 1]]"), "receiver_utility[0][0]",
                      "exponent"),
    "exponent-bomb-string": (with_receiver('[["1e99999999", 0], [0, 1]]'),
                             "receiver_utility[0][0]", "exponent"),
    "fraction-digits": (with_receiver('[["1/%s", 0], [0, 1]]' % ("3" * 2000)),
                        "receiver_utility[0][0]", "digits"),
    "nested-60": (with_receiver("[" * 60 + "1" + "]" * 60), None, "nested"),
    "nested-6000": (with_receiver("[" * 6000 + "1" + "]" * 6000), None, "nested"),
    "ragged-nesting": (with_receiver("[[[[[1]]]], [0, 1]]"), "receiver_utility", "ragged"),
    "nested-in-matrix": (with_receiver("[[[1, 0]], [[0, 1]]]"), "receiver_utility", "dimension"),
    "lone-surrogate": (BASE_TEXT.replace('"innocent"', '"\\ud800"'), "states[0]", "printable"),
    "nul-in-name": (BASE_TEXT.replace('"innocent"', '"a\\u0000b"'), "states[0]", "printable"),
    "newline-in-name": (BASE_TEXT.replace('"guilty"', '"x\\ny"'), "states[1]", "printable"),
    "escape-code-name": (BASE_TEXT.replace('"acquit"', '"\\u001b[31mred"'), "actions[0]",
                         "printable"),
    "escape-code-game-name": (BASE_TEXT.replace('"name": "p"', '"name": "\\u001b[2J"'), "name",
                              "printable"),
    "escape-code-key": (BASE_TEXT.replace('"name"', '"\\u001b[2Jname"'), "\\x1b[2Jname",
                        "unknown key"),
    "duplicate-key": (BASE_TEXT.replace('"prior": [0.7, 0.3]',
                                        '"prior": [0.7, 0.3], "prior": [0.5, 0.5]'), "prior",
                      "duplicate"),
    "nan": (with_receiver("[[NaN, 0], [0, 1]]"), "receiver_utility[0][0]", "finite"),
    "infinity": (with_receiver("[[Infinity, 0], [0, 1]]"), "receiver_utility[0][0]", "finite"),
    "huge-int": (with_receiver("[[%d, 0], [0, 1]]" % 10**400), "receiver_utility[0][0]", "too large"),
    "long-name": (BASE_TEXT.replace('"innocent"', '"' + "x" * 5000 + '"'), "states[0]", "long"),
    "bool-entry": (with_receiver("[[true, 0], [0, 1]]"), "receiver_utility[0][0]", "boolean"),
    "not-an-object": ("[1, 2, 3]", "game", "object"),
    "truncated": (BASE_TEXT[:40], None, "invalid JSON"),
    "empty": ("", None, "invalid JSON"),
    "type-name-escape": (json.dumps({**{k: v for k, v in BASE.items() if k != "receiver_utility"},
                                     "receiver_types": [{"name": "\u001b[1m", "probability": 1,
                                                         "utility": [[1, 0], [0, 1]]}]}),
                         "receiver_types[0].name", "printable"),
}


def run_cli(path, *extra, timeout=60):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "persuasion_cli", "solve", str(path), "--json",
                           *extra], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    return proc, time.perf_counter() - t0


def assert_one_line_error(stderr: str, field=None, words=()):
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr[:2000]
    line = lines[0]
    assert line.startswith("persuasion: error: "), line
    assert all(ch.isprintable() for ch in line), repr(line)  # nothing raw reaches a terminal
    assert len(line) < 2500
    if field is not None:
        assert line.startswith(f"persuasion: error: {field}: "), line
    for w in words:
        assert w.lower() in line.lower(), line


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_as_a_process(tmp_path, case):
    text, field, word = HOSTILE[case]
    path = tmp_path / "game.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    proc, seconds = run_cli(path)
    assert proc.returncode == 2, proc.stderr[:2000]
    assert proc.stdout == ""
    assert_one_line_error(proc.stderr, field, [word])


def test_a_tiny_but_valid_rational_is_solved_as_a_process(tmp_path):
    path = tmp_path / "game.json"
    path.write_text(with_receiver('[["1e-400", 0], [0, "1e-400"]]'))
    proc, _ = run_cli(path, "--exact")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["value_exact"] == "3/5" and out["value"] == pytest.approx(0.6)


@pytest.mark.parametrize("kind", ["directory", "fifo", "missing", "not-utf8"])
def test_unreadable_sources(tmp_path, kind):
    if kind == "directory":
        path = tmp_path
    elif kind == "fifo":
        path = tmp_path / "pipe.json"
        os.mkfifo(path)  # reading it would block forever: it is refused, not opened for good
    elif kind == "missing":
        path = tmp_path / "absent.json"
    elif kind == "not-utf8":
        path = tmp_path / "latin1.json"
        path.write_bytes(BASE_TEXT.replace("innocent", "inno\xe9").encode("latin-1"))
    proc, _ = run_cli(path, timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    assert_one_line_error(proc.stderr)


def test_nul_byte_in_the_path(capsys):
    """No process can receive a NUL in its arguments; from Python it is one line too."""
    assert main(["solve", "game\x00.json"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert_one_line_error(out.err, None, ["cannot open"])


# ------------------------------------------------------------------------ fuzz
_numbers = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.integers(-10**500, 10**500).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{0,30})?([eE][+-]?[0-9]{1,12})?", fullmatch=True),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e99999999", "1e-400", "true", "null",
                     '"3/10"', '"1/0"', '"1e-99999999"', '"abc"', "[]", "{}", "[[1]]"]),
)
_names = st.one_of(
    st.text(st.characters(codec=None, categories=None), max_size=8),  # surrogates included
    st.sampled_from(["\x00", "\x1b[31m", "\n", "\u202e", "\ud800", " ", "", "a" * 300]),
)


@st.composite
def mutated_game_text(draw):
    game = json.loads(BASE_TEXT)
    placeholders = {}

    def mark(value_text):
        key = f"@@{len(placeholders)}@@"
        placeholders[key] = value_text
        return key

    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["number", "name", "drop", "extra", "type", "nest", "types"]))
        if op == "number":
            field = draw(st.sampled_from(["prior", "sender_utility", "receiver_utility"]))
            if field == "prior" and isinstance(game.get("prior"), list) and len(game["prior"]) == 2:
                game["prior"][draw(st.integers(0, 1))] = mark(draw(_numbers))
            elif (isinstance(game.get(field), list) and len(game[field]) == 2
                  and all(isinstance(r, list) and len(r) == 2 for r in game[field])):
                game[field][draw(st.integers(0, 1))][draw(st.integers(0, 1))] = mark(draw(_numbers))
        elif op == "name":
            field = draw(st.sampled_from(["states", "actions", "name"]))
            if field == "name":
                game["name"] = draw(_names)
            elif isinstance(game.get(field), list) and game[field]:
                game[field][draw(st.integers(0, len(game[field]) - 1))] = draw(_names)
        elif op == "drop" and game:
            game.pop(draw(st.sampled_from(sorted(game))))
        elif op == "extra":
            game[draw(_names)] = draw(st.integers())
        elif op == "type" and game:
            key = draw(st.sampled_from(sorted(game)))
            game[key] = draw(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3),
                                       st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)))
        elif op == "nest":
            depth = draw(st.integers(2, 40))
            game["receiver_utility"] = mark("[" * depth + "1" + "]" * depth)
        elif op == "types":
            game.pop("receiver_utility", None)
            game["receiver_types"] = [{"name": draw(_names), "probability": mark(draw(_numbers)),
                                       "utility": [[1, 0], [0, 1]]}]
    text = json.dumps(game)
    for key, value in placeholders.items():
        text = text.replace(json.dumps(key), value)
    if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
        text = text[:draw(st.integers(0, len(text)))]  # truncated file
    if draw(st.integers(0, 9)) == 0:  # a duplicate key
        text = text.replace('"prior":', '"prior": [0.5, 0.5], "prior":', 1)
    return text


@settings(max_examples=300, deadline=10_000, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])
@given(text=mutated_game_text())
def test_fuzzed_game_files(tmp_path, capsys, text):
    path = tmp_path / "fuzz.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    code = main(["solve", str(path), "--json"])
    out = capsys.readouterr()
    assert code in DOCUMENTED_EXITS, (code, out.err)
    if code == 0:
        assert isinstance(json.loads(out.out), dict)
        assert out.err == ""
    else:
        assert out.out == ""
        assert_one_line_error(out.err)
    # text mode echoes names: every line a terminal sees is printable
    code_text = main(["solve", str(path)])
    out = capsys.readouterr()
    assert code_text == code
    assert all(line.isprintable() for line in (out.out + out.err).splitlines()), out
