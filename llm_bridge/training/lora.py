"""LoRA adapters, mixed-precision optimiser steps and resumable checkpoints.

* :func:`attach_lora` injects LoRA adapters (Hu et al. 2021) into a causal LM with ``peft``,
  in place: the :class:`~llm_bridge.models.LoadedModel`'s ``model`` keeps working with the
  toolkit's own generation code and now runs through the adapters. Default target modules
  per architecture (:func:`default_target_modules`): Llama-like models (Llama, SmolLM2,
  Mistral, Qwen, Gemma) ``q_proj, v_proj`` (``k_proj, o_proj`` too with
  ``all_attention=True``); GPT-2 ``c_attn``.
* :class:`AdapterTrainer` holds an AdamW optimiser over the trainable (adapter) parameters,
  accumulates gradients over ``grad_accum`` micro-batches, clips them, and on CUDA runs the
  forward pass under ``torch.autocast`` (bfloat16 where supported, else float16 with a
  gradient scaler). On the CPU everything stays in float32.
* :func:`save_checkpoint` / :func:`load_checkpoint` write and read one folder: the adapter's
  weights (safetensors) and config, the optimiser and scaler state, the step counter, the
  torch random-number-generator states and a JSON ``state.json`` for the caller. The folder
  is written under a temporary name and renamed, so an interruption never leaves half a
  checkpoint under the final name (:func:`persuasion.runs.atomic_dir`). Nothing is fetched
  from a model hub.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from persuasion.runs import atomic_dir

from ..errors import ConfigError

__all__ = [
    "adapter_hash", "LoraSettings", "default_target_modules", "attach_lora", "add_adapter", "set_active_adapter",
    "has_lora", "lora_parameters", "AdapterTrainer", "save_checkpoint", "load_checkpoint", "load_adapter",
]

_LLAMA_LIKE = {"llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3",
               "gemma3_text", "phi3", "olmo", "olmo2", "granite", "smollm3"}
_GPT2_LIKE = {"gpt2"}


@dataclass(frozen=True)
class LoraSettings:
    """LoRA hyper-parameters.

    Attributes
    ----------
    r : int
        Rank of the update ``B A``.
    alpha : float
        Scale: the update is ``(alpha / r) B A``.
    dropout : float
        Dropout on the adapter's input.
    target_modules : tuple of str, optional
        Module-name suffixes to adapt; default per architecture (:func:`default_target_modules`).
    all_attention : bool
        With the default targets of a Llama-like model, also adapt ``k_proj`` and ``o_proj``.
    """

    r: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None
    all_attention: bool = False

    def __post_init__(self):
        if int(self.r) < 1:
            raise ConfigError(f"lora r: must be a positive integer, got {self.r}")
        if self.alpha <= 0:
            raise ConfigError(f"lora alpha: must be positive, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"lora dropout: must be in [0, 1), got {self.dropout}")


def _base(model):
    """The transformers model under a ``LoadedModel`` or a peft wrapper."""
    model = getattr(model, "model", model) if _is_loaded_model(model) else model
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def _is_loaded_model(obj) -> bool:
    return hasattr(obj, "tokenizer") and hasattr(obj, "fingerprint") and hasattr(obj, "model")


def default_target_modules(model, *, all_attention: bool = False) -> list[str]:
    """LoRA target modules for a model's architecture.

    Llama-like (``config.model_type`` llama, mistral, qwen2, gemma, ...): ``q_proj, v_proj``
    (and ``k_proj, o_proj`` with ``all_attention``); GPT-2: ``c_attn``. Other architectures:
    ``q_proj, v_proj`` if the model has such modules, else :class:`ConfigError` asking for
    explicit ``target_modules``.
    """
    model = _base(model)
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type in _GPT2_LIKE:
        return ["c_attn"]
    llama = ["q_proj", "k_proj", "v_proj", "o_proj"] if all_attention else ["q_proj", "v_proj"]
    if model_type in _LLAMA_LIKE:
        return llama
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    if {"q_proj", "v_proj"} <= names:
        return llama
    raise ConfigError(f"lora target_modules: no default for architecture {model_type!r}; "
                      "name the modules to adapt (e.g. target_modules=('query', 'value'))")


def has_lora(model) -> bool:
    """Whether LoRA layers are already injected into the model."""
    from peft.tuners.lora import LoraLayer

    return any(isinstance(m, LoraLayer) for m in _base(model).modules())


def _lora_config(model, settings: LoraSettings):
    from peft import LoraConfig

    targets = (list(settings.target_modules) if settings.target_modules
               else default_target_modules(model, all_attention=settings.all_attention))
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    return LoraConfig(task_type="CAUSAL_LM", r=int(settings.r), lora_alpha=settings.alpha,
                      lora_dropout=settings.dropout, target_modules=targets, bias="none",
                      fan_in_fan_out=model_type in _GPT2_LIKE)


def adapter_hash(peft_model, adapter_name: str = "default") -> str:
    """SHA-256 (16 hex digits) of the adapter's weights."""
    from peft import get_peft_model_state_dict

    h = hashlib.sha256()
    for key, value in sorted(get_peft_model_state_dict(peft_model, adapter_name=adapter_name).items()):
        h.update(key.encode())
        h.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def attach_lora(model, settings: LoraSettings | None = None, *, seed: int = 0):
    """Inject LoRA adapters (adapter name ``"default"``) into a causal LM, in place.

    Parameters
    ----------
    model : LoadedModel or transformers model
        The base model; its ``model`` attribute (for a ``LoadedModel``) is modified in
        place, so it generates through the adapters from now on.
    settings : LoraSettings, optional
    seed : int
        Seed of the adapters' random initialisation (``B = 0``, so the model's outputs are
        unchanged until training).

    Returns
    -------
    peft.PeftModel
        The wrapper, for training, saving and switching adapters; only adapter parameters
        are trainable. The model keeps its train/eval mode (adapter dropout is off in eval
        mode).
    """
    import torch
    from peft import get_peft_model

    settings = settings or LoraSettings()
    base = _base(model)
    if has_lora(base):
        raise ConfigError("white_box: the model already carries LoRA adapters; load a fresh model")
    training = base.training
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        torch.manual_seed(int(seed))
        peft_model = get_peft_model(base, _lora_config(base, settings))
    peft_model.train(training)  # new adapter layers start in training mode: keep the model's mode
    return peft_model


