"""The API receiver: a chat model behind any OpenAI-compatible API (OpenAI, vLLM, llama.cpp,
Ollama, or this package's own loopback server, :mod:`llm_bridge.server`).

Retries are the official ``openai`` client's own, ``openai.OpenAI(max_retries=..., timeout=...)``.
In openai 3.57 it retries timeouts, connection errors and HTTP 408, 409, 429 and 5xx, obeys
the server's ``x-should-retry``, waits what the server asks (``retry-after-ms``, then
``Retry-After`` in seconds or as a date) when that is more than 0 and at most 120 s, does not
retry when the server asks for longer, and otherwise backs off exponentially (0.5 s doubling
up to 8 s, minus up to 25 % jitter). An earlier hand-written loop around a client built with
``max_retries=0`` did the same with other constants; nothing it did was missing from the client.

What this module adds: requests in parallel threads (``concurrency``) with results in input
order, the disk cache, :class:`~llm_bridge.errors.ReceiverError` messages that name the model,
the endpoint, the number of attempts and the last error, and key hygiene: the API key is read
from an environment variable only and never logged, printed, put in a ``repr``, an error
message or a cache key.

``openai`` is imported when a client is built, not at module top: the import takes about a
second, and this package is also imported by the server and the commands for local models only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import urlparse

from ..errors import ConfigError, ReceiverError
from ..validate import check_int, check_positive
from .base import Completion, cut_at_stop, progress_bar, settings_key, validate_conversations
from .endpoints import DEFAULT_OPENAI_BASE_URL, is_loopback_url

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from ..cache import GenerationCache
    from ..generation import GenerationSettings

__all__ = ["OpenAIReceiver"]

_DUMMY_KEY = "EMPTY"  # what local OpenAI-compatible servers (vLLM, llama.cpp, ours) accept
_RETRY_COUNT = "x-stainless-retry-count"  # the openai client numbers each attempt's request
_SERVER_RETRY_HEADERS = ("retry-after-ms", "retry-after", "x-should-retry")
# Options of the former hand-written retry loop; the client's retries have no such settings.
_REMOVED = {
    "backoff_base": "the client's backoff starts at 0.5 s",
    "backoff_max": "the client's backoff is capped at 8 s, the server's Retry-After at 120 s",
    "seed": "the client's jitter is not seeded; it changes wait times only, never answers",
    "sleep": "the client sleeps between retries itself",
}


class _Secret:
    """Holds the API key; prints as ``'***'`` and refuses to be pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("the API key is not picklable (it lives in an environment variable)")


