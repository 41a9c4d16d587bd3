"""Run folders (persuasion.runs): identity, resume, start over, seeds, atomic files, JSON Lines."""

import json
import os

import numpy as np
import pytest

from persuasion.errors import PersuasionError
from persuasion.runs import (JsonlWriter, RunFolderError, append_jsonl, atomic_dir, atomic_write_json,
                             atomic_write_text, completed_prefix, derive_rng, derive_seed,
                             open_run_folder, read_jsonl, repair_jsonl, settings_diff, write_jsonl)


# ----------------------------------------------------------------------------- identity
def test_same_settings_resume_other_settings_are_refused_naming_every_field(tmp_path):
    ident = {"model": "m", "config": {"lr": 0.1, "k": 4, "targets": ("q", "v")}}
    first = open_run_folder(tmp_path / "run", ident)
    assert not first.resumed and first.path == tmp_path / "run"
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == {
        "config": {"k": 4, "lr": 0.1, "targets": ["q", "v"]}, "model": "m"}  # sorted, JSON values
    again = open_run_folder(tmp_path / "run", ident)
    assert again.resumed and again.identity == first.identity
    with pytest.raises(RunFolderError) as err:
        open_run_folder(tmp_path / "run", {"model": "m2", "config": {"lr": 0.2, "k": 4, "targets": ["q", "v"]}})
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("out: ")
    assert "config.lr: 0.1 -> 0.2" in msg and 'model: "m" -> "m2"' in msg and "start over" in msg
    assert "k:" not in msg  # only the fields that differ
    assert isinstance(err.value, (PersuasionError, ValueError)) and err.value.field == "out"


def test_a_field_on_one_side_only_is_a_difference_unless_it_has_a_default(tmp_path):
    open_run_folder(tmp_path, {"a": 1})
    with pytest.raises(RunFolderError, match=r"b: \(none\) -> 0"):      # added since the run
        open_run_folder(tmp_path, {"a": 1, "b": 0})
    assert open_run_folder(tmp_path, {"a": 1, "b": 0}, defaults={"b": 0}).resumed
    with pytest.raises(RunFolderError, match="b: 0 -> 1"):  # the stored run reads as the default
        open_run_folder(tmp_path, {"a": 1, "b": 1}, defaults={"b": 0})
    with pytest.raises(RunFolderError, match=r"a: 1 -> \(none\)"):       # dropped since the run
        open_run_folder(tmp_path, {})
    assert settings_diff({"x": {"y": 1, "z": 2}}, {"x": {"y": 1, "z": 3}}) == [("x.z", 2, 3)]


def test_start_over_clears_the_folder_but_what_it_keeps(tmp_path):
    open_run_folder(tmp_path, {"a": 1})
    for name in ("records.jsonl", "cache.sqlite", "cache.sqlite-wal"):
        (tmp_path / name).write_text("x")
    (tmp_path / "checkpoints" / "epoch-001").mkdir(parents=True)
    new = open_run_folder(tmp_path, {"a": 2}, start_over=True, keep=("cache.sqlite*",))
    assert not new.resumed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.sqlite", "cache.sqlite-wal", "run.json"]
    assert json.loads((tmp_path / "run.json").read_text()) == {"a": 2}
    # a folder that holds no run is left alone
    other = tmp_path / "plain"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    open_run_folder(other, {"a": 1}, start_over=True)
    assert (other / "notes.txt").exists()


def test_identity_file_layout_error_class_and_unreadable_file(tmp_path):
    def my_error(field, problem):
        return LookupError(f"{field}: {problem}")

    open_run_folder(tmp_path, {"b": 1, "a": 2}, identity_file="config.json", indent=2, sort_keys=False)
    assert (tmp_path / "config.json").read_text() == json.dumps({"b": 1, "a": 2}, indent=2)
    with pytest.raises(LookupError, match=r"^out_dir: .* \(a: 2 -> 3\)"):
        open_run_folder(tmp_path, {"b": 1, "a": 3}, identity_file="config.json", field="out_dir", error=my_error)
    (tmp_path / "config.json").write_text('{"b": 1, "a"')  # torn
    with pytest.raises(RunFolderError, match="not readable JSON"):
        open_run_folder(tmp_path, {"b": 1}, identity_file="config.json")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_completed_prefix():
    assert completed_prefix(3, lambda k: True) == 3
    assert completed_prefix(3, lambda k: False) == 0
    assert completed_prefix(4, lambda k: k != 2) == 1


