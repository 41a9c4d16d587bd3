"""What every receiver offers (:class:`Receiver`, :class:`Completion`) and the small helpers the
local and the API receivers share (conversation checks, stop strings, cache keys, progress)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

from tqdm import tqdm  # the plain bar: tqdm.auto would import asyncio (0.15 s) at start-up

from ..messages import ROLES, validate_conversation, validate_conversations

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from ..generation import GenerationSettings

__all__ = ["Completion", "Receiver", "ROLES", "validate_conversation", "validate_conversations",
           "cut_at_stop", "settings_key", "progress_bar"]


@dataclass
class Completion:
    """One receiver answer.

    Attributes
    ----------
    text : str
        The answer (for local models: new text only, cut at the first stop string).
    prompt_tokens, completion_tokens : int
        Token counts as reported by the model or the API (0 when the API reports none).
    seconds : float
        Wall time spent on this answer (0.0 when it came from the cache). For an API answer
        it includes the client's retries and their waits.
    cached : bool
        Whether it came from the disk cache.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cached: bool = False


@runtime_checkable
class Receiver(Protocol):
    """What every receiver offers: a ``name`` and a batched :meth:`complete`."""

    name: str

    def complete(self, conversations: Sequence[list[dict]], settings: "GenerationSettings",
                 *, progress: bool | str = False) -> list[Completion]:
        """Answer each conversation (OpenAI-style messages); results in input order."""
        ...  # pragma: no cover


def progress_bar(total: int, progress: bool | str):
    """A tqdm bar of ``total`` steps when ``progress`` is truthy (a string is its title)."""
    if not progress:
        return None
    return tqdm(total=total, desc=progress if isinstance(progress, str) else None, leave=False)


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the earliest occurrence of any stop string.

    >>> cut_at_stop("Paris.\\nMore", ("\\n", "END"))
    'Paris.'
    """
    cut = len(text)
    for s in stop:
        if s:
            j = text.find(s)
            if j >= 0:
                cut = min(cut, j)
    return text[:cut]


def settings_key(settings) -> dict:
    """The part of ``settings`` that changes an answer (cache keys): all but the batch size."""
    key = settings.cache_key() if hasattr(settings, "cache_key") else None
    if key is None:  # duck-typed settings: everything but the batch size
        key = {k: getattr(settings, k) for k in
               ("max_new_tokens", "do_sample", "temperature", "top_p", "seed", "stop")}
        key["stop"] = list(key["stop"])
    return key
