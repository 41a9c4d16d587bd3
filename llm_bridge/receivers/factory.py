"""Receivers from short specs (``"smollm2-135m"``, ``"openai:MODEL[@URL]"``) and the check of
API specs a command runs before it loads any model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ct2 import load_on_engine
from ..errors import ConfigError
from .api import OpenAIReceiver
from .base import Receiver
from .endpoints import check_reachable, openai_base_url, split_openai_spec
from .local import LocalReceiver

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from ..cache import GenerationCache

__all__ = ["make_receiver", "check_receiver_specs"]


def make_receiver(spec: str, *, cache: "GenerationCache | None" = None, device: str = "cpu",
                  engine: str | None = None, compute_type: str | None = None,
                  threads: int | None = None, timeout: float | None = None,
                  concurrency: int | None = None, **kw) -> Receiver:
    """Build a receiver from a short spec.

    Parameters
    ----------
    spec : str
        ``"openai:MODEL"`` (base URL from ``OPENAI_BASE_URL``, else OpenAI's API),
        ``"openai:MODEL@http://host:port/v1"``, or anything
        :func:`llm_bridge.models.load_causal_lm` accepts (``"smollm2-135m"``, ``"llama-tiny"``,
        a local folder, ...) for a :class:`LocalReceiver`.
    cache : GenerationCache, optional
        Disk cache for either kind.
    device : str
        Device of a local model.
    engine, compute_type, threads
        The decoding engine of a local model (:func:`llm_bridge.ct2.load_on_engine`: ``ct2``
        where CTranslate2 is installed, else ``torch``); ignored for an API receiver.
    timeout, concurrency
        An API receiver's seconds per request attempt and requests in flight
        (:class:`OpenAIReceiver`'s; its defaults where None); ignored for a local model.
    **kw
        Passed to :class:`OpenAIReceiver` (``api_key_env``, ``max_retries``, ...) or to
        :func:`~llm_bridge.models.load_causal_lm` (``seed``, ``dtype``).

    Examples
    --------
    >>> make_receiver("openai:my-model@http://127.0.0.1:8000/v1")
    OpenAIReceiver(model='my-model', base_url='http://127.0.0.1:8000/v1', api_key_env='OPENAI_API_KEY', max_retries=5, concurrency=4, cache=off)
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"receiver: expected a model name or 'openai:MODEL[@URL]', got {spec!r}")
    spec = spec.strip()
    if spec.startswith("openai:"):
        model, base_url = split_openai_spec(spec, kw.pop("base_url", None))
        requests = {k: v for k, v in (("timeout", timeout), ("concurrency", concurrency)) if v is not None}
        return OpenAIReceiver(model, base_url=base_url, cache=cache, **requests, **kw)
    return LocalReceiver(load_on_engine(spec, engine=engine, compute_type=compute_type,
                                        device=device, threads=threads, **kw), cache=cache)


def check_receiver_specs(options) -> None:
    """Check each ``(option, spec)`` whose spec is ``openai:...``: its settings, then its endpoint.

    The commands call it before they load any model: the receiver is built (a missing API key
    or a bad URL is a :class:`ConfigError`, exit 2) and thrown away, then :func:`check_reachable`
    tries its endpoint, so that a dead one is reported (exit 6, naming the option and the URL)
    in seconds. Local model specs are skipped.
    """
    for option, spec in options:
        if openai_base_url(spec) is not None:
            receiver = make_receiver(spec)
            check_reachable(receiver.base_url, field=option)