# ----------------------------------------------------------------------------- seeds
def test_seeds_are_stable_distinct_and_match_the_generator_form():
    assert derive_seed(0, 1, 2) == derive_seed(0, 1, 2)
    # pinned: the same seeds on every platform and numpy version with SeedSequence
    assert derive_seed(0) == int(np.random.SeedSequence([0]).generate_state(1)[0]) >> 1
    assert len({derive_seed(0, s, i) for s in range(5) for i in range(50)}) == 250
    assert all(0 <= derive_seed(s, -1) < 2 ** 31 for s in range(20))
    assert derive_seed(-1) == derive_seed(2 ** 32 - 1)
    a = derive_rng(7, 13, 2).integers(0, 10 ** 9, size=5)
    b = np.random.default_rng([7, 13, 2]).integers(0, 10 ** 9, size=5)
    assert (a == b).all()
    with pytest.raises(TypeError, match="seed parts"):
        derive_seed(1.5)


# ----------------------------------------------------------------------------- atomic files
def test_atomic_writes_replace_whole_files_only(tmp_path):
    p = tmp_path / "summary.json"
    atomic_write_json(p, {"a": 1}, indent=1)
    assert json.loads(p.read_text()) == {"a": 1}

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        atomic_write_json(p, {"a": Boom()})
    assert json.loads(p.read_text()) == {"a": 1}
    atomic_write_text(p, "new")
    assert p.read_text() == "new"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["summary.json"]


def test_atomic_dir_swaps_a_complete_folder_in(tmp_path):
    ck = tmp_path / "checkpoints" / "epoch-001"
    with atomic_dir(ck) as tmp:
        (tmp / "state.json").write_text('{"epoch": 1}')
        assert not ck.exists()
    assert json.loads((ck / "state.json").read_text()) == {"epoch": 1}
    with pytest.raises(RuntimeError):
        with atomic_dir(ck) as tmp:
            (tmp / "state.json").write_text('{"epoch": 2}')
            raise RuntimeError("interrupted")
    assert json.loads((ck / "state.json").read_text()) == {"epoch": 1}  # the old one is intact
    with atomic_dir(ck) as tmp:
        (tmp / "other.json").write_text("{}")
    assert sorted(p.name for p in ck.iterdir()) == ["other.json"]
    assert sorted(p.name for p in ck.parent.iterdir()) == ["epoch-001"]  # no temporary left


# ----------------------------------------------------------------------------- JSON Lines
def test_torn_last_line_is_cut_before_appending_and_skipped_when_reading(tmp_path):
    p = tmp_path / "records.jsonl"
    append_jsonl(p, [{"k": 1}, {"k": 2, "text": "é"}])
    assert p.read_text(encoding="utf-8").splitlines()[1] == '{"k": 2, "text": "é"}'
    with open(p, "a") as f:
        f.write('{"k": 3, "te')
    assert read_jsonl(p) == [{"k": 1}, {"k": 2, "text": "é"}]
    assert repair_jsonl(p) == len('{"k": 3, "te')
    assert repair_jsonl(p) == 0
    with open(p, "a") as f:
        f.write('{"k": 4')
    append_jsonl(p, [{"k": 5}], sort_keys=True)
    assert [r["k"] for r in read_jsonl(p)] == [1, 2, 5]
    assert p.read_bytes().endswith(b'{"k": 5}\n')
    assert read_jsonl(tmp_path / "missing.jsonl") == []
    assert repair_jsonl(tmp_path / "missing.jsonl") == 0


