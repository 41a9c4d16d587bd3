"""Receivers: the LLMs that read a hint and answer a problem.

A receiver turns OpenAI-style conversations (``[{"role": ..., "content": ...}, ...]``)
into completions. Two kinds share one interface (:class:`Receiver`):

* :class:`LocalReceiver` wraps a local transformers model (:func:`llm_bridge.models.load_causal_lm`):
  the chat template, batched generation and the disk cache of :mod:`llm_bridge.generation`.
* :class:`OpenAIReceiver` talks to any OpenAI-compatible chat API (OpenAI, vLLM, llama.cpp,
  Ollama, or this package's own loopback server, :mod:`llm_bridge.server`) with the official
  ``openai`` client and its own retry loop (exponential backoff with full jitter drawn from a
  seeded generator, ``Retry-After`` honoured, bounded).

The API key is read from an environment variable only. It is never logged, printed, put in a
``repr``, an error message or a cache key.

:func:`make_receiver` builds either from a short spec: ``"smollm2-135m"`` (local),
``"openai:gpt-4o-mini"`` or ``"openai:MODEL@http://127.0.0.1:8000/v1"``.
:func:`check_reachable` (one TCP connection, a few seconds at most) tells a command that the
API is not there before it loads any model, instead of after the client's retries.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import math
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence, runtime_checkable
from urllib.parse import urlparse, urlunparse

import numpy as np

from .errors import ConfigError, ReceiverError

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only (torch stays lazy)
    from .cache import GenerationCache
    from .generation import GenerationSettings
    from .models import LoadedModel

__all__ = ["Completion", "Receiver", "LocalReceiver", "OpenAIReceiver", "make_receiver",
           "validate_conversation", "is_loopback_url", "openai_base_url", "check_reachable",
           "check_receiver_specs",
           "DEFAULT_OPENAI_BASE_URL"]

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
ROLES = ("system", "user", "assistant")
_DUMMY_KEY = "EMPTY"  # what local OpenAI-compatible servers (vLLM, llama.cpp, ours) accept
_RETRY_STATUS = frozenset({408, 409, 429})  # and every 5xx


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
        Wall time spent on this answer (0.0 when it came from the cache).
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


# ----------------------------------------------------------------------------- helpers
def validate_conversation(messages: Any, where: str = "conversation") -> list[dict]:
    """Check one OpenAI-style conversation and return it as a list of ``{role, content}``.

    Raises
    ------
    ConfigError
        Naming the message and the field that is wrong (``where`` prefixes the name).
    """
    if not isinstance(messages, (list, tuple)):
        raise ConfigError(f"{where}: expected a list of messages, got {type(messages).__name__}")
    if not messages:
        raise ConfigError(f"{where}: the conversation has no messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise ConfigError(f"{where}[{i}]: expected a dict with 'role' and 'content', "
                              f"got {type(m).__name__}")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise ConfigError(f"{where}[{i}].role: expected one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise ConfigError(f"{where}[{i}].content: expected a string, "
                              f"got {type(content).__name__}")
        out.append({"role": role, "content": content})
    return out


def _validate_all(conversations: Sequence[list[dict]]) -> list[list[dict]]:
    if isinstance(conversations, (str, bytes)) or not isinstance(conversations, Sequence):
        raise ConfigError("conversations: expected a sequence of conversations (lists of messages)")
    return [validate_conversation(c, f"conversations[{i}]") for i, c in enumerate(conversations)]


def is_loopback_url(url: str | None) -> bool:
    """Whether ``url`` points at this machine (``localhost``, 127.0.0.0/8 or ``::1``)."""
    if not url:
        return False
    host = urlparse(url).hostname
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _public_url(url: str) -> str:
    """``url`` without its user-info part (``https://user:secret@host/v1`` -> ``https://host/v1``)."""
    parts = urlparse(url)
    if "@" not in parts.netloc:
        return url
    return urlunparse(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def check_reachable(base_url: str, *, field: str = "receiver", timeout: float = 5.0) -> None:
    """Check that something listens at the host and port of ``base_url``: one TCP connection.

    It is what a command does before it loads any model when a Receiver is an API, so that a
    wrong or dead endpoint is reported in seconds rather than after the client's retries
    (minutes). No HTTP request is sent and no key is used. When a proxy from the environment
    (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, minus ``NO_PROXY``) applies to the URL, the
    client goes through it and nothing is checked here.

    Parameters
    ----------
    base_url : str
        API root, e.g. ``"http://127.0.0.1:8000/v1"`` (port default: 80 for http, 443 for https).
    field : str
        The option or field that named the endpoint (``"--receiver"``), for the message.
    timeout : float
        Seconds to wait for the connection.

    Raises
    ------
    ConfigError
        ``base_url`` is not an http(s) URL with a host and a valid port.
    ReceiverError
        Nothing answered: the message names ``field`` and the URL (without any user-info part)
        and the reason (connection refused, unknown host, timed out), in one line.
    """
    import urllib.request

    parts = urlparse(base_url) if isinstance(base_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{field}: expected an http(s) URL such as 'http://127.0.0.1:8000/v1', "
                          f"got {base_url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ConfigError(f"{field}: the URL {_public_url(base_url)!r} has an invalid port") from None
    proxies = urllib.request.getproxies()
    if (proxies.get(parts.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(parts.hostname):
        return
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except socket.timeout:
        reason = f"no answer within {timeout:g} s"
    except socket.gaierror as exc:
        reason = f"unknown host {parts.hostname!r}: {str(exc.strerror or exc).lower()}"
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
    else:
        return
    raise ReceiverError(f"{field}: cannot reach the API at {_public_url(base_url)} ({reason}); "
                        "is the server running and the URL right?")


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


def _split_openai_spec(spec: str, base_url: str | None = None) -> tuple[str, str | None]:
    """``(model, base_url)`` of ``"openai:MODEL[@URL]"``; ``base_url`` when the spec has no URL."""
    rest = spec[len("openai:"):]
    model = rest
    at = rest.rfind("@")
    if at >= 0 and rest[at + 1:].startswith(("http://", "https://")):
        model, base_url = rest[:at], rest[at + 1:]
    if not model:
        raise ConfigError(f"receiver: no model id in {spec!r} (expected 'openai:MODEL[@URL]')")
    return model, base_url


def openai_base_url(spec: str) -> str | None:
    """The API root that :func:`make_receiver` would talk to for ``spec``; None for a local model.

    Examples
    --------
    >>> openai_base_url("openai:m@http://127.0.0.1:9/v1")
    'http://127.0.0.1:9/v1'
    >>> openai_base_url("smollm2-135m") is None
    True
    """
    if not isinstance(spec, str) or not spec.strip().startswith("openai:"):
        return None
    _, base_url = _split_openai_spec(spec.strip())
    return base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL


def _progress_bar(total: int, progress: bool | str):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=progress if isinstance(progress, str) else None, leave=False)


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    cut = len(text)
    for s in stop:
        if s:
            j = text.find(s)
            if j >= 0:
                cut = min(cut, j)
    return text[:cut]


def _settings_key(settings) -> dict:
    key = settings.cache_key() if hasattr(settings, "cache_key") else None
    if key is None:  # duck-typed settings: everything but the batch size
        key = {k: getattr(settings, k) for k in
               ("max_new_tokens", "do_sample", "temperature", "top_p", "seed", "stop")}
        key["stop"] = list(key["stop"])
    return key


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


# ----------------------------------------------------------------------------- local
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

    def __init__(self, lm: "LoadedModel | str", *, cache: "GenerationCache | None" = None,
                 device: str = "cpu"):
        if isinstance(lm, str):
            from .models import load_causal_lm
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
        from .generation import chat_prompt
        return [chat_prompt(self.lm, c) for c in _validate_all(conversations)]

    def complete(self, conversations: Sequence[list[dict]], settings: "GenerationSettings",
                 *, progress: bool | str = False) -> list[Completion]:
        """Answer each conversation with one batched :func:`~llm_bridge.generation.generate`.

        Returns
        -------
        list of Completion
            In input order.
        """
        from .generation import generate
        prompts = self.prompts(conversations)
        if not prompts:
            return []
        gens = generate(self.lm, prompts, settings, cache=self.cache, progress=progress)
        return [Completion(text=g.text, prompt_tokens=int(g.prompt_tokens),
                           completion_tokens=int(g.new_tokens), seconds=float(g.seconds),
                           cached=bool(g.cached)) for g in gens]


# ----------------------------------------------------------------------------- OpenAI
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
        Seconds per request.
    max_retries : int
        Retries after the first attempt on timeouts, connection errors, 408/409/429 and 5xx.
    backoff_base, backoff_max : float
        Retry ``k`` (0-based) waits a uniform draw from ``[0, min(backoff_max,
        backoff_base * 2**k)]`` (full jitter), or the server's ``Retry-After`` capped at
        ``backoff_max``.
    concurrency : int
        Requests in flight at once (threads); results keep the input order.
    cache : GenerationCache, optional
        Answers keyed by model, base URL, messages and settings (never the key).
    seed : int
        Seed of the jitter draws (conversation ``i`` of a call uses ``default_rng([seed, i])``).
    client : object, optional
        A ready client with ``client.chat.completions.create(**kw)`` (tests inject fakes);
        then no key is required here.
    sleep : callable, optional
        ``sleep(seconds)`` used between retries (default :func:`time.sleep`).

    Raises
    ------
    ConfigError
        Invalid numbers, or no key for a remote API.
    """

    def __init__(self, model: str, *, base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0,
                 max_retries: int = 5, backoff_base: float = 0.5, backoff_max: float = 30.0,
                 concurrency: int = 4, cache: "GenerationCache | None" = None, seed: int = 0,
                 client: Any = None, sleep: Callable[[float], None] | None = None):
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"model: expected a non-empty model id, got {model!r}")
        if base_url is None:
            base_url = os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL
        if not isinstance(base_url, str) or urlparse(base_url).scheme not in ("http", "https") \
                or not urlparse(base_url).hostname:
            raise ConfigError(f"base_url: expected an http(s) URL such as "
                              f"'http://127.0.0.1:8000/v1', got {base_url!r}")
        for field, value, lo in (("timeout", timeout, 0.0), ("backoff_base", backoff_base, 0.0),
                                 ("backoff_max", backoff_max, 0.0)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not math.isfinite(value) or value < lo or (field == "timeout" and value == 0):
                raise ConfigError(f"{field}: expected a finite number "
                                  f"{'> 0' if field == 'timeout' else '>= 0'}, got {value!r}")
        for field, value, lo in (("max_retries", max_retries, 0), ("concurrency", concurrency, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < lo:
                raise ConfigError(f"{field}: expected an integer >= {lo}, got {value!r}")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ConfigError(f"seed: expected an integer, got {seed!r}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.name = f"openai:{model}@{self.base_url}"
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.concurrency = concurrency
        self.cache = cache
        self.seed = int(seed)
        self._sleep = sleep if sleep is not None else time.sleep

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
                                   max_retries=0)
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
        return self.cache.key(f"openai:{self.model}@{self.base_url}", prompt, _settings_key(settings))

    def _scrub(self, text: str) -> str:
        key = self._key.get()
        if key and key != _DUMMY_KEY and len(key) >= 4:
            text = text.replace(key, "***")
        return text

    # ---------------------------------------------------------------- retry policy
    @staticmethod
    def _retryable(exc: BaseException) -> bool:
        import openai
        if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError,
                            openai.RateLimitError, openai.InternalServerError)):
            return True
        if isinstance(exc, openai.APIStatusError):
            return exc.status_code in _RETRY_STATUS or exc.status_code >= 500
        return False

    def _retry_after(self, exc: BaseException) -> float | None:
        """Seconds the server asked us to wait (``retry-after-ms`` or ``retry-after``), if any."""
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        if headers is None:
            return None
        for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
            raw = headers.get(name)
            if raw is None:
                continue
            try:
                value = float(raw) * scale
            except (TypeError, ValueError):
                if name != "retry-after":
                    continue
                try:
                    when = email.utils.parsedate_to_datetime(raw)
                except (TypeError, ValueError):
                    continue
                if when.tzinfo is None:
                    when = when.replace(tzinfo=timezone.utc)
                value = (when - datetime.now(timezone.utc)).total_seconds()
            if math.isfinite(value):
                return max(0.0, value)
        return None

    def backoff(self, attempt: int, rng: np.random.Generator, exc: BaseException | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): Retry-After or full jitter, capped."""
        server = self._retry_after(exc) if exc is not None else None
        if server is not None:
            return min(server, self.backoff_max)
        ceiling = min(self.backoff_max, self.backoff_base * (2.0 ** attempt))
        return float(rng.uniform(0.0, ceiling)) if ceiling > 0 else 0.0

    def _fail(self, exc: BaseException, attempts: int) -> ReceiverError:
        import openai
        status = getattr(exc, "status_code", None)
        what = type(exc).__name__ + (f" (HTTP {status})" if status is not None else "")
        detail = self._scrub(str(getattr(exc, "message", None) or exc))[:500]
        where = f"model {self.model!r} at {self.base_url}"
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
        elif self._retryable(exc):
            msg = (f"{where}: gave up after {attempts} attempt{'s' if attempts != 1 else ''} "
                   f"(max_retries={self.max_retries}); last error {what}: {detail}")
        else:
            msg = f"{where}: request failed ({what}): {detail}"
        return ReceiverError(msg)

    # ---------------------------------------------------------------- one request
    def _request(self, messages: list[dict], settings, rng: np.random.Generator) -> Completion:
        kw = self.request_kwargs(messages, settings)
        attempts = 0
        while True:
            attempts += 1
            t0 = time.perf_counter()
            try:
                response = self._client.chat.completions.create(**kw)
            except Exception as exc:  # noqa: BLE001 - classified just below
                if self._retryable(exc) and attempts <= self.max_retries:
                    self._sleep(self.backoff(attempts - 1, rng, exc))
                    continue
                err = self._fail(exc, attempts)
                if self._key.get() in str(exc) and self._key.get() != _DUMMY_KEY:
                    raise err from None  # the original message would show the key
                raise err from exc
            seconds = time.perf_counter() - t0
            return self._completion(response, settings, seconds)

    def _completion(self, response, settings, seconds: float) -> Completion:
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise ReceiverError(f"model {self.model!r} at {self.base_url}: the response has no "
                                "choices")
        message = getattr(choices[0], "message", None)
        text = getattr(message, "content", None) or ""
        text = _cut_at_stop(text, settings.stop)
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
            When a request fails for good (non-retryable error, or retries exhausted); it
            names the model, the base URL and the last error, never the key.
        """
        convs = _validate_all(conversations)
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
        bar = _progress_bar(len(todo), progress)
        bar_lock = threading.Lock()

        def work(i: int) -> Completion:
            rng = np.random.default_rng([self.seed, i])
            c = self._request(convs[i], settings, rng)
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


# ----------------------------------------------------------------------------- factory
def make_receiver(spec: str, *, cache: "GenerationCache | None" = None, device: str = "cpu",
                  **kw) -> Receiver:
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
        model, base_url = _split_openai_spec(spec, kw.pop("base_url", None))
        return OpenAIReceiver(model, base_url=base_url, cache=cache, **kw)
    from .models import load_causal_lm
    return LocalReceiver(load_causal_lm(spec, device=device, **kw), cache=cache)
