"""CTranslate2: the fast engine for local decoding and scoring (CPU float32 or int8, CUDA float16).

A transformers model (:class:`~llm_bridge.models.LoadedModel`) is converted once with
``ctranslate2.converters.TransformersConverter`` and cached under the model cache
(``<cache>/ct2/<name>-<compute type>-<key>``, ``key`` a hash of the source weights'
fingerprint, the CTranslate2 version and the compute type; written atomically). Then

* :func:`with_ct2` returns a view of the model whose generations run on CTranslate2: the same
  :class:`LoadedModel` (tokenizer, torch model for what needs gradients) with ``engine`` set
  and a fingerprint that names the engine and its compute type, so that cached results of
  different engines never mix; :func:`llm_bridge.generation.generate` hands its batches to
  :meth:`Ct2Engine.decode_batch`;
* :meth:`Ct2Engine.score` is the forward-only log-likelihood of completions after prompts
  (``score_batch``), the engine's form of :func:`llm_bridge.generation.token_logprobs`.

Faithfulness: in ``float32`` greedy decoding gives the same text and token counts as the torch
loop (tests/llm_bridge/test_ct2.py); ``int8`` may differ, and on SmolLM2-135M it costs accuracy
(math-mix, 60 problems: 11 correct against float32's and torch's 19, exact McNemar p = 0.008;
on Qwen2.5-Coder-0.5B no measurable cost: 12 against 13, p = 1), so the default is **float32**
on the CPU (still faster than the torch loop) and float16 on CUDA; ``int8`` is opt-in
(``--compute-type int8``, about 2-4x faster again). ``int16`` is refused: it answered 0 of the
same 60 problems (the conversion computes garbage for SmolLM2-135M).

**Sampling.** CTranslate2 draws from one ``std::mt19937`` per worker thread, seeded once, the
first time that thread samples (``ctranslate2.set_random_seed`` afterwards changes nothing:
measured, the same seed gave four different samples in a row). On a long-lived generator a
prompt's sample would depend on everything sampled before it in the process, which breaks both
"every random thing takes a seed" and the soundness of the generation cache. So:

* :func:`llm_bridge.generation.generate` (one sample per prompt, per-prompt seeds) decodes
  sampled settings with the torch loop and caches them under the torch fingerprint;
* :meth:`Ct2Engine.sample_batch` (several samples per prompt in one call, ``num_hypotheses``:
  the K responses of CycleAlign) creates a **fresh generator** (new worker thread) right after
  ``set_random_seed(s)``, with ``s`` a hash of the call's seeds, prompts and settings, under a
  lock: its samples are a function of exactly those (tested), never of what ran before. A
  sample then depends on the other prompts of its call, which is why
  :func:`llm_bridge.generation.generate_samples` calls it on fixed groups of
  :data:`SAMPLE_GROUP` prompts. A fresh generator costs a model load (0.3 s for SmolLM2-135M
  int8 here, about 1 s in float32), once per group.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import re
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from persuasion.runs import atomic_dir

from .errors import ConfigError
from .models import LoadedModel, cache_dir, load_causal_lm

__all__ = ["ENGINES", "ENGINE_CHOICES", "SAMPLE_GROUP", "default_compute_type", "default_engine", "ct2_available",
           "resolve_engine", "Ct2Engine", "converted_folder", "with_ct2", "with_engine",
           "load_on_engine"]

#: The decoding engines of local models.
ENGINES = ("torch", "ct2")
#: What ``--engine`` accepts: an engine, or ``auto`` (ct2 where it is installed, else torch).
ENGINE_CHOICES = ("auto",) + ENGINES

#: Prompts per seeded sampling call on ct2 (a sample depends on the other prompts of its group).
SAMPLE_GROUP = 8

_MARKER = "persuasion-ct2.json"
_convert_lock = threading.Lock()
_seed_lock = threading.Lock()


#: Compute types refused, with the measured reason.
REFUSED_COMPUTE_TYPES = {
    "int16": "measured to compute wrong answers (SmolLM2-135M: 0 of 60 math-mix problems right, "
             "against 19 in float32); use float32 or int8",
}


def default_compute_type(device: str) -> str:
    """float32 on the CPU, float16 on CUDA (int8 costs accuracy on small models: module docstring)."""
    return "float16" if str(device).startswith("cuda") else "float32"


def ct2_available() -> bool:
    """Whether the ``ctranslate2`` package is installed (nothing is imported)."""
    return importlib.util.find_spec("ctranslate2") is not None


def default_engine() -> str:
    """``"ct2"`` where CTranslate2 is installed, else ``"torch"``."""
    return "ct2" if ct2_available() else "torch"


def resolve_engine(engine: str | None, compute_type: str | None, device: str = "cpu",
                   *, field: str = "engine", compute_field: str = "compute_type") -> tuple[str, str | None]:
    """``(engine, compute_type)`` with the defaults filled in and checked (errors name
    ``field`` and ``compute_field``).

    ``engine`` None or ``"auto"``: :func:`default_engine`; ``compute_type`` None on ct2:
    :func:`default_compute_type` of ``device``; on torch it must be None (the torch loop runs
    the weights' own dtype). The result is what run identities and cache keys record.
    """
    if engine is None or engine == "auto":
        engine = default_engine()
    if engine not in ENGINES:
        raise ConfigError(f"{field}: expected one of {', '.join(ENGINE_CHOICES)}, got {engine!r}")
    if engine == "torch":
        if compute_type is not None:
            raise ConfigError(f"{compute_field}: applies to the ct2 engine only (got "
                              f"{compute_type!r} with engine torch)")
        return engine, None
    if compute_type is not None and not (isinstance(compute_type, str) and compute_type):
        raise ConfigError(f"{compute_field}: expected a CTranslate2 compute type such as float32 or "
                          f"int8, got {compute_type!r}")
    if compute_type in REFUSED_COMPUTE_TYPES:
        raise ConfigError(f"{compute_field}: {compute_type} is {REFUSED_COMPUTE_TYPES[compute_type]}")
    return engine, compute_type or default_compute_type(device)


def _ct2():
    try:
        import ctranslate2  # optional engine: imported when it is used
    except ImportError:
        raise ConfigError("engine: ct2 needs the ctranslate2 package (pip install ctranslate2), "
                          "or use --engine torch") from None
    return ctranslate2


def converted_folder(lm: LoadedModel, compute_type: str) -> Path:
    """The CTranslate2 conversion of ``lm`` for ``compute_type`` (converted once, cached)."""
    ctranslate2 = _ct2()
    key = hashlib.sha256(f"{lm.fingerprint}\x00{ctranslate2.__version__}\x00{compute_type}"
                         .encode("utf-8")).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", lm.name).strip("-")[-40:] or "model"
    folder = cache_dir() / "ct2" / f"{slug}-{compute_type}-{key}"
    if (folder / _MARKER).exists():
        return folder
    from ctranslate2.converters import TransformersConverter

    with _convert_lock, tempfile.TemporaryDirectory(prefix="persuasion-ct2-src-") as src:
        if (folder / _MARKER).exists():  # converted by another thread meanwhile
            return folder
        model = _plain_copy(lm.model)
        model.save_pretrained(src)
        lm.tokenizer.save_pretrained(src)
        del model
        with atomic_dir(folder) as tmp:
            TransformersConverter(src, low_cpu_mem_usage=True).convert(
                str(tmp), quantization=compute_type, force=True)
            (tmp / _MARKER).write_text(json.dumps({
                "source_fingerprint": lm.fingerprint, "ctranslate2": ctranslate2.__version__,
                "compute_type": compute_type}, indent=1))
    return folder


def _plain_copy(model):
    """``model`` itself, or, when it carries LoRA adapters (a ``PeftModel``, or adapters
    injected in place by :func:`llm_bridge.training.lora.attach_lora`), a copy of the model it
    computes: each adapter layer merged into its base layer (or dropped while the adapters are
    disabled) and replaced by that base layer, so that ``save_pretrained`` writes plain weights."""
    if callable(getattr(model, "merge_and_unload", None)):  # a PeftModel
        model = model.get_base_model()
    if not any(hasattr(m, "lora_A") and hasattr(m, "base_layer") for m in model.modules()):
        return model
    plain = copy.deepcopy(model)
    for name, module in list(plain.named_modules()):
        if not (hasattr(module, "lora_A") and hasattr(module, "base_layer")):
            continue
        if not getattr(module, "disable_adapters", False) and getattr(module, "active_adapters", None):
            module.merge(safe_merge=False)
        parent_name, _, child = name.rpartition(".")
        parent = plain.get_submodule(parent_name) if parent_name else plain
        setattr(parent, child, module.get_base_layer())
    return plain


def _device_kind(device) -> str:
    """``"cuda"`` for a CUDA device (a ``torch.device`` or a string such as ``"cuda:1"``),
    else ``"cpu"``."""
    kind = getattr(device, "type", None) or str(device)
    return "cuda" if kind.startswith("cuda") else "cpu"


def _stop_options(settings, eos_ids) -> tuple[dict, set]:
    """The ``generate_batch`` options shared by greedy decoding and sampling (length, end
    tokens) and the token ids to drop from the results: with ``settings.ignore_eos``
    exactly ``max_new_tokens`` tokens, none dropped; otherwise a stop at any of ``eos_ids``."""
    opts = dict(max_length=settings.max_new_tokens, include_prompt_in_result=False, beam_size=1)
    if settings.ignore_eos:
        opts["min_length"] = settings.max_new_tokens
        return opts, set()
    if eos_ids:
        opts["end_token"] = [int(i) for i in sorted(eos_ids)]
    return opts, set(eos_ids)


@dataclass
class Ct2Engine:
    """A CTranslate2 generator for one converted model.

    Attributes
    ----------
    generator : ctranslate2.Generator
    compute_type : str
        ``float32``, ``int8``, ``int8_float16``, ...
    device : str
        ``cpu`` or ``cuda``.
    folder : Path
        The converted model.
    """

    generator: object
    compute_type: str
    device: str
    folder: Path
    source_fingerprint: str = ""
    threads: int = 0

    @property
    def name(self) -> str:
        return f"ct2-{_ct2().__version__}-{self.compute_type}"

    @property
    def sample_group(self) -> int:
        """Prompts per :meth:`sample_batch` call (:data:`SAMPLE_GROUP`)."""
        return SAMPLE_GROUP

    def decode_batch(self, lm: LoadedModel, prompts, ids_rows, settings, *, eos_ids) -> list[list[int]]:
        """The new token ids of each prompt of one batch (end-of-sequence tokens removed).

        Greedy only (see the module docstring). Decoding stops at a token of ``eos_ids`` (unless ``settings.ignore_eos``: exactly
        ``max_new_tokens``) or after ``settings.max_new_tokens``; stop strings are applied by
        the caller (:func:`llm_bridge.generation.generate`) with the torch loop's rule.
        """
        tok = lm.tokenizer
        tokens = [tok.convert_ids_to_tokens(list(r)) for r in ids_rows]
        if settings.do_sample:
            raise ConfigError("settings: sampling runs on the torch loop (see llm_bridge.ct2)")
        opts, skip = _stop_options(settings, eos_ids)
        results = self.generator.generate_batch(tokens, sampling_topk=1, **opts)
        return [[i for i in r.sequences_ids[0] if i not in skip] for r in results]

    def sample_batch(self, lm: LoadedModel, ids_rows, settings, seeds, *, eos_ids) -> list[list[list[int]]]:
        """``len(seeds)`` sampled continuations of each prompt row (new token ids, end tokens
        removed), from a fresh generator seeded by the seeds, the rows and the settings
        (module docstring); ``settings.seed`` is not used."""
        ctranslate2 = _ct2()
        tok = lm.tokenizer
        digest = hashlib.sha256(json.dumps([list(seeds), [list(r) for r in ids_rows],
                                            settings.cache_key()]).encode("utf-8")).digest()
        opts, skip = _stop_options(settings, eos_ids)
        opts.update(num_hypotheses=len(seeds), sampling_topk=0, sampling_topp=float(settings.top_p),
                    sampling_temperature=float(settings.temperature))
        tokens = [tok.convert_ids_to_tokens(list(r)) for r in ids_rows]
        with _seed_lock:  # the new worker thread seeds its generator at its first draw
            ctranslate2.set_random_seed(int.from_bytes(digest[:4], "little"))
            fresh = ctranslate2.Generator(str(self.folder), device=self.device,
                                          compute_type=self.compute_type, inter_threads=1,
                                          intra_threads=self.threads)
            results = fresh.generate_batch(tokens, **opts)
        del fresh
        return [[[i for i in seq if i not in skip] for seq in r.sequences_ids] for r in results]

    def score(self, lm: LoadedModel, prompt_ids, completion_ids, *, batch_size: int = 8):
        """``(sums, counts)``: summed log-probability and count of each completion's tokens
        after its prompt's tokens (lists of floats; an empty completion scores ``(0, 0)``)."""
        tok = lm.tokenizer
        sums, counts = [], []
        rows = [list(p) + list(c) for p, c in zip(prompt_ids, completion_ids)]
        results = self.generator.score_batch([tok.convert_ids_to_tokens(r) for r in rows],
                                             max_batch_size=batch_size,
                                             max_input_length=0) if rows else []
        for c, res in zip(completion_ids, results):
            lp = list(res.log_probs)  # log P(token k | tokens < k) for k >= 1
            sums.append(float(sum(lp[len(lp) - len(c):])) if c else 0.0)
            counts.append(float(len(c)))
        return sums, counts


def with_ct2(lm: LoadedModel, *, compute_type: str | None = None, threads: int | None = None) -> LoadedModel:
    """``lm`` with its generations on CTranslate2 (converted once and cached).

    The returned model shares the tokenizer and the torch weights (for training) with
    ``lm``; its ``fingerprint`` adds ``|ct2-<version>-<compute type>``. Re-convert (call
    again) after the torch weights change (a merged adapter changes ``lm.fingerprint``).
    """
    ctranslate2 = _ct2()
    device = _device_kind(lm.device)
    compute_type = compute_type or default_compute_type(device)
    supported = ctranslate2.get_supported_compute_types(device)
    if compute_type not in supported:
        raise ConfigError(f"compute_type: {compute_type!r} is not supported on {device} by this "
                          f"CTranslate2 build (supported: {', '.join(sorted(supported))})")
    folder = converted_folder(lm, compute_type)
    generator = ctranslate2.Generator(str(folder), device=device, compute_type=compute_type,
                                      intra_threads=threads or 0)
    engine = Ct2Engine(generator=generator, compute_type=compute_type, device=device, folder=folder,
                       source_fingerprint=lm.fingerprint, threads=threads or 0)
    return replace(lm, fingerprint=f"{lm.fingerprint}|{engine.name}", engine=engine)


def _torch_view(lm: LoadedModel) -> LoadedModel:
    """``lm`` back on the torch loop (its own fingerprint)."""
    if lm.engine is None:
        return lm
    return replace(lm, fingerprint=lm.engine.source_fingerprint, engine=None)


def with_engine(lm: LoadedModel, engine: str | None, *, compute_type: str | None = None,
                threads: int | None = None) -> LoadedModel:
    """``lm`` on ``engine`` (``"torch"``: the torch loop; ``"ct2"``: :func:`with_ct2`;
    None or ``"auto"``: :func:`default_engine`). A model already on the asked engine and
    compute type is returned as it is; one on another is switched (from its torch weights)."""
    device = _device_kind(lm.device)
    engine, compute_type = resolve_engine(engine, compute_type, device)
    if engine == "torch":
        return _torch_view(lm)
    if lm.engine is not None and lm.engine.compute_type == compute_type:
        return lm
    return with_ct2(_torch_view(lm), compute_type=compute_type, threads=threads)


def load_on_engine(name: str, *, engine: str | None = None, compute_type: str | None = None,
                   device: str = "cpu", dtype=None, seed: int = 0,
                   threads: int | None = None) -> LoadedModel:
    """:func:`~llm_bridge.models.load_causal_lm` then :func:`with_engine` (the engine is
    checked first, so that a bad one is refused before the slow load)."""
    engine, compute_type = resolve_engine(engine, compute_type, _device_kind(device))
    if engine == "ct2":
        _ct2()
    lm = load_causal_lm(name, device=device, dtype=dtype, seed=seed)
    return with_engine(lm, engine, compute_type=compute_type, threads=threads)
