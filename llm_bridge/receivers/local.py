"""The local receiver: a transformers causal LM with its chat template, the batched generation
and the disk cache of :mod:`llm_bridge.generation`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from ..errors import ConfigError
from ..generation import chat_prompt, generate
from ..models import LoadedModel, load_causal_lm
from .base import Completion, validate_conversations

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from ..cache import GenerationCache
    from ..generation import GenerationSettings

__all__ = ["LocalReceiver"]


class LocalReceiver:
    """A local causal LM as receiver: chat template, batched generation, disk cache.

    Parameters
    ----------
    lm : LoadedModel or str
        A loaded model, or a name for :func:`llm_bridge.models.load_causal_lm`
        (``"smollm2-135m"``, ``"llama-tiny"``, a local folder, ...).
    cache : GenerationCache, optional
        Answers already on disk are not generated again.
    device : str
        Where to load the model when ``lm`` is a name (default ``"cpu"``).
    """

    def __init__(self, lm: LoadedModel | str, *, cache: "GenerationCache | None" = None,
                 device: str = "cpu"):
        if isinstance(lm, str):
            lm = load_causal_lm(lm, device=device)
        if not hasattr(lm, "model") or not hasattr(lm, "tokenizer"):
            raise ConfigError(f"lm: expected a LoadedModel or a model name, got {type(lm).__name__}")
        self.lm = lm
        self.cache = cache
        self.name = lm.name

    def __repr__(self) -> str:
        return f"LocalReceiver(name={self.name!r}, cache={'off' if self.cache is None else 'on'})"

    def prompts(self, conversations: Sequence[list[dict]]) -> list[str]:
        """The chat-formatted prompt of each conversation (what the model actually reads)."""
        return [chat_prompt(self.lm, c) for c in validate_conversations(conversations)]

    def complete(self, conversations: Sequence[list[dict]], settings: "GenerationSettings",
                 *, progress: bool | str = False) -> list[Completion]:
        """Answer each conversation with one batched :func:`~llm_bridge.generation.generate`.

        Returns
        -------
        list of Completion
            In input order.
        """
        prompts = self.prompts(conversations)
        if not prompts:
            return []
        gens = generate(self.lm, prompts, settings, cache=self.cache, progress=progress)
        return [Completion(text=g.text, prompt_tokens=int(g.prompt_tokens),
                           completion_tokens=int(g.new_tokens), seconds=float(g.seconds),
                           cached=bool(g.cached)) for g in gens]