def add_adapter(peft_model, name: str, settings: LoraSettings | None = None, *, seed: int = 0):
    """Add a second, freshly initialised adapter ``name`` and make it the active one."""
    import torch

    settings = settings or LoraSettings()
    if name in peft_model.peft_config:
        raise ConfigError(f"adapter: {name!r} already exists")
    training = peft_model.get_base_model().training
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        peft_model.add_adapter(name, _lora_config(peft_model.get_base_model(), settings))
    peft_model.train(training)
    set_active_adapter(peft_model, name)
    return peft_model


def set_active_adapter(peft_model, name: str) -> None:
    """Activate adapter ``name``; exactly its parameters are trainable."""
    peft_model.set_adapter(name)
    for pname, p in peft_model.named_parameters():
        p.requires_grad_("lora_" in pname and f".{name}." in pname)


def lora_parameters(peft_model, name: str = "default") -> list:
    """The parameters of adapter ``name``."""
    return [p for n, p in peft_model.named_parameters() if "lora_" in n and f".{name}." in n]


# ----------------------------------------------------------------------------- optimiser
class AdapterTrainer:
    """AdamW over the adapter parameters with accumulation, clipping and CUDA autocast.

    Call :meth:`backward` once per micro-batch (inside :meth:`autocast`); every
    ``grad_accum`` calls it takes an optimiser step. :meth:`flush` steps on a partial
    accumulation (rescaling the gradient as if the group were full). ``step_count`` counts
    optimiser steps.

    Parameters
    ----------
    params : iterable of torch.nn.Parameter
        The trainable parameters (e.g. :func:`lora_parameters`).
    device : torch.device or str
        Where the model lives; ``cuda`` enables autocast.
    lr, weight_decay : float
        AdamW settings.
    grad_accum : int
        Micro-batches per optimiser step.
    max_grad_norm : float or None
        Gradient-norm clip (``None``: no clipping).
    amp : {"auto", "bf16", "fp16", "off"}
        Mixed precision on CUDA: ``auto`` picks bfloat16 where supported, else float16.
        Ignored on the CPU (float32).
    """

    def __init__(self, params, *, device="cpu", lr: float = 2e-4, weight_decay: float = 0.0,
                 grad_accum: int = 1, max_grad_norm: float | None = 1.0, amp: str = "auto"):
        import torch

        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ConfigError("trainer: no trainable parameters (attach an adapter first)")
        if lr <= 0:
            raise ConfigError(f"lr: must be positive, got {lr}")
        if int(grad_accum) < 1:
            raise ConfigError(f"grad_accum: must be a positive integer, got {grad_accum}")
        if amp not in ("auto", "bf16", "fp16", "off"):
            raise ConfigError(f"amp: expected auto, bf16, fp16 or off, got {amp!r}")
        self.device = torch.device(device)
        self.grad_accum = int(grad_accum)
        self.max_grad_norm = max_grad_norm
        self.optimizer = torch.optim.AdamW(self.params, lr=lr, weight_decay=weight_decay)
        self.amp_dtype = None
        if self.device.type == "cuda" and amp != "off":
            bf16_ok = torch.cuda.is_bf16_supported()
            self.amp_dtype = (torch.bfloat16 if amp == "bf16" or (amp == "auto" and bf16_ok)
                              else torch.float16)
        self.scaler = (torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None)
        self.step_count = 0
        self._micro = 0

    def autocast(self):
        """Context manager for the forward pass: autocast on CUDA, nothing on the CPU."""
        import torch

        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def backward(self, loss) -> bool:
        """Accumulate ``loss / grad_accum``; returns whether an optimiser step was taken."""
        loss = loss.float() / self.grad_accum
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        self._micro += 1
        if self._micro >= self.grad_accum:
            self._step()
            return True
        return False

    def flush(self) -> bool:
        """Step on the micro-batches accumulated so far (if any)."""
        if self._micro == 0:
            return False
        factor = self.grad_accum / self._micro
        for p in self.params:
            if p.grad is not None:
                p.grad.mul_(factor)
        self._step()
        return True

    def _step(self) -> None:
        import torch

        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if self.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self._micro = 0
        self.step_count += 1

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "step_count": self.step_count}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.step_count = int(state.get("step_count", 0))
        self._micro = 0