def test_a_torn_only_line_and_a_long_file(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"half": ')
    repair_jsonl(p)
    assert p.read_bytes() == b""
    rows = [{"i": i, "pad": "x" * 100} for i in range(2000)]  # longer than one scan block
    append_jsonl(p, rows)
    with open(p, "a") as f:
        f.write("y" * 70000)  # a torn line longer than one block
    repair_jsonl(p)
    assert read_jsonl(p) == rows and p.read_bytes().endswith(b"\n")


def test_unique_reads_keep_the_first_record_per_key(tmp_path):
    p = tmp_path / "runs.jsonl"
    append_jsonl(p, [{"key": "a", "v": 1}, {"key": "b", "v": 2}, {"key": "a", "v": 3}])
    assert read_jsonl(p, unique=lambda r: r["key"]) == [{"key": "a", "v": 1}, {"key": "b", "v": 2}]


def test_writer_fsyncs_every_record(tmp_path, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    with JsonlWriter(tmp_path / "w.jsonl", ensure_ascii=True) as w:
        for i in range(3):
            w.write({"i": i, "t": "é"})
            assert len(calls) == i + 1  # on disk before the next one is computed
    assert (tmp_path / "w.jsonl").read_text().splitlines()[0] == '{"i": 0, "t": "\\u00e9"}'


def test_write_jsonl_replaces_the_file(tmp_path):
    p = tmp_path / "eval.jsonl"
    write_jsonl(p, [{"b": 1, "a": 2}], sort_keys=True)
    write_jsonl(p, [{"b": 3, "a": 4}], sort_keys=True)
    assert p.read_text() == '{"a": 4, "b": 3}\n'
    assert sorted(x.name for x in tmp_path.iterdir()) == ["eval.jsonl"]


# ----------------------------------------------------------------------------- review mends
def test_start_over_never_empties_a_folder_that_is_not_this_jobs_run(tmp_path):
    """A project folder with its own config.json is refused, not emptied."""
    (tmp_path / "config.json").write_text(json.dumps({"name": "my project", "version": 3}))
    (tmp_path / "notes.txt").write_text("precious")
    ident = {"task": "t", "n": 4, "seed": 0, "advisor": "a"}
    with pytest.raises(RunFolderError, match="not the settings of a run of this job"):
        open_run_folder(tmp_path, ident, identity_file="config.json", start_over=True)
    (tmp_path / "config.json").write_text("not json")
    with pytest.raises(RunFolderError, match="not the settings of a run of this job"):
        open_run_folder(tmp_path, ident, identity_file="config.json", start_over=True)
    assert (tmp_path / "notes.txt").read_text() == "precious"
    # a run of this job with other values (or one field fewer, written before it existed) is cleared
    (tmp_path / "config.json").write_text(json.dumps({"task": "t", "n": 9, "seed": 0}))
    assert not open_run_folder(tmp_path, ident, identity_file="config.json", start_over=True).resumed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_written_files_and_folders_follow_the_umask_not_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
        write_jsonl(tmp_path / "b.jsonl", [{"x": 1}])
        with atomic_dir(tmp_path / "ckpt") as d:
            (d / "w").write_text("w")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.jsonl").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "ckpt").stat().st_mode & 0o777 == 0o755


def test_a_last_line_torn_inside_a_utf8_character_is_skipped_and_repaired(tmp_path):
    p = tmp_path / "r.jsonl"
    append_jsonl(p, [{"text": "é"}])
    line = json.dumps({"text": "ééé"}, ensure_ascii=False).encode("utf-8")
    with open(p, "ab") as f:
        f.write(line[: line.index("é".encode()) + 1])  # half of a two-byte character
    assert read_jsonl(p) == [{"text": "é"}]
    append_jsonl(p, [{"text": "ü"}])
    assert read_jsonl(p) == [{"text": "é"}, {"text": "ü"}]