def _attempts(exc: BaseException) -> int | None:
    """How many requests the openai client made before raising ``exc`` (None: not known)."""
    try:
        return int(exc.request.headers[_RETRY_COUNT]) + 1  # type: ignore[attr-defined]
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _server_said(exc: BaseException) -> str:
    """The retry headers of the error response, as ``"retry-after: 3600"`` ('' when none)."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return ""
    return ", ".join(f"{h}: {headers[h]}" for h in _SERVER_RETRY_HEADERS if h in headers)


class OpenAIReceiver:
    """A chat model behind an OpenAI-compatible API as receiver.

    Parameters
    ----------
    model : str
        The model id the API knows (``"gpt-4o-mini"``, the served name of a vLLM model, ...).
    base_url : str, optional
        API root, e.g. ``"http://127.0.0.1:8000/v1"``. Default: the environment variable
        ``OPENAI_BASE_URL`` if set, else OpenAI's own API.
    api_key_env : str
        Name of the environment variable holding the key (read once, here). When it is unset
        and ``base_url`` is on this machine, a dummy key is used; for a remote API it is an
        error.
    timeout : float
        Seconds per attempt (the client's ``timeout``).
    max_retries : int
        Retries after the first attempt (the client's ``max_retries``; see the module docstring
        for what is retried and how long the client waits).
    concurrency : int
        Requests in flight at once (threads); results keep the input order.
    cache : GenerationCache, optional
        Answers keyed by model, base URL, messages and settings (never the key).
    client : object, optional
        A ready client with ``client.chat.completions.create(**kw)`` (tests inject fakes);
        then no key is required here, and retries and timeouts are that client's.

    Notes
    -----
    The options ``backoff_base``, ``backoff_max``, ``seed`` and ``sleep`` of the former
    hand-written retry loop are gone; passing one is a :class:`ConfigError` that says why.

    Raises
    ------
    ConfigError
        Invalid numbers, a removed option, or no key for a remote API.
    """

    def __init__(self, model: str, *, base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0,
                 max_retries: int = 5, concurrency: int = 4,
                 cache: "GenerationCache | None" = None, client: Any = None, **removed):
        for name in removed:
            if name not in _REMOVED:
                raise TypeError(f"OpenAIReceiver() got an unexpected keyword argument {name!r}")
            raise ConfigError(f"{name}: no longer an option: retries are the openai client's own "
                              f"({_REMOVED[name]}); set max_retries and timeout instead")
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"model: expected a non-empty model id, got {model!r}")
        if base_url is None:
            base_url = os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL
        if not isinstance(base_url, str) or urlparse(base_url).scheme not in ("http", "https") \
                or not urlparse(base_url).hostname:
            raise ConfigError(f"base_url: expected an http(s) URL such as "
                              f"'http://127.0.0.1:8000/v1', got {base_url!r}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.name = f"openai:{model}@{self.base_url}"
        self.api_key_env = api_key_env
        self.timeout = check_positive("timeout", timeout)
        self.max_retries = check_int("max_retries", max_retries, 0)
        self.concurrency = check_int("concurrency", concurrency, 1)
        self.cache = cache

        key = os.environ.get(api_key_env) or None
        if key is None:
            if client is None and not is_loopback_url(self.base_url):
                raise ConfigError(f"api_key_env: the environment variable {api_key_env} is not set; "
                                  f"it must hold the API key for {self.base_url}")
            key = _DUMMY_KEY
        self._key = _Secret(key)
        if client is None:
            import openai
            client = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=self.timeout,
                                   max_retries=self.max_retries)
        self._client = client

    def __repr__(self) -> str:
        return (f"OpenAIReceiver(model={self.model!r}, base_url={self.base_url!r}, "
                f"api_key_env={self.api_key_env!r}, max_retries={self.max_retries}, "
                f"concurrency={self.concurrency}, cache={'off' if self.cache is None else 'on'})")

    def __getstate__(self):
        raise TypeError("OpenAIReceiver is not picklable (it holds a client and an API key); "
                        "build one per process")

    # ---------------------------------------------------------------- request building
    def request_kwargs(self, messages: list[dict], settings: "GenerationSettings") -> dict:
        """The keyword arguments of ``chat.completions.create`` for one conversation."""
        kw: dict[str, Any] = {"model": self.model, "messages": messages,
                              "max_tokens": int(settings.max_new_tokens), "seed": int(settings.seed)}
        if settings.do_sample:
            kw["temperature"] = float(settings.temperature)
            kw["top_p"] = float(settings.top_p)
        else:
            kw["temperature"] = 0.0
        stop = [s for s in settings.stop if s]
        if stop:
            kw["stop"] = stop[:4]  # the API takes at most 4; the rest are cut here
        return kw

    def _cache_key(self, messages: list[dict], settings) -> str:
        prompt = json.dumps(messages, sort_keys=True, ensure_ascii=False)
        return self.cache.key(f"openai:{self.model}@{self.base_url}", prompt, settings_key(settings))

    def _scrub(self, text: str) -> str:
        key = self._key.get()
        if key and key != _DUMMY_KEY and len(key) >= 4:
            text = text.replace(key, "***")
        return text

    # ---------------------------------------------------------------- errors
    def _fail(self, exc: BaseException) -> ReceiverError:
        """The error users see for ``exc``: the endpoint, what went wrong, never the key."""
        import openai
        status = getattr(exc, "status_code", None)
        what = type(exc).__name__ + (f" (HTTP {status})" if status is not None else "")
        detail = self._scrub(str(getattr(exc, "message", None) or exc))[:500]
        where = f"model {self.model!r} at {self.base_url}"
        attempts = _attempts(exc)
        if isinstance(exc, openai.AuthenticationError):
            msg = (f"{where}: authentication failed ({what}); set the environment variable "
                   f"{self.api_key_env} to a valid API key. Server said: {detail}")
        elif isinstance(exc, openai.PermissionDeniedError):
            msg = f"{where}: permission denied ({what}); check the key in {self.api_key_env}. " \
                  f"Server said: {detail}"
        elif isinstance(exc, openai.NotFoundError):
            msg = f"{where}: not found ({what}); check the model id and base_url. Server said: {detail}"
        elif isinstance(exc, openai.BadRequestError):
            msg = f"{where}: the request was rejected ({what}). Server said: {detail}"
        elif attempts is None:  # not raised by the openai client's request loop
            msg = f"{where}: request failed ({what}): {detail}"
        else:
            max_retries = getattr(self._client, "max_retries", self.max_retries)
            tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
            if attempts > max_retries:
                msg = (f"{where}: gave up after {tries} (max_retries={max_retries}); "
                       f"last error {what}: {detail}")
            else:  # the client chose not to retry (the status, or the server's headers)
                said = _server_said(exc)
                msg = (f"{where}: request failed after {tries}, not retried "
                       f"({what}{'; the server sent ' + said if said else ''}): {detail}")
        return ReceiverError(msg)

    # ---------------------------------------------------------------- one request
    def _request(self, messages: list[dict], settings) -> Completion:
        kw = self.request_kwargs(messages, settings)
        t0 = time.perf_counter()
        try:
            response = self._client.chat.completions.create(**kw)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a ReceiverError
            err = self._fail(exc)
            if self._key.get() != _DUMMY_KEY and self._key.get() in str(exc):
                raise err from None  # the original message would show the key
            raise err from exc
        return self._completion(response, settings, time.perf_counter() - t0)

    def _completion(self, response, settings, seconds: float) -> Completion:
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise ReceiverError(f"model {self.model!r} at {self.base_url}: the response has no "
                                "choices")
        message = getattr(choices[0], "message", None)
        text = getattr(message, "content", None) or ""
        text = cut_at_stop(text, settings.stop)
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else 0
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0) if usage is not None else 0
        return Completion(text=text, prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens, seconds=seconds)

    # ---------------------------------------------------------------- batch
    def complete(self, conversations: Sequence[list[dict]], settings: "GenerationSettings",
                 *, progress: bool | str = False) -> list[Completion]:
        """Answer each conversation; up to ``concurrency`` requests in flight.

        Cached answers are returned without a request; new answers are written to the cache
        as soon as they arrive (an interrupted run keeps what it got).

        Returns
        -------
        list of Completion
            In input order.

        Raises
        ------
        ReceiverError
            When a request fails for good (an error the client does not retry, or its retries
            exhausted); it names the model, the base URL and the last error, never the key.
        """
        convs = validate_conversations(conversations)
        results: list[Completion | None] = [None] * len(convs)
        keys: list[str | None] = [None] * len(convs)
        todo = []
        for i, messages in enumerate(convs):
            if self.cache is not None:
                keys[i] = self._cache_key(messages, settings)
                hit = self.cache.get(keys[i])
                if hit is not None:
                    results[i] = Completion(text=hit["text"], prompt_tokens=int(hit["prompt_tokens"]),
                                            completion_tokens=int(hit["completion_tokens"]),
                                            seconds=0.0, cached=True)
                    continue
            todo.append(i)
        bar = progress_bar(len(todo), progress)
        bar_lock = threading.Lock()

        def work(i: int) -> Completion:
            c = self._request(convs[i], settings)
            if self.cache is not None:
                self.cache.put(keys[i], {"text": c.text, "prompt_tokens": c.prompt_tokens,
                                         "completion_tokens": c.completion_tokens})
            if bar is not None:
                with bar_lock:
                    bar.update(1)
            return c

        try:
            if len(todo) <= 1 or self.concurrency == 1:
                for i in todo:
                    results[i] = work(i)
            else:
                with ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo)),
                                        thread_name_prefix="openai-receiver") as pool:
                    futures = {i: pool.submit(work, i) for i in todo}
                    try:
                        for i in todo:
                            results[i] = futures[i].result()
                    except BaseException:
                        for f in futures.values():
                            f.cancel()
                        raise
        finally:
            if bar is not None:
                bar.close()
        return results  # type: ignore[return-value]
