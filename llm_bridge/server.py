"""An OpenAI-compatible chat server on loopback, serving a local model.

Any OpenAI client (the official ``openai`` package, :class:`~llm_bridge.receivers.OpenAIReceiver`,
``curl``) can then talk to a local transformers model::

    with serve(LocalReceiver("smollm2-135m")) as handle:
        r = OpenAIReceiver("smollm2-135m", base_url=handle.url)
        r.complete([[{"role": "user", "content": "What is the capital of France?"}]],
                   GenerationSettings(max_new_tokens=16))

Endpoints: ``GET /v1/models``, ``GET /v1/models/{id}``, ``POST /v1/chat/completions``
(``messages``, ``max_tokens`` or ``max_completion_tokens``, ``temperature``, ``top_p``,
``seed``, ``stop``, ``n`` = 1; no streaming), and ``GET /health``. Errors use OpenAI's body
``{"error": {"message", "type", "param", "code"}}``: 400 for invalid requests, 404 for
unknown paths, 405 for a wrong method, 413 for a body over the limit, 500 when generation fails.

Concurrent requests are **batched**: a request joins a queue, and one worker thread answers
everything queued (up to ``max_batch`` requests; those with equal decoding settings as one
batched call, so a CTranslate2 or torch model decodes them together), then the next queue.
One request alone waits no longer than it would unbatched. A batch whose call fails is
answered request by request, so an error reaches only the request that caused it. The
server binds to loopback only unless ``allow_remote=True``; it has no authentication, so it
must not face a network. The ``fail_first`` hook makes the first k chat requests fail (429
with ``Retry-After: 0``, or another status) to test client retries end to end.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from persuasion.checks import integer_problem
from persuasion.net import is_loopback_host

from .errors import ConfigError
from .generation import GenerationSettings
from .receivers import ROLES, LocalReceiver, Receiver

__all__ = ["serve", "ServerHandle", "check_host", "DEFAULT_MAX_TOKENS"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_TOKENS = 256


def check_host(host: Any, allow_remote: bool) -> None:
    """Refuse (ConfigError naming ``host``) an address that is not loopback unless ``allow_remote``;
    called by :func:`serve` and, before the slow model load, by ``persuasion bridge serve``."""
    if not isinstance(host, str) or not host:
        raise ConfigError(f"host: expected an interface address, got {host!r}")
    if not is_loopback_host(host) and not allow_remote:
        raise ConfigError(f"host: {host!r} is not a loopback address; the server has no "
                          "authentication, pass allow_remote=True (--allow-remote) to bind it anyway")


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400,
                 type_: str = "invalid_request_error"):
        super().__init__(message)
        self.message, self.param, self.status, self.type = message, param, status, type_


def _number(body: dict, name: str, default, lo: float, hi: float | None = None):
    v = body.get(name, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _BadRequest(f"{name}: expected a number, got {json.dumps(v)}", name)
    if v < lo or (hi is not None and v > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise _BadRequest(f"{name}: expected a number in {rng}, got {v}", name)
    return float(v)


def _integer(body: dict, name: str, default, lo: int | None = None):
    v = body.get(name, default)
    if v is None:
        return default
    problem = integer_problem(v, lo)
    if problem is not None:  # the value as the client wrote it (JSON: true, not True)
        wanted = problem.rsplit(", got ", 1)[0]
        raise _BadRequest(f"{name}: {wanted}, got {json.dumps(v)}", name)
    return v


def _messages(body: dict) -> list[dict]:
    if "messages" not in body:
        raise _BadRequest("messages: required (a list of {role, content})", "messages")
    msgs = body["messages"]
    if not isinstance(msgs, list) or not msgs:
        raise _BadRequest("messages: expected a non-empty list of {role, content}", "messages")
    out = []
    for i, m in enumerate(msgs):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise _BadRequest(f"{where}: expected an object with role and content", where)
        role = m.get("role")
        if role == "developer":  # OpenAI's newer name for the system role
            role = "system"
        if role not in ROLES:
            raise _BadRequest(f"{where}.role: expected one of {', '.join(ROLES)}, got "
                              f"{json.dumps(role)}", f"{where}.role")
        content = m.get("content")
        if isinstance(content, list):  # content parts: only text is understood
            parts = []
            for j, p in enumerate(content):
                if not (isinstance(p, dict) and p.get("type") == "text"
                        and isinstance(p.get("text"), str)):
                    raise _BadRequest(f"{where}.content[{j}]: only text parts "
                                      "({\"type\": \"text\", \"text\": ...}) are supported",
                                      f"{where}.content")
                parts.append(p["text"])
            content = "".join(parts)
        if content is None and role == "assistant":
            content = ""
        if not isinstance(content, str):
            raise _BadRequest(f"{where}.content: expected a string, got "
                              f"{type(content).__name__}", f"{where}.content")
        out.append({"role": role, "content": content})
    return out


def _settings_from(body: dict, default_max_tokens: int):
    max_tokens = body.get("max_completion_tokens")
    name = "max_completion_tokens"
    if max_tokens is None:
        name = "max_tokens"
    max_tokens = _integer(body, name, default_max_tokens, lo=1)
    temperature = _number(body, "temperature", 1.0, 0.0, 2.0)
    top_p = _number(body, "top_p", 1.0, 0.0, 1.0)
    if top_p == 0.0:
        raise _BadRequest("top_p: expected a number in (0, 1], got 0", "top_p")
    seed = _integer(body, "seed", 0)
    stop = body.get("stop")
    if stop is None:
        stop = ()
    elif isinstance(stop, str):
        stop = (stop,)
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        stop = tuple(stop)
    else:
        raise _BadRequest("stop: expected a string or a list of strings", "stop")
    n = _integer(body, "n", 1)
    if n != 1:
        raise _BadRequest(f"n: only n=1 is supported, got {n}", "n")
    if body.get("stream"):
        raise _BadRequest("stream: streaming is not supported; send stream=false", "stream")
    stop = tuple(s for s in stop if s)
    do_sample = temperature > 0.0
    try:
        return GenerationSettings(max_new_tokens=max_tokens, do_sample=do_sample,
                                  temperature=temperature if do_sample else 1.0, top_p=top_p,
                                  seed=seed, stop=stop, batch_size=1)
    except ConfigError as e:
        raise _BadRequest(str(e), str(e).split(":", 1)[0]) from None


@dataclass(eq=False)
class _Job:
    messages: list
    settings: GenerationSettings
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class _Batcher:
    """One worker thread that answers queued requests in batches (module docstring)."""

    def __init__(self, receiver: Receiver, max_batch: int):
        self.receiver = receiver
        self.max_batch = max_batch
        self.queue: queue.Queue = queue.Queue()
        self.batches: list[int] = []  # the size of each batched call (tests, statistics)
        self.thread = threading.Thread(target=self._loop, name="llm-bridge-batcher", daemon=True)
        self.thread.start()

    def submit(self, messages: list, settings: GenerationSettings):
        job = _Job(messages, settings)
        self.queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            jobs, stop = [first], False
            while len(jobs) < self.max_batch:
                try:
                    job = self.queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
            groups: dict = {}
            for job in jobs:  # equal settings decode together (batch_size is not a setting)
                groups.setdefault(replace(job.settings, batch_size=1), []).append(job)
            for settings, group in groups.items():
                self._answer(group, settings)
            if stop:
                return

    def _answer(self, group: list, settings: GenerationSettings) -> None:
        try:
            out = self.receiver.complete([j.messages for j in group],
                                         replace(settings, batch_size=len(group)))
            self.batches.append(len(group))
            for job, c in zip(group, out):
                job.result = c
        except Exception as e:  # noqa: BLE001 - handed to the request(s) that caused it
            if len(group) > 1:  # find whose request fails: answer them one by one
                for job in group:
                    self._answer([job], settings)
                return
            group[0].error = e
        for job in group:
            job.done.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, receiver: Receiver, model_name: str, fail_first: int,
                 fail_status: int, default_max_tokens: int, max_batch: int = 32):
        self.receiver = receiver
        self.model_name = model_name
        self.created = int(time.time())
        self.count_lock = threading.Lock()
        self.fail_left = fail_first
        self.fail_status = fail_status
        self.default_max_tokens = default_max_tokens
        self.chat_requests = 0
        super().__init__(address, _Handler)
        self.batcher = _Batcher(receiver, max_batch)  # after the bind: none for a port in use


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "persuasion-llm-bridge"
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)

    # ---------------------------------------------------------------- replies
    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str, type_: str = "invalid_request_error",
               param: str | None = None, code: str | None = None,
               headers: dict | None = None) -> None:
        self._send(status, {"error": {"message": message, "type": type_, "param": param,
                                      "code": code}}, headers)

    def _path(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    # ---------------------------------------------------------------- routes
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = self._path()
        if path == "/v1/models":
            self._send(200, {"object": "list", "data": [self._model_card()]})
        elif path == f"/v1/models/{self.server.model_name}":
            self._send(200, self._model_card())
        elif path.startswith("/v1/models/"):
            self._error(404, f"model {path[len('/v1/models/'):]!r} not found; this server serves "
                             f"{self.server.model_name!r}", code="model_not_found")
        elif path == "/health":
            self._send(200, {"status": "ok", "model": self.server.model_name})
        elif path == "/v1/chat/completions":
            self._error(405, "use POST for /v1/chat/completions", code="method_not_allowed")
        else:
            self._error(404, f"unknown path {path!r}; endpoints: GET /v1/models, "
                             "POST /v1/chat/completions", code="not_found")

    def do_POST(self) -> None:  # noqa: N802
        path = self._path()
        if path != "/v1/chat/completions":
            if path in ("/v1/models", "/health") or path.startswith("/v1/models/"):
                self._error(405, f"use GET for {path}", code="method_not_allowed")
            else:
                self._error(404, f"unknown path {path!r}; endpoints: GET /v1/models, "
                                 "POST /v1/chat/completions", code="not_found")
            return
        try:
            body = self._read_json()
            messages = _messages(body)
            settings = _settings_from(body, self.server.default_max_tokens)
        except _BadRequest as e:
            self._error(e.status, e.message, e.type, e.param)
            return
        with self.server.count_lock:
            self.server.chat_requests += 1
            fail = self.server.fail_left > 0
            if fail:
                self.server.fail_left -= 1
        if fail:
            status = self.server.fail_status
            if status == 429:
                self._error(429, "rate limited (test hook fail_first)", "rate_limit_error",
                            code="rate_limit_exceeded", headers={"Retry-After": "0"})
            else:
                self._error(status, f"injected failure (test hook fail_first, HTTP {status})",
                            "server_error")
            return
        t0 = time.perf_counter()
        try:
            c = self.server.batcher.submit(messages, settings)
        except ConfigError as e:
            self._error(400, str(e), param="messages")
            return
        except Exception as e:  # noqa: BLE001 - reported to the client as a 500
            log.exception("generation failed")
            self._error(500, f"generation failed: {type(e).__name__}: {e}", "server_error")
            return
        finish = "length" if c.completion_tokens >= settings.max_new_tokens else "stop"
        self._send(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.server.model_name,
            "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": c.text},
                         "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
                      "total_tokens": c.prompt_tokens + c.completion_tokens},
        }, {"X-Generation-Seconds": f"{time.perf_counter() - t0:.3f}"})

    def _model_card(self) -> dict:
        return {"id": self.server.model_name, "object": "model", "created": self.server.created,
                "owned_by": "persuasion"}

    def _read_json(self) -> dict:
        length = self.headers.get("Content-Length")
        if length is None:
            raise _BadRequest("the request has no Content-Length header", status=411)
        try:
            n = int(length)
        except ValueError:
            raise _BadRequest(f"Content-Length: not an integer: {length!r}") from None
        if n < 0:
            raise _BadRequest(f"Content-Length: negative: {n}")
        if n > MAX_BODY_BYTES:
            raise _BadRequest(f"the request body has {n} bytes; the limit is {MAX_BODY_BYTES}",
                              status=413)
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _BadRequest(f"the request body is not valid JSON: {e}") from None
        if not isinstance(body, dict):
            raise _BadRequest(f"the request body must be a JSON object, got {type(body).__name__}")
        return body


@dataclass
class ServerHandle:
    """A running server. ``url`` is the API root for clients (``http://127.0.0.1:PORT/v1``).

    Close it with :meth:`close` or use it as a context manager.
    """

    host: str
    port: int
    model_name: str
    _server: _Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def chat_requests(self) -> int:
        """Chat requests received so far (injected failures included)."""
        return self._server.chat_requests

    @property
    def batch_sizes(self) -> list[int]:
        """The number of requests in each batched generation call so far."""
        return list(self._server.batcher.batches)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Stop serving and free the port (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()
        if self._server.batcher.thread.is_alive():
            self._server.batcher.close()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C in the command line)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve(lm_or_receiver: Any, *, host: str = "127.0.0.1", port: int = 0,
          model_name: str | None = None, allow_remote: bool = False, fail_first: int = 0,
          fail_status: int = 429, default_max_tokens: int = DEFAULT_MAX_TOKENS,
          max_batch: int = 32) -> ServerHandle:
    """Serve a local model (or any receiver) as an OpenAI-compatible chat API in a thread.

    Parameters
    ----------
    lm_or_receiver : LoadedModel, Receiver or str
        What answers: a loaded model or a model name (wrapped in a
        :class:`~llm_bridge.receivers.LocalReceiver`), or any object with ``complete``.
    host : str
        Interface to bind; loopback only (``127.0.0.1``, ``::1``, ``localhost``) unless
        ``allow_remote``.
    port : int
        0 picks a free port (see ``handle.port``).
    model_name : str, optional
        The id reported by ``/v1/models`` and in responses (default: the receiver's name).
        Requests may name any model; this one answers.
    allow_remote : bool
        Allow binding a non-loopback interface. The server has no authentication.
    fail_first : int
        Test hook: the first ``fail_first`` chat requests fail with ``fail_status``.
    fail_status : int
        429 (sent with ``Retry-After: 0``) or any 4xx/5xx status for the hook.
    default_max_tokens : int
        Tokens generated when a request gives no ``max_tokens``.
    max_batch : int
        Most concurrent requests answered by one batched call.

    Returns
    -------
    ServerHandle

    Raises
    ------
    ConfigError
        Non-loopback host without ``allow_remote``, invalid numbers, or a port in use.
    """
    check_host(host, allow_remote)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port: expected an integer in [0, 65535], got {port!r}")
    if isinstance(fail_first, bool) or not isinstance(fail_first, int) or fail_first < 0:
        raise ConfigError(f"fail_first: expected an integer >= 0, got {fail_first!r}")
    if isinstance(fail_status, bool) or not isinstance(fail_status, int) \
            or not 400 <= fail_status <= 599:
        raise ConfigError(f"fail_status: expected an HTTP error status (400-599), got {fail_status!r}")
    if isinstance(default_max_tokens, bool) or not isinstance(default_max_tokens, int) \
            or default_max_tokens < 1:
        raise ConfigError(f"default_max_tokens: expected an integer >= 1, got {default_max_tokens!r}")
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
        raise ConfigError(f"max_batch: expected an integer >= 1, got {max_batch!r}")
    if isinstance(lm_or_receiver, str) or (hasattr(lm_or_receiver, "model")
                                           and hasattr(lm_or_receiver, "tokenizer")):
        receiver = LocalReceiver(lm_or_receiver)
    elif callable(getattr(lm_or_receiver, "complete", None)):
        receiver = lm_or_receiver
    else:
        raise ConfigError("lm_or_receiver: expected a LoadedModel, a model name or a receiver, "
                          f"got {type(lm_or_receiver).__name__}")
    name = model_name or getattr(receiver, "name", None) or "local-model"
    bind = "127.0.0.1" if host == "localhost" else host
    try:
        server = _ServerFor(bind)((bind, port), receiver, name, fail_first, fail_status,
                                  default_max_tokens, max_batch)
    except OSError as e:
        raise ConfigError(f"port: cannot bind {host}:{port}: {e.strerror or e}") from None
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"llm-bridge-server-{server.server_address[1]}", daemon=True)
    thread.start()
    return ServerHandle(host=bind, port=server.server_address[1], model_name=name,
                        _server=server, _thread=thread)


def _ServerFor(host: str) -> type:  # noqa: N802 - returns a class
    """The server class for an IPv4 or IPv6 address (no shared mutable class state)."""
    if ":" in host:
        return type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
    return _Server