# ----------------------------------------------------------------------------- checkpoints
def _rng_state() -> dict:
    import torch

    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, peft_model, trainer: AdapterTrainer | None = None, *,
                    adapter_name: str = "default", state: dict | None = None) -> Path:
    """Write a checkpoint folder at ``path`` (replacing an existing one atomically).

    Files: ``adapter_model.safetensors`` and ``adapter_config.json`` (peft's format, so
    ``peft.PeftModel.from_pretrained`` also reads them), ``trainer.pt`` (optimiser, scaler,
    step counter), ``rng.pt`` (torch RNG states) and ``state.json`` (``state``, JSON-safe).
    """
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    path = Path(path)
    with atomic_dir(path) as tmp:  # written under a temporary name, then swapped in
        weights = get_peft_model_state_dict(peft_model, adapter_name=adapter_name)
        save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()},
                  str(tmp / "adapter_model.safetensors"))
        config = peft_model.peft_config[adapter_name]
        cfg = config.to_dict()
        cfg = json.loads(json.dumps(cfg, default=lambda o: sorted(o) if isinstance(o, set) else str(o)))
        (tmp / "adapter_config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True))
        if trainer is not None:
            torch.save(trainer.state_dict(), tmp / "trainer.pt")
        torch.save(_rng_state(), tmp / "rng.pt")
        (tmp / "state.json").write_text(json.dumps(state or {}, indent=1, sort_keys=True))
    return path


def load_checkpoint(path, peft_model, trainer: AdapterTrainer | None = None, *,
                    adapter_name: str = "default", restore_rng: bool = True) -> dict:
    """Load a folder written by :func:`save_checkpoint` into ``peft_model`` (and ``trainer``).

    Returns the ``state.json`` dictionary.
    """
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    path = Path(path)
    weights_file = path / "adapter_model.safetensors"
    if not weights_file.exists():
        raise ConfigError(f"checkpoint: {str(path)!r} has no adapter_model.safetensors")
    device = next(peft_model.parameters()).device
    weights = load_file(str(weights_file), device=str(device))
    result = set_peft_model_state_dict(peft_model, weights, adapter_name=adapter_name)
    unexpected = getattr(result, "unexpected_keys", None) or []
    if unexpected:
        raise ConfigError(f"checkpoint: {str(path)!r} does not fit this model "
                          f"(unexpected weights such as {unexpected[0]!r})")
    if trainer is not None and (path / "trainer.pt").exists():
        trainer.load_state_dict(torch.load(path / "trainer.pt", map_location=trainer.device,
                                           weights_only=False))
    if restore_rng and (path / "rng.pt").exists():
        _set_rng_state(torch.load(path / "rng.pt", weights_only=False))
    state_file = path / "state.json"
    return json.loads(state_file.read_text()) if state_file.exists() else {}


def load_adapter(lm, path, *, adapter_name: str = "default"):
    """Attach the adapter saved at ``path`` to a freshly loaded model, for evaluation.

    Returns the peft wrapper; ``lm.model`` then generates through the trained adapter.
    """
    path = Path(path)
    cfg_file = path / "adapter_config.json"
    if not cfg_file.exists():
        raise ConfigError(f"checkpoint: {str(path)!r} has no adapter_config.json")
    cfg = json.loads(cfg_file.read_text())
    settings = LoraSettings(r=int(cfg["r"]), alpha=float(cfg["lora_alpha"]),
                            dropout=float(cfg.get("lora_dropout", 0.0)),
                            target_modules=tuple(_as_list(cfg["target_modules"])))
    peft_model = attach_lora(lm, settings)
    load_checkpoint(path, peft_model, adapter_name=adapter_name, restore_rng=False)
    peft_model.eval()
    return peft_model


def _as_list(x: Any) -> Sequence[str]:
    return [x] if isinstance(x, str) else list(x)
