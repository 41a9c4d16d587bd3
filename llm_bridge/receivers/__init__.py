"""Receivers: the LLMs that read a hint and answer a problem.

A receiver turns OpenAI-style conversations (``[{"role": ..., "content": ...}, ...]``)
into completions. Two kinds share one interface (:class:`Receiver`, :mod:`.base`):

* :class:`LocalReceiver` (:mod:`.local`) wraps a local transformers model
  (:func:`llm_bridge.models.load_causal_lm`): the chat template, batched generation and the
  disk cache of :mod:`llm_bridge.generation`.
* :class:`OpenAIReceiver` (:mod:`.api`) talks to any OpenAI-compatible chat API (OpenAI, vLLM,
  llama.cpp, Ollama, or this package's own loopback server, :mod:`llm_bridge.server`) with the
  official ``openai`` client, whose own retries (``max_retries``, ``timeout``, backoff,
  ``Retry-After``) it uses.

The API key is read from an environment variable only. It is never logged, printed, put in a
``repr``, an error message or a cache key.

:func:`make_receiver` (:mod:`.factory`) builds either from a short spec: ``"smollm2-135m"``
(local), ``"openai:gpt-4o-mini"`` or ``"openai:MODEL@http://127.0.0.1:8000/v1"``.
:func:`check_reachable` (:mod:`.endpoints`; one TCP connection, a few seconds at most) tells a
command that the API is not there before it loads any model, instead of after the client's
retries.
"""

from .api import OpenAIReceiver
from .base import ROLES, Completion, Receiver, validate_conversation
from .endpoints import DEFAULT_OPENAI_BASE_URL, check_reachable, is_loopback_url, openai_base_url
from .factory import check_receiver_specs, make_receiver
from .local import LocalReceiver

__all__ = ["Completion", "Receiver", "LocalReceiver", "OpenAIReceiver", "make_receiver",
           "validate_conversation", "is_loopback_url", "openai_base_url", "check_reachable",
           "check_receiver_specs", "ROLES",
           "DEFAULT_OPENAI_BASE_URL"]
